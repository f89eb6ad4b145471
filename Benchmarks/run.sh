#!/usr/bin/env bash
# make bench: rxray's speed, peak memory and allocations per frame on generated traffic, side
# by side with a bare libpcap read loop (C) and tshark, in the same run, as ratios.
#
#   bash Benchmarks/run.sh            (what `make bench` runs)
#
# Environment:
#   BENCH_FRAMES=2000000   frames in the main capture
#   BENCH_SLICE=100000     frames in the slice used for tshark and for allocation counts (N and 2N)
#   BENCH_REPEAT=3         runs per measurement; the median is printed
#   BENCH_BUDGET=30        seconds of CPU one rxray run may take: when a calibration run on the
#                          slice says the whole capture would take longer, that measurement
#                          uses the longest prefix of the capture that fits (and says so)
#   BENCH_LARGE=1          also analyse a 10,000,000-frame capture for peak RSS (written to disk)
#   BENCH_RULES=1000       iptables rules;  BENCH_SERVICES=2000  kube-proxy services (nft host)
#   BENCH_CPU=1            the CPU every measured command is pinned to (taskset); empty: no pinning
#   BENCH_REV=<commit>     measure that commit (git archive into .build-bench/rev) instead of
#                          the working tree
#   RXRAY=PATH             measure this rxray binary instead of building one (BENCH_COMMIT=label)
#   BENCH_DATA=DIR         where captures go (default: a directory in /dev/shm, removed at exit,
#                          so that reading the file is memory speed, not this VM's disk)
#   BENCH_KEEP=1           keep BENCH_DATA
#   BENCH_KERNEL=1         0: skip the kernel reference (below)
#
# Frames per second are computed from CPU time (user + sys) of a single-threaded process
# (--threads 1) pinned to one core: on a shared 2-core machine that is steadier than wall time;
# wall time is printed too. The threads section compares --threads 1 with --threads 2 (a reader
# thread ahead of evaluation and, for jsonl, rendering and writing on a third) by wall time,
# unpinned. Targets are reported as PASS/FAIL; a miss does not fail the command.
#
# Kernel reference (after the tshark rows; Benchmarks/kernel/kernel-ref.sh): what the real Linux
# kernel spends, in CPU time per frame, receiving the slice on a namespace configured like the
# iptables host (addresses, routes, neighbours, net.* sysctls, its ~1,000 iptables rules, its
# listening sockets), fed from a second namespace through veth pairs by an AF_PACKET injector.
# Modes: A = that full configuration; B = A with every frame dropped by a tc ingress filter
# before ip_rcv (what the injector, veth and the generic receive core cost); C = A without
# netfilter. A-B is the kernel's receive path proper (IP, routing, netfilter, conntrack, NAT,
# TCP/UDP, forwarding and the transmits they cause), the thing rxray simulates; C-B the same
# without netfilter. The last line divides rxray's --summary time per frame on the slice
# (iptables host, from the tshark rows, start-up included) by A-B. Each mode runs BENCH_REPEAT
# times in fresh namespaces (deleted at exit; nothing is sent outside them) and the median is
# printed. After the first mode-A run the DUT's nstat and iptables rule counters are saved and
# compared with rxray's own on the slice (Benchmarks/kernel/agree.py: rule packet counters,
# counters of received packets; output and timer counters listed for information, as the
# replay cannot match them). It needs root, working `ip netns`, cc, tc and iptables-restore;
# otherwise, or with BENCH_KERNEL=0, one line says it was skipped and why. Caveats: veth without NAPI, so no GRO
# (every segment goes up the stack alone where a NIC would merge bulk TCP); checksums are
# verified in software (AF_PACKET frames are CHECKSUM_NONE); frames are sent back to back, so
# timers, rate limits and TCP windows see a compressed timeline; the TCP sessions' acks are
# rewritten to match the namespace's own SYN-ACKs (the capture has only the client side); CPU
# time = the sender thread's runtime (the DUT's softirq runs in its context) + ksoftirqd's on
# the sender's CPU; on a shared VM the spread between runs is ~15%.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${JOBS:-2}
FRAMES=${BENCH_FRAMES:-2000000}
SLICE=${BENCH_SLICE:-100000}
REPEAT=${BENCH_REPEAT:-3}
BUDGET=${BENCH_BUDGET:-30}
LARGE=${BENCH_LARGE:-0}
RULES=${BENCH_RULES:-1000}
SERVICES=${BENCH_SERVICES:-2000}
CPU=${BENCH_CPU-1}
SCRATCH="$ROOT/.build-bench"
OWN_DATA=0
if [ -z "${BENCH_DATA:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then BENCH_DATA=$(mktemp -d /dev/shm/rxray-bench.XXXXXX); else BENCH_DATA=$(mktemp -d); fi
  OWN_DATA=1
fi
DATA=$BENCH_DATA
# JSON lines output (about 1.7 kB a frame) goes to the scratch directory on disk, not to memory.
OUTJ="$SCRATCH/out.jsonl"
mkdir -p "$DATA" "$SCRATCH"
cleanup() {
  if [ "$OWN_DATA" = 1 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$DATA"; fi
  rm -f "$SCRATCH"/large.pcap "$OUTJ"
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
hr() { printf "%s\n" "--------------------------------------------------------------------------------------------------------"; }

# ---- what the benchmark needs ---------------------------------------------------------------
need=()
command -v cc >/dev/null || need+=(gcc)
[ -e /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
command -v tshark >/dev/null || need+=(tshark)
[ -x /usr/bin/time ] || need+=(time)
command -v taskset >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "bench: installing ${need[*]} (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
  else
    say "bench: missing ${need[*]}: install them (Debian: apt-get install ${need[*]})" >&2
    exit 2
  fi
fi
PIN=()
if [ -n "$CPU" ] && command -v taskset >/dev/null && taskset -c "$CPU" true 2>/dev/null; then PIN=(taskset -c "$CPU"); fi

# ---- build ------------------------------------------------------------------------------------
if [ -n "${RXRAY:-}" ]; then
  COMMIT=${BENCH_COMMIT:-"prebuilt $RXRAY"}
  DIRTY=""
  say "bench: measuring the given binary $RXRAY"
else
  if [ -n "${BENCH_REV:-}" ]; then
    COMMIT=$(git rev-parse --short=12 "$BENCH_REV")
    SRC="$SCRATCH/rev-src"
    rm -rf "$SRC" && mkdir -p "$SRC"
    git archive "$COMMIT" | tar -x -C "$SRC"
    BUILD="$SCRATCH/rev"
    DIRTY=""
  else
    COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    SRC="$ROOT"
    BUILD="$SCRATCH"
    DIRTY=$(git status --porcelain -- Sources Package.swift 2>/dev/null | grep -q . && echo " + uncommitted changes" || true)
  fi
  say "bench: building rxray (release) from ${COMMIT}${DIRTY}"
  (cd "$SRC" && swift build -c release -j "$JOBS" --scratch-path "$BUILD" --product rxray 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || true)
  RXRAY="$BUILD/release/rxray"
fi
[ -x "$RXRAY" ] || { say "bench: no rxray binary at $RXRAY (the release build failed: see above)" >&2; exit 2; }
say "bench: building the generator and the C tools"
swift build -c release -j "$JOBS" --package-path "$ROOT/Benchmarks/Generator" --scratch-path "$SCRATCH/gen" 2>&1 \
  | grep -Ev '^\[[0-9]+/[0-9]+\]|^Building|^Build complete|^Compiling|^Write' || true
GEN="$SCRATCH/gen/release/rxray-benchgen"
mkdir -p "$SCRATCH/c"
cc -O2 -Wall -o "$SCRATCH/c/pcaploop" "$ROOT/Benchmarks/c/pcaploop.c" -lpcap
cc -O2 -Wall -shared -fPIC -o "$SCRATCH/c/malloccount.so" "$ROOT/Benchmarks/c/malloccount.c"
LOOP="$SCRATCH/c/pcaploop"
COUNTER="$SCRATCH/c/malloccount.so"

# ---- data -------------------------------------------------------------------------------------
HOST_IPT="$SCRATCH/hosts/iptables"
HOST_NFT="$SCRATCH/hosts/nft"
rm -rf "$SCRATCH/hosts" && mkdir -p "$SCRATCH/hosts"
"$GEN" --iptables-host "$HOST_IPT" --nft-host "$HOST_NFT" --rules "$RULES" --services "$SERVICES" | sed 's/^/  /'
# The generator is deterministic: a shorter run writes a prefix of a longer one, so the slices
# below are the first frames of the main capture.
"$GEN" --frames "$FRAMES" --services "$SERVICES" --pcap "$DATA/traffic.pcap" | sed 's/^/  /'
"$GEN" --frames "$SLICE" --services "$SERVICES" --pcap "$DATA/slice.pcap" >/dev/null
"$GEN" --frames $((2 * SLICE)) --services "$SERVICES" --pcap "$DATA/slice2.pcap" >/dev/null
"$GEN" --frames 1000 --services "$SERVICES" --pcap "$DATA/tiny.pcap" >/dev/null
# Load time: a capture with no frames (the pcap header of tiny.pcap) measures loading the host
# and compiling its rules alone; a 10,000-rule iptables host checks that load stays flat.
head -c 24 "$DATA/tiny.pcap" >"$DATA/empty.pcap"
HOST_IPT10K="$SCRATCH/hosts/iptables-10k"
"$GEN" --iptables-host "$HOST_IPT10K" --rules 10000 >/dev/null
MB=$(( $(stat -c %s "$DATA/traffic.pcap") / 1000000 ))

# ---- measuring --------------------------------------------------------------------------------
# run_timed OUTVAR cmd...: runs REPEAT times; sets OUTVAR_{wall,cpu,rss} to the medians
# (seconds, seconds, MB) and OUTVAR_status to the last exit code.
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
run_timed() {
  local var=$1; shift
  local walls="" cpus="" rsss="" st=0 i
  for ((i = 0; i < REPEAT; i++)); do
    st=0
    /usr/bin/time -f '%e %U %S %M' -o "$DATA/time.txt" "${PIN[@]}" "$@" >"$DATA/stdout.txt" 2>"$DATA/stderr.txt" || st=$?
    rm -f "$OUTJ"
    [ "$st" = 0 ] || break
    read -r w u s m < <(tail -1 "$DATA/time.txt")
    walls+="$w"$'\n'; cpus+=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')$'\n'; rsss+=$(awk -v m="$m" 'BEGIN{print m/1024}')$'\n'
  done
  printf -v "${var}_status" '%s' "$st"
  printf -v "${var}_wall" '%s' "$(printf '%s' "$walls" | median)"
  printf -v "${var}_cpu" '%s' "$(printf '%s' "$cpus" | median)"
  printf -v "${var}_rss" '%s' "$(printf '%s' "$rsss" | median)"
  if [ "$st" != 0 ]; then
    say "  FAILED (exit $st): $*" >&2
    sed 's/^/    /' "$DATA/stderr.txt" | head -5 >&2
  fi
}
# count_allocs OUTVAR cmd...: allocations made by one run (LD_PRELOAD counter).
count_allocs() {
  local var=$1; shift
  rm -f "$DATA/allocs.txt"
  MALLOCCOUNT_OUT="$DATA/allocs.txt" LD_PRELOAD="$COUNTER" "$@" >/dev/null 2>"$DATA/stderr.txt" || true
  rm -f "$OUTJ"
  local n
  n=$(sed -n 's/.*allocations=\([0-9]*\).*/\1/p' "$DATA/allocs.txt" 2>/dev/null || true)
  printf -v "$var" '%s' "${n:-nan}"
}
fps() { awk -v n="$1" -v t="$2" 'BEGIN{ if (t+0 <= 0) print "nan"; else printf "%.0f", n/t }'; }
human() { awk -v v="$1" 'BEGIN{ if (v=="nan") {print "n/a"; exit} if (v>=1e6) printf "%.2fM", v/1e6; else if (v>=1e3) printf "%.0fk", v/1e3; else printf "%.0f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="nan" || b=="nan" || b+0<=0) print "n/a"; else printf "%.2f", a/b }'; }
row() { printf '%-54s %8s %8s %10s %9s %s\n' "$@"; }

declare -A HOSTS=([iptables]="$HOST_IPT" [nft]="$HOST_NFT")
ORDER=(iptables nft)
ok_host=()
for h in "${ORDER[@]}"; do
  if "$RXRAY" analyze "$DATA/tiny.pcap" --host "${HOSTS[$h]}" --summary >/dev/null 2>"$DATA/stderr.txt"; then
    ok_host+=("$h")
  else
    say "bench: rxray cannot analyse with the $h host; skipping it:" >&2
    sed 's/^/    /' "$DATA/stderr.txt" | head -5 >&2
  fi
done

say ""
say "rxray benchmark — $(date -u +%Y-%m-%dT%H:%MZ) — commit ${COMMIT}${DIRTY}"
say "machine: $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)${PIN:+, measured commands pinned to CPU $CPU}"
say "capture: $FRAMES frames, $MB MB (mix above); each number is the median of $REPEAT runs"
# What is measured: the fates of the slice's frames per host and the top drop reasons (a
# realistic node delivers or forwards most frames; drops only where the mix intends them).
for h in "${ok_host[@]}"; do
  if "$RXRAY" analyze "$DATA/slice.pcap" --host "${HOSTS[$h]}" --summary >"$DATA/outcome.txt" 2>"$DATA/stderr.txt"; then
    say "outcome, first $SLICE frames ($h host): $(sed -n 's/^frames: [0-9]*, //p' "$DATA/outcome.txt" | head -1)"
    awk '/^drops by (reason|stage):/{on=$3; n=0; next} /^[^ ]/{on=""} on && n<4 {v=$NF; $NF=""; printf "    drop %-6s %-30s %s\n", substr(on, 1, length(on)-1), $0, v; n++}' \
      "$DATA/outcome.txt" | while IFS= read -r l; do say "$l"; done
  fi
done
hr
row "command" "cpu s" "wall s" "frames/s" "peak RSS" "time per frame / libpcap loop's"
hr
run_timed LOOP "$LOOP" "$DATA/traffic.pcap"
LOOP_FPS=$(fps "$FRAMES" "$LOOP_cpu")
row "C libpcap loop (pcap_next_ex)" "$LOOP_cpu" "$LOOP_wall" "$(human "$LOOP_FPS")" "$(printf '%.0f' "$LOOP_rss") MB" "1.00"

# frames_within RATE: how many frames (a multiple of 1000, at least the slice, at most the
# capture) one run can analyse within the budget at RATE frames/s.
frames_within() { awk -v r="$1" -v b="$BUDGET" -v max="$FRAMES" -v min="$SLICE" \
  'BEGIN{ n = int(r * b / 1000) * 1000; if (n > max) n = max; if (n < min) n = min; print n }'; }
# capture_of N: the capture holding the first N frames.
capture_of() {
  if [ "$1" = "$FRAMES" ]; then echo "$DATA/traffic.pcap"; return; fi
  [ -e "$DATA/prefix-$1.pcap" ] || "$GEN" --frames "$1" --services "$SERVICES" --pcap "$DATA/prefix-$1.pcap" >/dev/null
  echo "$DATA/prefix-$1.pcap"
}
LOOP_PER_FRAME=$(awk -v t="$LOOP_cpu" -v n="$FRAMES" 'BEGIN{print t/n}')
declare -A SUM_CPU SUM_FPS JSON_FPS SUM_RSS STARTUP SUM_N
for h in "${ok_host[@]}"; do
  host=${HOSTS[$h]}
  run_timed T "$RXRAY" analyze "$DATA/tiny.pcap" --host "$host" --summary --threads 1
  STARTUP[$h]=$T_cpu
  for mode in summary jsonl; do
    if [ $mode = summary ]; then args=(--summary --threads 1); label="rxray --summary ($h)"; else args=(--format jsonl -o "$OUTJ" --threads 1); label="rxray --format jsonl -o FILE ($h)"; fi
    SAVED=$REPEAT; REPEAT=1
    run_timed C "$RXRAY" analyze "$DATA/slice.pcap" --host "$host" "${args[@]}"
    REPEAT=$SAVED
    [ "$C_status" = 0 ] || continue
    n=$(frames_within "$(fps "$SLICE" "$C_cpu")")
    file=$(capture_of "$n")
    [ "$n" = "$FRAMES" ] || label="$label, first $n"
    run_timed S "$RXRAY" analyze "$file" --host "$host" "${args[@]}"
    [ "$S_status" = 0 ] || continue
    rate=$(fps "$n" "$S_cpu")
    per=$(awk -v t="$S_cpu" -v n="$n" 'BEGIN{print t/n}')
    if [ $mode = summary ]; then SUM_CPU[$h]=$S_cpu; SUM_RSS[$h]=$S_rss; SUM_FPS[$h]=$rate; SUM_N[$h]=$n; else JSON_FPS[$h]=$rate; fi
    row "$label" "$S_cpu" "$S_wall" "$(human "$rate")" "$(printf '%.0f' "$S_rss") MB" "$(ratio "$per" "$LOOP_PER_FRAME")"
  done
done
hr
for h in "${ok_host[@]}"; do
  if [ -n "${SUM_CPU[$h]:-}" ]; then
    steady=$(awk -v n="${SUM_N[$h]}" -v t="${SUM_CPU[$h]}" -v s="${STARTUP[$h]}" 'BEGIN{ if (t-s<=0) print "nan"; else printf "%.0f", (n-1000)/(t-s) }')
    say "startup ($h host: load + compile rules, 1000 frames): ${STARTUP[$h]} s cpu; --summary without it: $(human "$steady") frames/s"
  else
    say "startup ($h host: load + compile rules, 1000 frames): ${STARTUP[$h]} s cpu"
  fi
done

# ---- load time ----------------------------------------------------------------------------------
# Load = host snapshot read, rules parsed and compiled, no frames; start-up = the same plus the
# 1000 frames of tiny.pcap (for the 10k host those frames walk its long chains). Target: load < 1 s.
hr
say "load time (cpu s, median of $REPEAT): load = read host + parse + compile rules, 0 frames; start-up = load + 1000 frames"
LOAD_ROWS=()
for h in "${ok_host[@]}" iptables-10k; do
  if [ "$h" = iptables-10k ]; then host=$HOST_IPT10K; else host=${HOSTS[$h]}; fi
  run_timed LD "$RXRAY" analyze "$DATA/empty.pcap" --host "$host" --summary --threads 1
  [ "$LD_status" = 0 ] || continue
  if [ "$h" = iptables-10k ]; then
    run_timed SU "$RXRAY" analyze "$DATA/tiny.pcap" --host "$host" --summary --threads 1
    su=$SU_cpu
  else
    su=${STARTUP[$h]:-nan}
  fi
  row "load: $h host" "$LD_cpu" "$LD_wall" "" "$(printf '%.0f' "$LD_rss") MB" "start-up (1000 frames): $su s cpu"
  LOAD_ROWS+=("$h=$LD_cpu")
done

# ---- tshark on a slice --------------------------------------------------------------------------
hr
say "slice: the first $SLICE frames"
run_timed TS tshark -n -r "$DATA/slice.pcap"
declare -A SLICE_SUM_CPU
row "tshark -n -r slice (text to /dev/null)" "$TS_cpu" "$TS_wall" "$(human "$(fps "$SLICE" "$TS_cpu")")" "$(printf '%.0f' "$TS_rss") MB" ""
for h in "${ok_host[@]}"; do
  run_timed SS "$RXRAY" analyze "$DATA/slice.pcap" --host "${HOSTS[$h]}" --summary --threads 1
  run_timed SJ "$RXRAY" analyze "$DATA/slice.pcap" --host "${HOSTS[$h]}" --format jsonl -o "$OUTJ" --threads 1
  SLICE_SUM_CPU[$h]=$SS_cpu
  row "rxray --summary on slice ($h)" "$SS_cpu" "$SS_wall" "$(human "$(fps "$SLICE" "$SS_cpu")")" "$(printf '%.0f' "$SS_rss") MB" "tshark/rxray time: $(ratio "$TS_cpu" "$SS_cpu")"
  row "rxray --format jsonl on slice ($h)" "$SJ_cpu" "$SJ_wall" "$(human "$(fps "$SLICE" "$SJ_cpu")")" "$(printf '%.0f' "$SJ_rss") MB" "tshark/rxray time: $(ratio "$TS_cpu" "$SJ_cpu")"
done

# ---- kernel reference: the real receive path on the slice (see the header) --------------------
hr
KREF="$ROOT/Benchmarks/kernel/kernel-ref.sh"
kskip=""
if [ "${BENCH_KERNEL:-1}" = 0 ]; then kskip="BENCH_KERNEL=0"
elif [ "$(id -u)" != 0 ]; then kskip="not running as root"
elif ! command -v ip >/dev/null || ! command -v tc >/dev/null; then kskip="no ip or tc (iproute2)"
elif ! command -v iptables-restore >/dev/null; then kskip="no iptables-restore"
elif ! command -v cc >/dev/null; then kskip="no C compiler (cc)"
elif ! command -v python3 >/dev/null; then kskip="no python3"
elif ! { ip netns add "rxray-bench-probe-$$" 2>/dev/null && ip netns del "rxray-bench-probe-$$"; }; then kskip="ip netns does not work here"
fi
if [ -n "$kskip" ]; then
  say "kernel reference: skipped ($kskip)"
else
  say "kernel reference: the real kernel receiving the slice in a namespace set up as the iptables host; cpu s and frames/s from sender + softirq time"
  KCPU=0
  if [ ${#PIN[@]} -gt 0 ]; then KCPU=$CPU; fi
  KCOUNT="$DATA/kernel-counters"
  rm -rf "$KCOUNT"
  if KREF_BUILD="$SCRATCH/kernel" KREF_CPU="$KCPU" KREF_LOG="$DATA/kernel-ref.log" KREF_COUNTERS="$KCOUNT" \
      bash "$KREF" "$HOST_IPT" "$DATA/slice.pcap" "$REPEAT" >"$DATA/kernel-ref.txt" 2>"$DATA/kernel-ref.err"; then
    declare -A KUS
    for m in A B C; do
      kcpu=$(awk -v m=$m '$1 == m {print $2}' "$DATA/kernel-ref.txt" | median)
      KUS[$m]=$(awk -v m=$m '$1 == m {printf "%.4f\n", $2 / $3 * 1e6}' "$DATA/kernel-ref.txt" | median)
      case $m in
        A) label="kernel A: full config (iptables host)" ;;
        B) label="kernel B: dropped at tc ingress, before ip_rcv" ;;
        C) label="kernel C: full config without netfilter" ;;
      esac
      row "$label" "$(printf '%.2f' "$kcpu")" "" "$(human "$(fps "$SLICE" "$kcpu")")" "" "$(printf '%.2f' "${KUS[$m]}") µs a frame"
    done
    KAB=$(awk -v a="${KUS[A]}" -v b="${KUS[B]}" 'BEGIN{printf "%.2f", a - b}')
    KCB=$(awk -v a="${KUS[C]}" -v b="${KUS[B]}" 'BEGIN{printf "%.2f", a - b}')
    say "  kernel receive path: A-B $KAB µs a frame (with iptables, conntrack); C-B $KCB µs a frame (without netfilter)"
    if [ -n "${SLICE_SUM_CPU[iptables]:-}" ]; then
      rus=$(awk -v t="${SLICE_SUM_CPU[iptables]}" -v n="$SLICE" 'BEGIN{printf "%.2f", t / n * 1e6}')
      say "  rxray --summary on slice (iptables host): $rus µs a frame, start-up included; rxray / kernel (A-B): $(ratio "$rus" "$KAB")"
    else
      say "  rxray --summary on slice (iptables host): not measured; no ratio"
    fi
    # Do rxray's counters agree with the kernel's after the first mode-A run (agree.py)?
    if [ ! -s "$KCOUNT/nstat.txt" ] || [ ! -s "$KCOUNT/iptables-save-c.txt" ]; then
      say "  kernel agreement: not checked (kernel-ref.sh saved no counters; see $DATA/kernel-ref.err)"
    elif ! "$RXRAY" analyze "$DATA/slice.pcap" --host "$HOST_IPT" --format jsonl --threads 1 2>"$DATA/stderr.txt" \
        | tail -n 1 >"$DATA/rxray-summary.jsonl"; then
      say "  kernel agreement: not checked (rxray --format jsonl on the slice failed: $(head -1 "$DATA/stderr.txt" | grep . || echo "no message"))"
    elif ! python3 "$ROOT/Benchmarks/kernel/agree.py" "$KCOUNT" "$DATA/rxray-summary.jsonl" >"$DATA/agree.txt" 2>&1; then
      say "  kernel agreement: not checked (agree.py failed: $(tail -1 "$DATA/agree.txt"))"
    else
      while IFS= read -r l; do say "  kernel agreement: $l"; done <"$DATA/agree.txt"
    fi
  else
    say "kernel reference: failed (exit $?):"
    sed 's/^/    /' "$DATA/kernel-ref.err" | tail -5
  fi
fi

# ---- threads (issue #10): frames/s here is WALL time ---------------------------------------------
# --threads 2: a reader thread reads and filters ahead of evaluation; with output (jsonl), frames
# are also rendered and written on a third thread. Not pinned to one CPU (the threads could not
# run beside each other).
hr
say "threads: --threads 1 against --threads 2 (reader thread + evaluation, + render thread for jsonl); frames/s from wall time"
SAVED_PIN=("${PIN[@]}"); PIN=()
for h in "${ok_host[@]}"; do
  for mode in summary jsonl; do
    if [ $mode = summary ]; then args=(--summary); else args=(--format jsonl -o "$OUTJ"); fi
    run_timed T1 "$RXRAY" analyze "$DATA/slice.pcap" --host "${HOSTS[$h]}" "${args[@]}" --threads 1
    run_timed T2 "$RXRAY" analyze "$DATA/slice.pcap" --host "${HOSTS[$h]}" "${args[@]}" --threads 2
    row "rxray $mode on slice --threads 1 ($h), wall" "$T1_cpu" "$T1_wall" "$(human "$(fps "$SLICE" "$T1_wall")")" "$(printf '%.0f' "$T1_rss") MB" "frames/s is wall time"
    row "rxray $mode on slice --threads 2 ($h), wall" "$T2_cpu" "$T2_wall" "$(human "$(fps "$SLICE" "$T2_wall")")" "$(printf '%.0f' "$T2_rss") MB" "frames/s is wall time; 1-thread/2-thread wall: $(ratio "$T1_wall" "$T2_wall")"
  done
done
PIN=("${SAVED_PIN[@]}")

# ---- memory: peak RSS must not grow with the capture's length ----------------------------------
# The state rxray keeps is bounded by the kernel's own limits (conntrack entries time out, GRO
# flushes every poll, reassembly queues expire), so twice the frames must not take much more
# memory. Same traffic mix, N and 2N frames, --threads 1.
hr
say "memory: peak RSS on the slice ($SLICE frames) and on twice as many, --threads 1"
for h in "${ok_host[@]}"; do
  for mode in summary jsonl; do
    if [ $mode = summary ]; then args=(--summary); else args=(--format jsonl -o "$OUTJ"); fi
    SAVED=$REPEAT; REPEAT=1
    run_timed M1 "$RXRAY" analyze "$DATA/slice.pcap" --host "${HOSTS[$h]}" "${args[@]}" --threads 1
    run_timed M2 "$RXRAY" analyze "$DATA/slice2.pcap" --host "${HOSTS[$h]}" "${args[@]}" --threads 1
    REPEAT=$SAVED
    row "rxray $mode peak RSS, $SLICE -> $((2 * SLICE)) frames ($h)" "" "" "" "$(printf '%.0f' "$M1_rss") MB" "-> $(printf '%.0f' "$M2_rss") MB (+$(awk -v a="$M1_rss" -v b="$M2_rss" 'BEGIN{printf "%.0f", b-a}') MB)"
  done
done

# ---- allocations ------------------------------------------------------------------------------
hr
say "heap allocations (malloc/calloc/realloc/posix_memalign calls, LD_PRELOAD counter)"
count_allocs A_LOOP "$LOOP" "$DATA/traffic.pcap"
say "  C libpcap loop, $FRAMES frames: $A_LOOP allocations in all"
declare -A MARGINAL
for h in "${ok_host[@]}"; do
  host=${HOSTS[$h]}
  for mode in summary jsonl summary-t2 jsonl-t2; do
    case $mode in
      summary) args=(--summary --threads 1) ;;
      jsonl) args=(--format jsonl -o "$OUTJ" --threads 1) ;;
      summary-t2) args=(--summary --threads 2) ;;
      jsonl-t2) args=(--format jsonl -o "$OUTJ" --threads 2) ;;
    esac
    count_allocs A0 "$RXRAY" analyze "$DATA/tiny.pcap" --host "$host" "${args[@]}"
    count_allocs A1 "$RXRAY" analyze "$DATA/slice.pcap" --host "$host" "${args[@]}"
    count_allocs A2 "$RXRAY" analyze "$DATA/slice2.pcap" --host "$host" "${args[@]}"
    m=$(awk -v a="$A1" -v b="$A2" -v n="$SLICE" 'BEGIN{ if (a=="nan"||b=="nan") print "nan"; else printf "%.2f", (b-a)/n }')
    t=$(awk -v a="$A2" -v n="$((2 * SLICE))" 'BEGIN{ if (a=="nan") print "nan"; else printf "%.2f", a/n }')
    MARGINAL[$h-$mode]=$m
    printf '  rxray --%-11s (%-8s): startup (1000 frames) %s allocations; %s frames: %s, %s frames: %s; per frame: %s overall, %s marginal\n' \
      "$mode" "$h" "$A0" "$SLICE" "$A1" "$((2 * SLICE))" "$A2" "$t" "$m"
  done
