#!/usr/bin/env python3
"""Per-frame cost by function from two callgrind_annotate listings.

usage: callgrind-diff.py LONG.txt SHORT.txt FRAMES [--top N]

LONG and SHORT are callgrind_annotate outputs (inclusive or self) of the same command on a
capture and on a shorter prefix of it; FRAMES is the difference in frames. Prints, for the
functions with the largest difference, instructions per frame and the share of the total.
"""
import re
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s*$")


def parse(path):
    costs = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            name = re.sub(r"\s+\[[^\]]*\]$", "", m.group(2))
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        sys.exit(__doc__)
    top = int(a[a.index("--top") + 1]) if "--top" in a else 40
    long_, short_ = parse(a[0]), parse(a[1])
    frames = float(a[2])
    total_key = next((k for k in long_ if "PROGRAM TOTALS" in k), None)
    total = (long_.get(total_key, 0) - short_.get(total_key, 0)) / frames if total_key else 0
    print("   %10.0f instructions per frame in all" % total)
    rows = []
    for k, v in long_.items():
        if k == total_key:
            continue
        rows.append(((v - short_.get(k, 0)) / frames, k))
    rows.sort(reverse=True)
    for per, k in rows[:top]:
        share = 100 * per / total if total else 0
        name = k if len(k) <= 150 else k[:147] + "..."
        print("   %10.0f %5.1f%%  %s" % (per, share, name))


if __name__ == "__main__":
    main()
