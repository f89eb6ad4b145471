#!/usr/bin/env bash
# kernel-ref.sh HOSTDIR PCAP [REPS] - what the REAL Linux receive path costs, in CPU time per
# frame, on the frames of PCAP for the host snapshot HOSTDIR (a directory as written by
# rxray-benchgen --iptables-host: ip-*.json, sysctl.txt, iptables-save.txt, sockets.txt; or an
# nftables host: nft-ruleset.txt, in `nft list ruleset` format, instead of iptables-save.txt).
# It is the reference for rxray's own cost per frame (Benchmarks/run.sh, "kernel reference").
#
# Every run builds two fresh network namespaces: a DUT (device under test) configured like the
# snapshot, and an injector holding the other ends of two veth pairs (DUT eth0/eth1 <-> p0/p1).
# The DUT gets the snapshot's MACs, addresses, routes, rules, permanent neighbours and net.*
# sysctls (a few cannot be set in a non-initial namespace; they are skipped), holder.py serves
# its listening sockets, and, depending on the mode, its netfilter rules:
#   A  full config with the rules: iptables-restore of iptables-save.txt (and
#      ip6tables-save.txt if present); on a host with nft-ruleset.txt and no iptables-save.txt,
#      `nft -f nft-ruleset.txt` inside the DUT instead
#   B  as A, plus a tc clsact ingress filter (cBPF "drop") on DUT eth0/eth1: frames are dropped
#      right after the generic receive core (veth xmit, netif_rx, backlog, taps), before
#      ip_rcv. A-B is the receive path proper: IP, routing, netfilter, conntrack, NAT, TCP/UDP,
#      local delivery, forwarding and the transmits that follow.
#   C  as A without any netfilter rules (no hooks registered in the namespace, no conntrack;
#      neither iptables nor nft rules are loaded); A-C is what the rule set and conntrack add.
#   D  (only if asked for in KREF_MODES) as A with GRO enabled on DUT eth0/eth1, which puts
#      veth in NAPI mode.
# The injector (inject.c, built here with cc -O2) preloads the capture and sends every frame
# into p1 (frames to eth1's MAC: return traffic) or p0 (all others); whatever the DUT sends
# back or forwards reaches p0/p1 and is dropped by a cBPF filter on their tc ingress. Nothing
# leaves the two namespaces: they have no other interfaces. With veth in its default (non-NAPI)
# mode the DUT's receive softirq runs in the sender's context, so the measured CPU time is the
# sender thread's runtime (schedstat) plus the runtime of ksoftirqd on the sender's CPU, over
# the send loop only.
#
# Reactive replay (KREF_REACTIVE=1, the default): the capture has only the client side of the
# TCP sessions to the DUT's sockets, and the DUT picks its own sequence numbers; the injector
# therefore reads each SYN-ACK the DUT sends and rewrites the acknowledgment numbers (and
# TSecr) of that flow's later segments, so that the sessions are accepted instead of being
# marked INVALID and reset. Its user-space bookkeeping (~0.5 us/frame) is in B and C too.
#
# Output on stdout (lines starting with # are information):
#   <MODE> <cpu_seconds> <frames>      one line per run, e.g. "A 1.052317 100000"
#   us <MODE> <median us/frame> <runs> after all runs, one line per mode
#   us A-B <us/frame>, us C-B <us/frame>  differences of the medians (when the modes ran)
# Exit status: 0 if every run worked; 1 on a setup or injector failure; 2 on a usage error.
#
# Environment:
#   KREF_BUILD=DIR      where inject is built (default: a temporary directory, removed at exit)
#   KREF_CPU=0          the CPU the injector (and so the DUT's softirq) runs on
#   KREF_HOLD_CPU=      the CPU of the socket holder (default: another CPU than KREF_CPU)
#   KREF_MODES="A B C"  modes, in this order within each repetition (runs are interleaved)
#   KREF_REACTIVE=1     0: replay the capture as it is (more INVALID segments and RSTs)
#   KREF_LOG=FILE       append setup logs (sysctls that failed, ip commands) to FILE
#   KREF_COUNTERS=DIR   after the first mode-A run (its send loop done, before the namespaces
#                       go), save the DUT's counters into DIR: nstat.txt (`nstat -asz`: absolute,
#                       zeros included, nstat's history file untouched) and the rules with
#                       their counters: iptables-save-c.txt (`iptables-save -c`) and, if
#                       ip6tables rules were loaded, ip6tables-save-c.txt; on an nftables host
#                       instead nft-ruleset-after.txt (`nft list ruleset`: counters only where
#                       the ruleset has `counter` statements). agree.py compares them with
#                       rxray's own counters.
#                       A failure to save is a warning on stderr, not a failed run.
#
# Needs root, ip netns, tc with bpf, iptables-restore (nft for an nftables host), python3, cc and
# libpcap headers.
# Caveats: no GRO (veth without NAPI: every segment goes up the stack alone, where a NIC would
# merge them), checksums verified in software (AF_PACKET skbs are CHECKSUM_NONE), frames sent
# back to back rather than at capture pace (timers, rate limits and TCP windows see a compressed
# timeline), LOG targets are inert in a non-initial namespace.
set -u

