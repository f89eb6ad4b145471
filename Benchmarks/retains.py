# retains.py BIG.cg SMALL.cg FRAMES: per-frame calls to swift_retain/release (and bridge variants)
# by calling function and call site, from two `callgrind --dump-instr=yes` runs (big minus small).
import re,sys,collections,subprocess
def parse(path):
    names={}; agg=collections.Counter(); cur=cfn=None; pending=None; last=0
    def nm(s):
        m=re.match(r'\((\d+)\)(?: (.*))?',s)
        if not m: return s
        if m.group(2): names[m.group(1)]=m.group(2)
        return names.get(m.group(1),m.group(1))
    def addr(a):
        nonlocal last
        if a.startswith('0x'): last=int(a,16)
        elif a[:1] in '+-' and a[1:].isdigit(): last+= int(a)
        return last
    for line in open(path):
        line=line.rstrip('\n')
        if line.startswith('fn='): cur=nm(line[3:]); continue
        if line.startswith('cfn='): cfn=nm(line[4:]); continue
        if line.startswith('calls='): pending=int(line.split()[0][6:]); continue
        f=line.split()
        if not f: continue
        a=addr(f[0])
        if pending is not None:
            if cfn and re.search(r'swift_(bridgeObject)?([Rr]etain|[Rr]elease)(_n)?$',cfn.replace('$','')):
                agg[(cur,cfn,a)]+=pending
            pending=None
    return agg
big=parse(sys.argv[1]); small=parse(sys.argv[2]); n=int(sys.argv[3])
d=collections.Counter({k:big[k]-small.get(k,0) for k in big})
byf=collections.Counter()
for (f,c,a),v in d.items(): byf[(f,c)]+=v
dm=lambda s: subprocess.run(['swift-demangle','--simplified','--compact',s],capture_output=True,text=True).stdout.strip()
for (f,c),v in byf.most_common(int(sys.argv[4]) if len(sys.argv)>4 else 25):
    if v/n < 0.05: break
    print('%6.2f %-26s %s'%(v/n,c.replace('$',''),dm(f)[:110]))
    for (f2,c2,a),v2 in sorted(((k,v) for k,v in d.items() if k[0]==f and k[1]==c), key=lambda x:-x[1])[:4]:
        if v2/n>=0.05: print('         %s %.2f'%(hex(a),v2/n))
