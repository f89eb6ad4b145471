#!/usr/bin/env bash
# Where rxray's time and allocations go, per frame, for the owners of each module.
#
#   bash Benchmarks/profile.sh        (after bash Benchmarks/run.sh has built rxray)
#
# 1. callgrind (instruction counts: repeatable on a noisy machine) on the first PROFILE_FRAMES
#    frames and on the first 1000, for each host; the difference divided by the frame count
#    is each function's inclusive cost per frame, start-up (rule loading) excluded.
# 2. perf (if it works here) on a 200,000-frame slice: sampled self time by symbol.
# 3. allocation sites: malloccount.so samples backtraces of allocations made after start-up;
#    alloc-sites.py attributes them to rxray source lines.
# Output: .build-bench/profile/ (PROFILE_OUT); the summaries are printed.
#
# Environment: RXRAY (binary, default .build-bench/release/rxray), PROFILE_FRAMES (20000),
# PROFILE_MODES ("summary jsonl"), PROFILE_HOSTS ("iptables nft").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SCRATCH="$ROOT/.build-bench"
RXRAY=${RXRAY:-$SCRATCH/release/rxray}
FRAMES=${PROFILE_FRAMES:-20000}
MODES=${PROFILE_MODES:-summary jsonl}
HOSTS=${PROFILE_HOSTS:-iptables nft}
OUT=${PROFILE_OUT:-$SCRATCH/profile}
GEN="$SCRATCH/gen/release/rxray-benchgen"
COUNTER="$SCRATCH/c/malloccount.so"
[ -x "$RXRAY" ] || { echo "profile: no rxray binary at $RXRAY (run bash Benchmarks/run.sh first, or set RXRAY)" >&2; exit 2; }
[ -x "$GEN" ] && [ -e "$COUNTER" ] || { echo "profile: run bash Benchmarks/run.sh first (it builds the generator and the counter)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "profile: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
mkdir -p "$OUT"
# valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes: callgrind runs a copy
# without debug sections (symbols kept); source lines come from the original binary.
NODEBUG="$OUT/rxray-nodebug"
objcopy --strip-debug "$RXRAY" "$NODEBUG"
demangle() { if command -v swift-demangle >/dev/null; then swift-demangle --simplified --compact; else cat; fi; }

"$GEN" --iptables-host "$OUT/host-iptables" --nft-host "$OUT/host-nft" >/dev/null
"$GEN" --frames "$FRAMES" --pcap "$OUT/slice.pcap" >/dev/null
"$GEN" --frames 1000 --pcap "$OUT/tiny.pcap" >/dev/null
"$GEN" --frames 200000 --pcap "$OUT/perf.pcap" >/dev/null

args_for() { if [ "$1" = summary ]; then echo "--summary"; else echo "--format jsonl -o /dev/null"; fi; }

for h in $HOSTS; do
  for mode in $MODES; do
    tag="$h-$mode"
    # shellcheck disable=SC2046
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-$tag.out" \
      "$NODEBUG" analyze "$OUT/slice.pcap" --host "$OUT/host-$h" $(args_for "$mode") >/dev/null 2>"$OUT/valgrind-$tag.log"
    # shellcheck disable=SC2046
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-$tag-startup.out" \
      "$NODEBUG" analyze "$OUT/tiny.pcap" --host "$OUT/host-$h" $(args_for "$mode") >/dev/null 2>>"$OUT/valgrind-$tag.log"
    for f in "$tag" "$tag-startup"; do
      callgrind_annotate --inclusive=yes --threshold=100 "$OUT/callgrind-$f.out" >"$OUT/inclusive-$f.txt" 2>/dev/null
      callgrind_annotate --threshold=100 "$OUT/callgrind-$f.out" >"$OUT/exclusive-$f.txt" 2>/dev/null
    done
    echo "== callgrind, $h host, --$mode: instructions per frame by function (start-up subtracted)"
    python3 "$ROOT/Benchmarks/callgrind-diff.py" "$OUT/inclusive-$tag.txt" "$OUT/inclusive-$tag-startup.txt" \
      $((FRAMES - 1000)) --top 45 --binary "$RXRAY" | tee "$OUT/per-frame-inclusive-$tag.txt"
    echo "   self cost:"
    python3 "$ROOT/Benchmarks/callgrind-diff.py" "$OUT/exclusive-$tag.txt" "$OUT/exclusive-$tag-startup.txt" \
      $((FRAMES - 1000)) --top 30 --binary "$RXRAY" | tee "$OUT/per-frame-exclusive-$tag.txt"
  done
done

if perf record -o "$OUT/perf-probe.data" true >/dev/null 2>&1; then
  for h in $HOSTS; do
    perf record -F 1999 -g -o "$OUT/perf-$h.data" "$RXRAY" analyze "$OUT/perf.pcap" --host "$OUT/host-$h" --summary >/dev/null 2>&1 || true
    echo "== perf, $h host, --summary, 200000 frames: self time by symbol"
    perf report -i "$OUT/perf-$h.data" --stdio --no-children --sort symbol 2>/dev/null | grep -v '^#' | grep '%' \
      | head -30 | demangle | tee "$OUT/perf-$h.txt"
  done
else
  echo "== perf does not work here: skipped"
fi

for h in $HOSTS; do
  for mode in $MODES; do
    tag="$h-$mode"
    # shellcheck disable=SC2046
    MALLOCCOUNT_OUT="$OUT/allocs-startup.txt" LD_PRELOAD="$COUNTER" \
      "$RXRAY" analyze "$OUT/tiny.pcap" --host "$OUT/host-$h" $(args_for "$mode") >/dev/null 2>&1 || true
    skip=$(sed -n 's/.*allocations=\([0-9]*\).*/\1/p' "$OUT/allocs-startup.txt")
    # shellcheck disable=SC2046
    MALLOCCOUNT_OUT="$OUT/allocs-$tag.txt" MALLOCCOUNT_BT_OUT="$OUT/alloc-bt-$tag.txt" MALLOCCOUNT_BT_EVERY=101 \
      MALLOCCOUNT_BT_SKIP="$skip" LD_PRELOAD="$COUNTER" \
      "$RXRAY" analyze "$OUT/slice.pcap" --host "$OUT/host-$h" $(args_for "$mode") >/dev/null 2>&1 || true
    total=$(sed -n 's/.*allocations=\([0-9]*\).*/\1/p' "$OUT/allocs-$tag.txt")
    pf=$(awk -v t="$total" -v s="$skip" -v n="$((FRAMES - 1000))" 'BEGIN{printf "%.2f", (t-s)/n}')
    echo "== allocation sites, $h host, --$mode: $pf allocations per frame after start-up"
    python3 "$ROOT/Benchmarks/alloc-sites.py" "$OUT/alloc-bt-$tag.txt" --per-frame "$pf" --top 20 | tee "$OUT/alloc-sites-$tag.txt"
  done
done
