#!/usr/bin/env python3
"""Per-frame cache misses and branch mispredictions by function, from two cachegrind runs.

This machine has no hardware performance counters (perf stat reports every event
<not supported>), so cachegrind's simulation stands in for them. Run the same binary on a
big and a small capture, annotate both, and diff: start-up cancels out.

    for c in p20k tiny; do
      valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes --cachegrind-out-file=$c.out \
        BIN.nodebug analyze $c.pcap --host HOST --summary --threads 1 >/dev/null
      cg_annotate --show=I1mr,D1mr,D1mw,Bcm,Bim --sort=Bcm --threshold=0 $c.out > $c.txt
    done
    python3 Benchmarks/cachegrind-diff.py p20k.txt tiny.txt 19000 I1mr [N]

Arguments: the two annotations, the difference in frames, the event to sort by, and how many
functions to list (30). Prints per-frame totals, then per function; names are demangled.
"""
import re
import subprocess
import sys


def parse(path):
    rows, header = {}, None
    for line in open(path):
        t = line.split()
        if t and t[0] in ('Ir', 'I1mr') and t[-1] == 'file:function':
            header = t[:-1]
            continue
        if not header or not t or not re.match(r'^[\d,]+$', t[0]):
            continue
        nums, i = [], 0
        while i < len(t) and len(nums) < len(header) and re.match(r'^[\d,]+$', t[i]):
            nums.append(int(t[i].replace(',', '')))
            i += 1
            if i < len(t) and t[i].startswith('('):  # "( 1.2%)" after a count
                while not t[i].endswith(')'):
                    i += 1
                i += 1
        if len(nums) == len(header) and i < len(t):
            rows[' '.join(t[i:])] = nums
    return header, rows


header, big = parse(sys.argv[1])
_, small = parse(sys.argv[2])
frames = int(sys.argv[3])
col = header.index(sys.argv[4])
top = int(sys.argv[5]) if len(sys.argv) > 5 else 30
diff = [([(a - b) / frames for a, b in zip(v, small.get(k, [0] * len(header)))], k) for k, v in big.items()]
totals = [sum(r[0][i] for r in diff) for i in range(len(header))]
print(' '.join('%7s' % h for h in header), '  per frame')
print(' '.join('%7.1f' % x for x in totals), '  all functions')
for v, k in sorted(diff, key=lambda r: -r[0][col])[:top]:
    name = k.split(':', 1)[1] if ':' in k else k
    shown = subprocess.run(['swift-demangle', '--simplified', '--compact', name],
                           capture_output=True, text=True).stdout.strip() or name
    print(' '.join('%7.1f' % x for x in v), ' ', shown[:100])
