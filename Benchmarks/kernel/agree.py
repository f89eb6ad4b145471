#!/usr/bin/env python3
"""agree.py KERNEL_DIR SUMMARY_FILE - do rxray's counters agree with the real kernel's?

KERNEL_DIR is what kernel-ref.sh saves with KREF_COUNTERS=DIR after its first mode-A run:
nstat.txt (nstat -az of the DUT), iptables-save-c.txt (iptables-save -c) and, when ip6tables
rules were loaded, ip6tables-save-c.txt; or, for a host with an nftables ruleset,
nft-ruleset-after.txt (nft list ruleset) instead of the iptables dumps. SUMMARY_FILE holds the last line of
`rxray analyze PCAP --host HOSTDIR --format jsonl --threads 1` on the same capture and host:
{"summary": {..., "counters": {nstat name: value}, "top_rules": [{table, chain, position, hits,
rule, ...}]}} (only rules with hits > 0; a rule it does not list has 0 hits).

Prints, one finding a line:
  rules: N of M agree             every rule's packet counter ([pkts:bytes]) against rxray's hits,
                                  matched by table ("ip filter", "ip6 nat", ...), chain and
                                  position within the chain; up to 10 that differ follow.
                                  With nft-ruleset-after.txt and no iptables-save-c.txt:
  rules: not compared (nft ruleset)  (nft has per-rule counters only where the ruleset has
                                  `counter` statements; not compared yet)
  input counters: N of M agree    the counters that describe received packets, which the replay
                                  reproduces; the differing ones follow
  other counters ...              the rest of rxray's counters that differ: output and timer
                                  counters, which the replay cannot match exactly (the socket
                                  holder closes connections, the timeline is compressed); info only
Exit status 0 (whatever the agreement), 2 if an input cannot be read.
"""
import json
import os
import re
import sys

INPUT = ["IpInReceives", "IpInDelivers", "IpInHdrErrors", "IpInAddrErrors", "IpForwDatagrams",
         "IpReasmReqds", "IpReasmOKs", "IpReasmFails", "IpFragOKs", "IpFragCreates",
         "IpExtInOctets", "IpExtInNoECTPkts", "Ip6InReceives", "Ip6InDelivers", "Ip6InOctets",
         "TcpInSegs", "TcpPassiveOpens", "TcpInErrs", "UdpInDatagrams", "UdpNoPorts",
         "UdpInErrors", "IcmpInMsgs", "IcmpInEchos", "Icmp6InMsgs"]
MAX_LISTED = 10


def fail(msg):
    print("agree: " + msg, file=sys.stderr)
    sys.exit(2)


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        fail("cannot read %s: %s" % (path, e.strerror or e))


RULE = re.compile(r"^\[(\d+):(\d+)\]\s+(-A\s+(\S+).*)$")


