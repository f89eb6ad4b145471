#!/usr/bin/env python3
"""sysctl_apply.py SYSCTL_TXT - apply a host snapshot's `net.*` sysctls (`key = value` lines)
by writing /proc/sys. Run it inside the DUT namespace (ip netns exec): there /proc/sys/net is
the namespace's own. Keys a non-initial namespace does not have or may not set (e.g.
net.core.rmem_max, nf_conntrack_max, *.mc_forwarding) are reported as `FAIL key (reason)` and
skipped; the last line is `applied N, failed M`."""
import sys

ok = fail = 0
for line in open(sys.argv[1]):
    if '=' not in line or line.lstrip().startswith('#'):
        continue
    k, v = (x.strip() for x in line.split('=', 1))
    if not k.startswith('net.'):
        continue
    try:
        with open('/proc/sys/' + k.replace('.', '/'), 'w') as f:
            f.write(v + '\n')
        ok += 1
    except OSError as e:
        print(f'FAIL {k} ({e.strerror})')
        fail += 1
print(f'applied {ok}, failed {fail}')
