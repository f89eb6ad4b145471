. "$RXLIB/dut.sh"
std_addrs4
# GRO stays at the veth default (off): every segment goes up the stack on its own