usage() { echo "usage: $0 HOSTDIR PCAP [REPS]" >&2; exit 2; }
[ $# -ge 2 ] || usage
HOST=$(cd "$1" 2>/dev/null && pwd) || usage
PCAP=$2
REPS=${3:-1}
[ -r "$PCAP" ] || { echo "kernel-ref: cannot read $PCAP" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SEND_CPU=${KREF_CPU:-0}
if [ -n "${KREF_HOLD_CPU:-}" ]; then HOLD_CPU=$KREF_HOLD_CPU
elif [ "$(nproc)" -gt 1 ]; then HOLD_CPU=$([ "$SEND_CPU" = 0 ] && echo 1 || echo 0)
else HOLD_CPU=$SEND_CPU; fi
MODES=${KREF_MODES:-A B C}
REACTIVE=${KREF_REACTIVE:-1}
LOG=${KREF_LOG:-/dev/null}
COUNTERS=${KREF_COUNTERS:-}
COUNTERS_SAVED=""   # set once the first mode-A run's counters are in COUNTERS

DUT=rxk-dut-$$
INJ=rxk-inj-$$
HPID=""          # the socket holder of the current run
OWN_BUILD=""
BUILD=${KREF_BUILD:-}

teardown() {     # end the current run: its holder (by PID), then its namespaces
  if [ -n "$HPID" ]; then
    kill "$HPID" 2>/dev/null
    wait "$HPID" 2>/dev/null
    HPID=""
    exec 9<&-
  fi
  ip netns del "$DUT" 2>/dev/null
  ip netns del "$INJ" 2>/dev/null
  return 0
}
cleanup() {
  trap - EXIT INT TERM
  teardown
  [ -n "$OWN_BUILD" ] && rm -rf "$OWN_BUILD"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
die() { echo "kernel-ref: $*" >&2; exit 1; }
D() { ip netns exec "$DUT" "$@"; }
I() { ip netns exec "$INJ" "$@"; }

[ "$(id -u)" = 0 ] || die "needs root"
# The rules: iptables-save.txt if the host has one (as always), else nft-ruleset.txt.
if [ -e "$HOST/iptables-save.txt" ]; then RULES=iptables
elif [ -e "$HOST/nft-ruleset.txt" ]; then RULES=nft
else die "$HOST has no iptables-save.txt nor nft-ruleset.txt"; fi
for t in ip tc "$([ $RULES = nft ] && echo nft || echo iptables-restore)" python3 cc taskset; do
  command -v "$t" >/dev/null || die "missing $t"
done
for f in ip-link.json ip-neigh.json sysctl.txt sockets.txt; do
  [ -e "$HOST/$f" ] || die "$HOST has no $f"
done

# ---- the injector --------------------------------------------------------------------------
if [ -z "$BUILD" ]; then OWN_BUILD=$(mktemp -d); BUILD=$OWN_BUILD; fi
mkdir -p "$BUILD" || die "cannot create $BUILD"
cc -O2 -Wall -o "$BUILD/inject" "$HERE/inject.c" -lpcap || die "building inject failed"
INJECT=$BUILD/inject

# ---- what every run needs --------------------------------------------------------------------
# The real interpreter, not a wrapper (pyenv shims fork): the holder's PID must be python's own.
PY=$(python3 -c 'import sys; print(sys.executable)')
read -r M0 M1 P0 P1 < <("$PY" "$HERE/genconf.py" "$HOST" macs) || die "no MACs for eth0/eth1 in $HOST"
[ -n "${P1:-}" ] || die "no MACs for eth0/eth1 and their neighbours in $HOST"
"$PY" "$HERE/genconf.py" "$HOST" >"$BUILD/ip-cmds.txt" || die "genconf failed"
KSOFT=$(ps -eo pid=,comm= | awk -v c="ksoftirqd/$SEND_CPU" '$2 == c {print $1}')
[ -n "$KSOFT" ] || die "no ksoftirqd/$SEND_CPU"
SINK='1,6 0 0 2,'   # cBPF "ret #2" = TC_ACT_SHOT: drop every frame (tc bpf direct-action)

# The snapshot's sysctls must only ever change inside the DUT: compare the initial namespace's
# values of the same keys before and after.
init_sysctls() {
  "$PY" - "$HOST/sysctl.txt" <<'PY'
import sys
for l in open(sys.argv[1]):
    k = l.split('=')[0].strip()
    if not k.startswith('net.') or k.endswith('nf_conntrack_count'):
        continue
    try:
        print(k, open('/proc/sys/' + k.replace('.', '/')).read().strip())
    except OSError:
        pass
PY
}
G0=$(init_sysctls)

# run_once MODE: one measured replay in fresh namespaces; sets RESULT to inject's key=value line.
run_once() {
  local mode=$1 e p c ready
  ip netns add "$DUT" || die "ip netns add $DUT"
  ip netns add "$INJ" || die "ip netns add $INJ"
  I sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || die "sysctl in $INJ"
  ip -n "$DUT" link add eth0 address "$M0" type veth peer name p0 netns "$INJ" address "$P0" || die "veth eth0"
  ip -n "$DUT" link add eth1 address "$M1" type veth peer name p1 netns "$INJ" address "$P1" || die "veth eth1"
  for e in lo eth0 eth1; do ip -n "$DUT" link set "$e" up || die "link $e up"; done
  {
    echo "== $mode: sysctls"; D "$PY" "$HERE/sysctl_apply.py" "$HOST/sysctl.txt"
    echo "== $mode: ip"
    while read -r c; do [ -n "$c" ] && { ip -n "$DUT" $c || echo "FAIL ip $c"; }; done <"$BUILD/ip-cmds.txt"
  } >>"$LOG" 2>&1
  for p in p0 p1; do
    ip -n "$INJ" link set "$p" up || die "link $p up"
    I tc qdisc add dev "$p" clsact && I tc filter add dev "$p" ingress bpf da bytecode "$SINK" || die "tc sink on $p"
  done
  if [ "$mode" != C ] && [ "$RULES" = nft ]; then
    D nft -f "$HOST/nft-ruleset.txt" || die "nft -f"
  elif [ "$mode" != C ]; then
    D iptables-restore <"$HOST/iptables-save.txt" || die "iptables-restore"
    if [ -f "$HOST/ip6tables-save.txt" ]; then D ip6tables-restore <"$HOST/ip6tables-save.txt" || die "ip6tables-restore"; fi
  fi
  if [ "$mode" = B ]; then
    for e in eth0 eth1; do
      D tc qdisc add dev "$e" clsact && D tc filter add dev "$e" ingress bpf da bytecode "$SINK" || die "tc drop on $e"
    done
  fi
  if [ "$mode" = D ]; then
    command -v ethtool >/dev/null || die "mode D needs ethtool"
    for e in eth0 eth1; do D ethtool -K "$e" gro on >>"$LOG" 2>&1 || die "ethtool gro on $e"; done
  fi
  exec 9< <(exec ip netns exec "$DUT" taskset -c "$HOLD_CPU" "$PY" "$HERE/holder.py" "$HOST/sockets.txt" 2>&1)
  HPID=$!
  read -r -t 10 ready <&9
  [ "${ready:-}" = READY ] || die "socket holder did not start: ${ready:-timeout}"
  sleep 1.5   # let the link-up traffic (IPv6 DAD, MLD, RS) and the previous run's teardown pass
  RESULT=$(I env REACTIVE="$REACTIVE" taskset -c "$SEND_CPU" "$INJECT" "$PCAP" p0 p1 "$M1" "$KSOFT" "$SEND_CPU") \
    || die "inject failed (mode $mode)"
  if [ "$mode" = A ] && [ -n "$COUNTERS" ] && [ -z "$COUNTERS_SAVED" ]; then
    COUNTERS_SAVED=1
    save_counters
  fi
  teardown
}

# save_counters: the DUT's nstat and rule counters into COUNTERS (the measurement is over; this
# only reads the namespace). nstat's history file would be shared with the initial namespace's
# nstat users: -s leaves it alone, and NSTAT_HISTORY points at a file of our own anyway.
save_counters() {
  local ok=1
  sleep 0.3   # let the last frames' softirq work (backlog) finish
  mkdir -p "$COUNTERS" || { echo "kernel-ref: warning: cannot create $COUNTERS" >&2; return 0; }
  rm -f "$COUNTERS/nstat.txt" "$COUNTERS/iptables-save-c.txt" "$COUNTERS/ip6tables-save-c.txt" \
    "$COUNTERS/nft-ruleset-after.txt"
  if command -v nstat >/dev/null; then
    D env NSTAT_HISTORY="$BUILD/nstat.history" nstat -asz >"$COUNTERS/nstat.txt" 2>>"$LOG" || ok=0
  else
    ok=0; echo "kernel-ref: warning: no nstat; $COUNTERS/nstat.txt not written" >&2
  fi
  if [ "$RULES" = nft ]; then
    D nft list ruleset >"$COUNTERS/nft-ruleset-after.txt" 2>>"$LOG" || ok=0
  else
    D iptables-save -c >"$COUNTERS/iptables-save-c.txt" 2>>"$LOG" || ok=0
    if [ -f "$HOST/ip6tables-save.txt" ]; then
      D ip6tables-save -c >"$COUNTERS/ip6tables-save-c.txt" 2>>"$LOG" || ok=0
    fi
  fi
  [ "$ok" = 1 ] || echo "kernel-ref: warning: saving the DUT's counters into $COUNTERS failed (see KREF_LOG)" >&2
  return 0
}

kv() { printf '%s\n' "$RESULT" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo "# kernel $(uname -r); host $HOST$([ "$RULES" = nft ] && echo " (nft ruleset)"); pcap $PCAP; sender on CPU $SEND_CPU, holder on CPU $HOLD_CPU; reactive=$REACTIVE"
ALL=""
for ((r = 1; r <= REPS; r++)); do
  for m in $MODES; do
    case $m in A|B|C|D) ;; *) die "unknown mode $m" ;; esac
    run_once "$m"
    frames=$(kv frames)
    cpu=$(awk -v a="$(kv self_ns)" -v b="$(kv ksoft_ns)" 'BEGIN{printf "%.6f", (a + b) / 1e9}')
    echo "# $m rep=$r $RESULT"
    echo "$m $cpu $frames"
    ALL+="$m $cpu $frames"$'\n'
    [ "$(kv errors)" = 0 ] && [ $(( $(kv sent0) + $(kv sent1) )) = "$frames" ] \
      || echo "kernel-ref: warning: $m rep $r: $(kv errors) frames not sent" >&2
    [ "$(kv softnet_dropped)" = 0 ] || echo "kernel-ref: warning: $m rep $r: softnet dropped $(kv softnet_dropped) frames" >&2
  done
done

printf '%s' "$ALL" | awk '
  { us = $2 / $3 * 1e6; n[$1]++; v[$1, n[$1]] = us }
  function median(m,   i, j, t, a, k) {
    k = n[m]; for (i = 1; i <= k; i++) a[i] = v[m, i]
    for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
  END {
    split("A B C D", order, " ")
    for (i = 1; i <= 4; i++) if (order[i] in n) { med[order[i]] = median(order[i]); printf "us %s %.3f %d\n", order[i], med[order[i]], n[order[i]] }
    if (("A" in med) && ("B" in med)) printf "us A-B %.3f\n", med["A"] - med["B"]
    if (("C" in med) && ("B" in med)) printf "us C-B %.3f\n", med["C"] - med["B"]
    if (("D" in med) && ("B" in med)) printf "us D-B %.3f\n", med["D"] - med["B"]
  }'

G1=$(init_sysctls)
[ "$G0" = "$G1" ] || { echo "kernel-ref: WARNING: sysctls of the initial namespace changed:" >&2; diff <(echo "$G0") <(echo "$G1") >&2; }
exit 0
