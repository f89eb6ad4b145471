#!/usr/bin/env python3
"""Turns malloccount.so's sampled backtraces into allocation sites with file:line.

usage: alloc-sites.py SAMPLES [--top N] [--per-frame X]

SAMPLES is the MALLOCCOUNT_BT_OUT file (SAMPLES.maps is read beside it). Each sample is
attributed to the innermost frame whose source file is under a Sources/ directory (rxray's own
code, inlined frames included), and, for context, the stdlib/runtime function that allocated
and the caller chain in rxray's code. --per-frame X (the measured marginal allocations per
frame) turns shares into allocations per frame.
"""
import collections
import os
import subprocess
import sys


def load_maps(path):
    maps = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 6 or not parts[5].startswith("/"):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            maps.append((lo, hi, int(parts[2], 16), parts[5]))
    bases = {}
    for lo, _, off, name in maps:
        if off == 0:
            bases[name] = min(lo, bases.get(name, lo))
    return maps, bases


def elf_is_dyn(path, cache={}):
    if path not in cache:
        try:
            with open(path, "rb") as f:
                h = f.read(18)
            cache[path] = len(h) == 18 and h[16] == 3  # ET_DYN
        except OSError:
            cache[path] = True
    return cache[path]


def symbolize(module, addrs):
    """{addr: [(function, file, line), ...]} innermost inlined frame first."""
    if not addrs:
        return {}
    inp = "".join("0x%x\n" % a for a in addrs)
    try:
        out = subprocess.run(["llvm-symbolizer", "--obj=" + module, "--functions=linkage", "--inlining=true"],
                             input=inp, capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        out = subprocess.run(["addr2line", "-f", "-i", "-e", module], input=inp, capture_output=True,
                             text=True, check=False).stdout
        # addr2line prints no blank separators; fall back to one frame per address.
        lines = out.splitlines()
        res = {}
        for i, a in enumerate(addrs):
            fn, loc = (lines[2 * i:2 * i + 2] + ["??", "??:0"])[:2]
            file, _, ln = loc.rpartition(":")
            res[a] = [(fn, file, ln)]
        return res
    blocks = out.strip("\n").split("\n\n")
    res = {}
    for a, block in zip(addrs, blocks):
        lines = block.splitlines()
        frames = []
        for i in range(0, len(lines) - 1, 2):
            loc = lines[i + 1]
            parts = loc.rsplit(":", 2)
            file, ln = (parts[0], parts[1]) if len(parts) == 3 else (loc, "0")
            frames.append((lines[i], file, ln))
        res[a] = frames
    return res


def demangle(names):
    names = sorted(set(names))
    if not names:
        return {}
    try:
        out = subprocess.run(["swift-demangle", "--simplified", "--compact"], input="\n".join(names) + "\n",
                             capture_output=True, text=True, check=False).stdout.splitlines()
    except FileNotFoundError:
        return {n: n for n in names}
    return {n: (d if d else n) for n, d in zip(names, out)}


def short(path):
    i = path.find("/Sources/")
    return path[i + 1:] if i >= 0 else os.path.basename(path)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path = args[0]
    top = 25
    per_frame = None
    if "--top" in args:
        top = int(args[args.index("--top") + 1])
    if "--per-frame" in args:
        per_frame = float(args[args.index("--per-frame") + 1])
    maps, bases = load_maps(path + ".maps")
    samples = []
    with open(path) as f:
        for line in f:
            samples.append([int(x, 16) for x in line.split()])
    if not samples:
        print("no samples")
        return
    # Resolve every distinct return address (minus one: the call instruction) to a module offset.
    by_module = collections.defaultdict(set)
    where = {}
    for s in samples:
        for a in s:
            if a in where:
                continue
            for lo, hi, off, name in maps:
                if lo <= a < hi:
                    rel = a - 1 - bases.get(name, lo) if elf_is_dyn(name) else a - 1
                    where[a] = (name, rel)
                    by_module[name].add(rel)
                    break
            else:
                where[a] = None
    sym = {}
    for module, rels in by_module.items():
        rs = sorted(rels)
        for r, frames in symbolize(module, rs).items():
            sym[(module, r)] = frames
    dm = demangle(fn for frames in sym.values() for fn, _, _ in frames)

    sites = collections.Counter()
    via = collections.defaultdict(collections.Counter)
    chains = collections.defaultdict(collections.Counter)
    for s in samples:
        flat = []
        for a in s:
            w = where.get(a)
            if w is None:
                continue
            for fn, file, ln in sym.get(w, []):
                flat.append((dm.get(fn, fn), file, ln, os.path.basename(w[0])))
        own = [i for i, (_, file, _, _) in enumerate(flat) if "/Sources/" in file]
        if own:
            i = own[0]
            fn, file, ln, _ = flat[i]
            key = "%s:%s  %s" % (short(file), ln, fn)
            # The allocating function: the last non-own frame before ours, skipping malloc itself.
            alloc = [f for f in flat[:i] if f[0] not in ("malloc", "posix_memalign", "calloc", "realloc", "??")]
            via[key][alloc[-1][0] if alloc else "?"] += 1
            up = ["%s:%s" % (short(f[1]), f[2]) for f in (flat[j] for j in own[1:4])]
            chains[key][" <- ".join(up)] += 1
        else:
            key = "(no rxray frame) " + (flat[1][0] if len(flat) > 1 else "?")
        sites[key] += 1

    total = len(samples)
    print("%d samples" % total)
    for key, n in sites.most_common(top):
        share = n / total
        pf = "  ~%.2f/frame" % (share * per_frame) if per_frame is not None else ""
        print("%5.1f%%%s  %s" % (100 * share, pf, key))
        if via[key]:
            print("         allocates via: %s" % via[key].most_common(1)[0][0][:160])
        if chains[key]:
            print("         called from:   %s" % chains[key].most_common(1)[0][0][:200])


if __name__ == "__main__":
    main()
