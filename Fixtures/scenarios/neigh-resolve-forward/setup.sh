. "$RXLIB/dut.sh"
std_router
