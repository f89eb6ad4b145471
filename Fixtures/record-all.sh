#!/bin/bash
# Records the kernel's ground truth for every scenario under Fixtures/scenarios, or for the
# scenarios named on the command line (names or paths). Needs root, bpftrace, nft, conntrack,
# /usr/bin/python3 with scapy, and rxray built with:
#   swift build -j 2 --scratch-path .build-truth --product rxray
# (or RXRAY=/path/to/rxray). See docs/RECORDING.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "record-all: must run as root" >&2; exit 2; fi
if [ ! -e /sys/kernel/tracing/events/skb/kfree_skb ] && [ ! -e /sys/kernel/debug/tracing/events/skb/kfree_skb ]; then
    mount -t tracefs nodev /sys/kernel/tracing
fi
dirs=()
if [ $# -eq 0 ]; then
    for d in "$here"/scenarios/*/; do dirs+=("${d%/}"); done
else
    for s in "$@"; do
        if [ -d "$s" ]; then dirs+=("$s"); else dirs+=("$here/scenarios/$s"); fi
    done
fi
rc=0
/usr/bin/python3 "$here/lib/record.py" ${RECORD_OPTS:-} "${dirs[@]}" || rc=$?
# Fixtures/demo (the capture and host `make run` uses) is a symbolic link to scenarios/demo.
exit $rc
