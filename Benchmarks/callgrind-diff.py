#!/usr/bin/env python3
"""Per-frame cost by function from two callgrind_annotate listings.

usage: callgrind-diff.py LONG.txt SHORT.txt FRAMES [--top N] [--binary RXRAY]

LONG and SHORT are callgrind_annotate outputs (inclusive or self) of the same command on a
capture and on a shorter prefix of it; FRAMES is the difference in frames. Prints, for the
functions with the largest difference, instructions per frame and the share of the total.
With --binary (the unstripped rxray), each function of rxray's own code gets the file:line
where it starts (nm + llvm-symbolizer); names are demangled with swift-demangle.
"""
import os
import re
import subprocess
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


def locations(binary, symbols):
    """{mangled symbol: 'Sources/...:line'} for symbols defined in binary."""
    if not binary or not symbols:
        return {}
    try:
        nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return {}
    addr = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in symbols:
            addr[parts[2]] = int(parts[0], 16)
    if not addr:
        return {}
    names = list(addr)
    inp = "".join("0x%x\n" % addr[n] for n in names)
    try:
        out = subprocess.run(["llvm-symbolizer", "--obj=" + binary, "--inlining=false"], input=inp,
                             capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return {}
    blocks = out.strip("\n").split("\n\n")
    res = {}
    for n, block in zip(names, blocks):
        lines = block.splitlines()
        if len(lines) >= 2:
            loc = lines[1].rsplit(":", 1)[0]
            i = loc.find("/Sources/")
            if i >= 0:
                res[n] = loc[i + 1:]
            elif "/.build" not in loc and loc not in ("??:0", ""):
                res[n] = os.path.basename(loc)
    return res


def demangle(names):
    names = sorted(set(names))
    try:
        out = subprocess.run(["swift-demangle", "--simplified", "--compact"], input="\n".join(names) + "\n",
                             capture_output=True, text=True, check=False).stdout.splitlines()
    except FileNotFoundError:
        return {n: n for n in names}
    return {n: (d or n) for n, d in zip(names, out)}


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        sys.exit(__doc__)
    top = int(a[a.index("--top") + 1]) if "--top" in a else 40
    binary = a[a.index("--binary") + 1] if "--binary" in a else None
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
    rows = rows[:top]
    bare = {k: k.split(":", 1)[1] if ":" in k and k.startswith("???") else k.rsplit(":", 1)[-1] for _, k in rows}
    locs = locations(binary, set(bare.values()))
    dm = demangle(bare.values())
    for per, k in rows:
        share = 100 * per / total if total else 0
        sym = bare[k]
        name = dm.get(sym, sym)
        if len(name) > 140:
            name = name[:137] + "..."
        loc = locs.get(sym)
        print("   %10.0f %5.1f%%  %s%s" % (per, share, name, "  (%s)" % loc if loc else ""))


if __name__ == "__main__":
    main()