def rules_of(path, family):
    """{(table, chain, position): (packets, rule text)} in file order, from iptables-save -c."""
    rules, pos, table = {}, {}, None
    for n, line in enumerate(read_text(path).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = family + " " + line[1:].strip()
            continue
        if line == "COMMIT":
            table = None
            continue
        m = RULE.match(line)
        if m and table:
            chain = m.group(4)
            pos[(table, chain)] = pos.get((table, chain), 0) + 1
            rules[(table, chain, pos[(table, chain)])] = (int(m.group(1)), m.group(3))
        elif line.startswith("-A") or line.startswith("["):
            fail("%s:%d: not an iptables-save -c rule line: %s" % (path, n, line[:80]))
    return rules


def nstat_of(path):
    counters = {}
    for line in read_text(path).splitlines():
        f = line.split()
        if len(f) >= 2 and not f[0].startswith("#"):
            try:
                counters[f[0]] = int(f[1])
            except ValueError:
                pass
    if not counters:
        fail("%s: no counters in it (expected nstat -az output)" % path)
    return counters


def summary_of(path):
    text = read_text(path).strip()
    if not text:
        fail("%s is empty (expected the last line of rxray's --format jsonl output)" % path)
    try:
        s = json.loads(text.splitlines()[-1])["summary"]
    except (ValueError, KeyError, TypeError) as e:
        fail("%s: its last line is not rxray's {\"summary\": ...} line (%s)" % (path, e))
    if not isinstance(s, dict) or not isinstance(s.get("counters", {}), dict):
        fail("%s: summary has no counters object" % path)
    return s


def main():
    if len(sys.argv) != 3:
        print("usage: agree.py KERNEL_DIR SUMMARY_FILE", file=sys.stderr)
        sys.exit(2)
    kdir, sfile = sys.argv[1], sys.argv[2]
    if not os.path.isdir(kdir):
        fail("%s is not a directory (expected kernel-ref.sh's KREF_COUNTERS output)" % kdir)
    summary = summary_of(sfile)
    kcount = nstat_of(os.path.join(kdir, "nstat.txt"))
    p4 = os.path.join(kdir, "iptables-save-c.txt")
    if not os.path.exists(p4) and os.path.exists(os.path.join(kdir, "nft-ruleset-after.txt")):
        print("rules: not compared (nft ruleset)")
    else:
        compare_rules(summary, sfile, p4, os.path.join(kdir, "ip6tables-save-c.txt"))
    compare_counters(summary, kcount)
    return 0


def compare_rules(summary, sfile, p4, p6):
    krules = rules_of(p4, "ip")
    if os.path.exists(p6):
        krules.update(rules_of(p6, "ip6"))

    # (a) rules
    rhits = {}
    for r in summary.get("top_rules", []) or []:
        try:
            rhits[(r["table"], r["chain"], int(r["position"]))] = (int(r["hits"]), r.get("rule", ""))
        except (KeyError, TypeError, ValueError):
            fail("%s: a top_rules entry lacks table/chain/position/hits: %s" % (sfile, str(r)[:120]))
    families = {k[0].split()[0] for k in krules}
    diffs, total = [], 0
    for key, (pk, text) in krules.items():
        total += 1
        rh = rhits.get(key, (0, ""))[0]
        if rh != pk:
            diffs.append((key, str(pk), str(rh), text))
    # hits rxray reports for a rule the kernel does not have (same family only: without an
    # ip6tables dump, ip6 rules cannot be checked)
    for key, (rh, text) in rhits.items():
        if key not in krules and key[0].split()[0] in families:
            total += 1
            diffs.append((key, "no such rule", str(rh), text))
    print("rules: %d of %d agree (packet counters, iptables-save -c against rxray's hits)"
          % (total - len(diffs), total))
    diffs.sort(key=lambda d: d[0])
    for (table, chain, p), k, r, text in diffs[:MAX_LISTED]:
        print("  differs: %s %s #%d kernel=%s rxray=%s %s" % (table, chain, p, k, r, text))
    if len(diffs) > MAX_LISTED:
        print("  ... and %d more" % (len(diffs) - MAX_LISTED))
    unchecked = sum(1 for k in rhits if k[0].split()[0] not in families)
    if unchecked:
        print("rules: %d rule(s) rxray counted in families the kernel dump lacks (not checked)" % unchecked)


def compare_counters(summary, kcount):
    # (b) counters; a counter absent on a side is 0 there (rxray omits zeros; nstat -z lists all)
    rcount = {k: int(v) for k, v in summary.get("counters", {}).items()}
    inputs = [c for c in INPUT if c in kcount or c in rcount]
    bad = [c for c in inputs if kcount.get(c, 0) != rcount.get(c, 0)]
    print("input counters: %d of %d agree" % (len(inputs) - len(bad), len(inputs)))
    for c in bad:
        k, r = kcount.get(c, 0), rcount.get(c, 0)
        note = ""
        if c == "IpReasmFails":
            # ip_expire counts a timed-out reassembly in both IpReasmFails and IpReasmTimeout; the
            # replay's compressed timeline ends before the kernel's 30 s fragment timer fires.
            kt, rt = kcount.get("IpReasmTimeout", 0), rcount.get("IpReasmTimeout", 0)
            if kt or rt:
                note = (" (of which timeouts, a timer: kernel=%d rxray=%d; without them kernel=%d rxray=%d)"
                        % (kt, rt, k - kt, r - rt))
        print("  differs: %s kernel=%d rxray=%d%s" % (c, k, r, note))
    rest = sorted(c for c in rcount if c not in INPUT)
    other = [c for c in rest if kcount.get(c, 0) != rcount[c]]
    print("other counters (output/timer; the replay cannot match these exactly, info only): "
          "%d of %d differ" % (len(other), len(rest)))
    for c in other:
        print("  %s kernel=%d rxray=%d" % (c, kcount.get(c, 0), rcount[c]))


if __name__ == "__main__":
    sys.exit(main())