done

# ---- 10 million frames -------------------------------------------------------------------------
LARGE_RSS=""
if [ "$LARGE" = 1 ]; then
  hr
  say "10,000,000 frames (BENCH_LARGE=1; written to $SCRATCH/large.pcap on disk, removed at exit)"
  "$GEN" --frames 10000000 --services "$SERVICES" --pcap "$SCRATCH/large.pcap" | sed 's/^/  /'
  SAVED=$REPEAT; REPEAT=1
  for h in "${ok_host[@]}"; do
    run_timed L "$RXRAY" analyze "$SCRATCH/large.pcap" --host "${HOSTS[$h]}" --summary --threads 1
    if [ "$L_status" = 0 ]; then
      row "rxray --summary, 10M frames ($h)" "$L_cpu" "$L_wall" "$(human "$(fps 10000000 "$L_cpu")")" "$(printf '%.0f' "$L_rss") MB" ""
      LARGE_RSS+="$h=$L_rss "
    else
      # A run that failed has no peak to report: the target is missed, not skipped.
      LARGE_RSS+="$h=failed "
    fi
  done
  REPEAT=$SAVED
fi

# ---- targets ----------------------------------------------------------------------------------
hr
say "targets (one core; a miss is reported, it does not fail make bench)"
verdict() { if awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN{ if (a=="nan"||a=="") exit 1; if (op==">=") exit !(a+0>=b+0); exit !(a+0<b+0) }'; then echo PASS; else echo FAIL; fi; }
for h in "${ok_host[@]}"; do
  f=${SUM_FPS[$h]:-nan}; j=${JSON_FPS[$h]:-nan}
  r=$(awk -v t="${SUM_CPU[$h]:-nan}" -v n="${SUM_N[$h]:-1}" -v l="$LOOP_PER_FRAME" 'BEGIN{ if (t=="nan") print "nan"; else printf "%.2f", (t/n)/l }')
  say "  $(verdict "$f" 1500000 '>=')  --summary >= 1.5M frames/s ($h): $(human "$f")"
  say "  $(verdict "$r" 2.5 '<')  --summary within 2.5x of the libpcap loop ($h): ${r}x"
  say "  $(verdict "$j" 500000 '>=')  --format jsonl to a file >= 500k frames/s ($h): $(human "$j")"
done
if [ "$LARGE" = 1 ]; then
  for kv in $LARGE_RSS; do
    h=${kv%%=*}; v=${kv#*=}
    if [ "$v" = failed ]; then
      say "  FAIL  peak RSS < 200 MB on 10M frames ($h): the run failed (see above)"
    else
      # %M is KiB; MB here is MiB (1,048,576 bytes), the stricter reading of the target.
      say "  $(verdict "$v" 200 '<')  peak RSS < 200 MB on 10M frames ($h): ${v%.*} MiB (--summary --threads 1, GNU time %M)"
    fi
  done
else
  say "  ----  peak RSS < 200 MB on 10M frames: not run (BENCH_LARGE=1 runs it); on $FRAMES frames: $(for h in "${ok_host[@]}"; do printf '%s %.0f MB  ' "$h" "${SUM_RSS[$h]:-0}"; done)"
fi
for kv in "${LOAD_ROWS[@]}"; do
  h=${kv%%=*}; v=${kv#*=}
  say "  $(verdict "$v" 1 '<')  ruleset load < 1 s ($h host): $v s cpu"
done
for h in "${ok_host[@]}"; do
  say "  ----  allocations per frame, marginal ($h): --summary ${MARGINAL[$h-summary]}, --format jsonl ${MARGINAL[$h-jsonl]}; --threads 2: ${MARGINAL[$h-summary-t2]}, ${MARGINAL[$h-jsonl-t2]} (goal: 0)"
done
