#!/usr/bin/env python3
"""genconf.py HOSTDIR        - `ip` commands that rebuild a host snapshot's network config
   genconf.py HOSTDIR macs   - four MACs: eth0, eth1, eth0's neighbour, eth1's neighbour

The commands (one a line, to run as `ip -n NS <line>`) add the snapshot's addresses (IPv6 with
nodad, link-local ones left to the kernel), its static routes of table main (kernel-made and
non-unicast routes skipped), its non-default policy rules, and its neighbours as permanent
entries. The `macs` form gives the DUT's interface addresses and, for each interface, the MAC
of its first IPv4 neighbour: the kernel reference gives the injector's veth ends those MACs,
so that what the DUT forwards is addressed to the peer that sinks it."""
import json
import os
import sys

d = sys.argv[1]


def J(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else []


if len(sys.argv) > 2 and sys.argv[2] == 'macs':
    link = {l['ifname']: l['address'] for l in J('ip-link.json')}
    peer = {}
    for n in J('ip-neigh.json'):
        if 'lladdr' in n and ':' not in n['dst']:
            peer.setdefault(n['dev'], n['lladdr'])
    print(link['eth0'], link['eth1'], peer['eth0'], peer['eth1'])
    sys.exit(0)

cmds = []
for l in J('ip-addr.json'):
    if l['ifname'] == 'lo':
        continue
    for a in l.get('addr_info', []):
        if a['family'] == 'inet6' and a.get('scope') == 'link':
            continue
        fam, extra = ('-6', ' nodad') if a['family'] == 'inet6' else ('-4', '')
        cmds.append(f"{fam} addr add {a['local']}/{a['prefixlen']} dev {l['ifname']}{extra}")
for name, fam in (('ip-route.json', '-4'), ('ip6-route.json', '-6')):
    for r in J(name):
        if r.get('table', 'main') != 'main' or r.get('protocol') == 'kernel':
            continue
        if r.get('type', 'unicast') != 'unicast':
            continue
        c = f"{fam} route add {r['dst']}"
        if 'gateway' in r:
            c += f" via {r['gateway']}"
        c += f" dev {r['dev']}"
        if 'metric' in r:
            c += f" metric {r['metric']}"
        if 'protocol' in r:
            c += f" proto {r['protocol']}"
        cmds.append(c)
for name, fam in (('ip-rule.json', '-4'), ('ip6-rule.json', '-6')):
    for r in J(name):
        if r.get('table') in ('local', 'main', 'default') and r.get('src') == 'all' and len(r) == 3:
            continue   # the three default rules exist in every namespace
        c = f"{fam} rule add priority {r['priority']}"
        if r.get('src') not in (None, 'all'):
            c += f" from {r['src']}/{r.get('srclen', 32)}"
        c += f" table {r['table']}"
        cmds.append(c)
for n in J('ip-neigh.json'):
    if 'lladdr' in n:
        cmds.append(f"neigh replace {n['dst']} lladdr {n['lladdr']} dev {n['dev']} nud permanent")
print('\n'.join(cmds))
