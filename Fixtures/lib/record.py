#!/usr/bin/python3
"""Records the real kernel's ground truth for rxray scenarios (run as root).

    Fixtures/lib/record.py [--rxray PATH] [--no-snapshot] [--keep-going] SCENARIO_DIR...

For each scenario directory (Fixtures/scenarios/NAME, holding setup.sh and traffic.py) it builds
a device-under-test (DUT) namespace joined by veth pairs to an injector namespace, runs the
setup, takes the host snapshot with `rxray snapshot`, adds tracing, injects the frames one
observation window at a time and writes scenario.json, capture.pcapng, host/, truth.jsonl and
conntrack.txt into the scenario directory. docs/RECORDING.md describes the method and
Fixtures/README.md the output format.
"""
import argparse
import ctypes
import importlib.util
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

LIB = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.dirname(LIB)
REPO = os.path.dirname(FIXTURES)
sys.path.insert(0, LIB)
import rxtruth  # noqa: E402

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TS_BASE_US = 1704067200 * 1_000_000   # 2024-01-01T00:00:00Z: capture timestamps are synthetic
DEFAULT_WINDOW_MS = 50
DEFAULT_QUIET_MS = 30
DEFAULT_MAX_WINDOW_MS = 3000
SETTLE_QUIET_MS = 300
BURST_ATTEMPTS = 5
CLOCK_MONOTONIC_COARSE = 6
# Paced timing (TIMING = "paced" in traffic.py): a window may start at most this late after its
# slot, and its observation ends this long before the next slot (fence and counters).
DEFAULT_PACE_MS = 200
PACED_LATE_MS = 20
PACED_FENCE_MS = 40
PACED_ATTEMPTS = 4


class LateSlot(RuntimeError):
    """A paced window could not start on time (a loaded machine): the scenario is recorded again."""
# Drops the kernel makes without a kfree_skb event (the skb is consumed): a SYN refused by a full
# SYN or accept queue. When one of these moves in a window, its fate is "dropped".
SILENT_DROP_COUNTERS = ("TcpExtListenDrops",)
TRACE_TABLE = """table inet rxtrace {
  chain pre { type filter hook prerouting priority -500; policy accept; meta nftrace set 1; }
}
"""

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def log(msg):
    print(f"record: {msg}", file=sys.stderr, flush=True)


def run(argv, ns=None, check=True, input=None, capture=True):
    full = (["ip", "netns", "exec", ns] if ns else []) + argv
    r = subprocess.run(full, input=input, capture_output=capture, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(full)}\n{r.stderr}")
    return r


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns {path}: {os.strerror(e)}")
    finally:
        os.close(fd)


def drop_reason_names():
    """SKB_DROP_REASON_* names by value, from the tracepoint's own format description."""
    for base in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        p = f"{base}/events/skb/kfree_skb/format"
        if os.path.exists(p):
            text = open(p).read()
            return {int(n): s for n, s in re.findall(r'\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}', text)}
    raise RuntimeError("skb/kfree_skb tracepoint format not found: mount tracefs "
                       "(mount -t tracefs nodev /sys/kernel/tracing)")


def strip_suffix(sym):
    """Drops compiler clone suffixes (.constprop.0, .isra.0, .part.0, .cold), which vary
    between builds of the same kernel source."""
    return re.sub(r"(\.(constprop|isra|part|cold|llvm)(\.\d+)?)+$", "", sym)


class Tracer:
    """bpftrace on skb:kfree_skb / skb:consume_skb, filtered to one namespace (kfree.bt)."""

    def __init__(self):
        self.reasons = drop_reason_names()
        self.proc = subprocess.Popen(["bpftrace", os.path.join(LIB, "kfree.bt")], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.cond = threading.Condition()
        self.events = []          # ("K", reason, location) / ("C", location) since the last fence
        self.markers = set()
        self.watching = None
        self.ready = False
        self.last = 0.0
        self.k = 0
        self.err = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        deadline = time.monotonic() + 60
        with self.cond:
            while not self.ready:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("bpftrace did not start:\n" + "".join(self.err))
                self.cond.wait(0.2)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def _read(self):
        for line in self.proc.stdout:
            parts = line.split()
            if not parts:
                continue
            with self.cond:
                tag = parts[0]
                if tag == "READY":
                    self.ready = True
                elif tag == "D":
                    self.watching = int(parts[1])
                    self.events = []
                elif tag == "M":
                    self.markers.add(int(parts[1]))
                elif tag == "K" and len(parts) >= 3:
                    reason = self.reasons.get(int(parts[1]), f"REASON_{parts[1]}")
                    self.events.append(("K", reason, strip_suffix(parts[2])))
                    self.last = time.monotonic()
                elif tag == "C" and len(parts) >= 2:
                    self.events.append(("C", strip_suffix(parts[1])))
                    self.last = time.monotonic()
                self.cond.notify_all()

    @staticmethod
    def _poke(value):
        try:
            os.getpgid(value)
        except ProcessLookupError:
            pass

    def watch(self, inum):
        offset = inum - 0xF0000000
        if not 0 <= offset < 0x10000000:
            raise RuntimeError(f"unexpected namespace inode {inum}")
        with self.cond:
            self.watching = None
        self._poke(0x40000000 + offset)
        with self.cond:
            deadline = time.monotonic() + 10
            while self.watching != inum:
                if time.monotonic() > deadline:
                    raise RuntimeError("bpftrace did not acknowledge the namespace")
                self.cond.wait(0.1)
        self.fence()

    def fence(self):
        """Returns the events seen since the previous fence. bpftrace reads one buffer per CPU,
        so a marker is emitted from every CPU in turn (the calling thread pinned to it): once
        all have been read, every event emitted on any CPU before them has been read too."""
        cpus = sorted(os.sched_getaffinity(0))
        ks = []
        try:
            for cpu in cpus:
                self.k += 1
                ks.append(self.k)
                os.sched_setaffinity(0, {cpu})
                self._poke(0x20000000 + self.k)
        finally:
            os.sched_setaffinity(0, set(cpus))
        with self.cond:
            deadline = time.monotonic() + 10
            while not all(k in self.markers for k in ks):
                if time.monotonic() > deadline:
                    raise RuntimeError("bpftrace marker lost")
                self.cond.wait(0.1)
            self.markers.difference_update(ks)
            ev, self.events = self.events, []
        return ev

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Capture:
    """AF_PACKET sockets on the injector's peer interfaces: send frames, keep what the DUT sends."""

    def __init__(self, inj_ns, peers):
        self.send_socks, self.recv_socks = {}, {}
        self.lock = threading.Lock()
        self.frames = []      # (iface (DUT name), bytes)
        self.last = 0.0
        self.stop = False
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        try:
            setns(f"/run/netns/{inj_ns}")
            for dut_if, peer in peers.items():
                r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
                r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                r.bind((peer, ETH_P_ALL))
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
                s.bind((peer, 0))
                self.recv_socks[r.fileno()] = (dut_if, r)
                self.send_socks[dut_if] = s
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the recorder's namespace")
            os.close(own)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        fds = list(self.recv_socks)
        while not self.stop:
            ready, _, _ = select.select(fds, [], [], 0.05)
            for fd in ready:
                dut_if, sock = self.recv_socks[fd]
                try:
                    data, addr = sock.recvfrom(262144)
                except OSError:          # ENETDOWN while links come up
                    continue
                if addr[2] == PACKET_OUTGOING:
                    continue
                with self.lock:
                    self.frames.append((dut_if, data))
                    self.last = time.monotonic()

    def send(self, dut_if, data):
        self.send_socks[dut_if].send(data)

    def take(self):
        with self.lock:
            f, self.frames = self.frames, []
        return f

    def close(self):
        self.stop = True
        self.thread.join(1)
        for s in list(self.send_socks.values()) + [v[1] for v in self.recv_socks.values()]:
            s.close()


class NftMonitor:
    """`nft monitor trace` in the DUT namespace."""

    def __init__(self, ns):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "stdbuf", "-oL", "nft", "monitor", "trace"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.lock = threading.Lock()
        self.lines = []
        self.last = 0.0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))
                self.last = time.monotonic()

    def take(self):
        with self.lock:
            l, self.lines = self.lines, []
        return normalise_trace_ids(l)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def normalise_trace_ids(lines):
    """nft trace ids are random, and the events of packets handled back to back (a GRO burst)
    interleave and arrive in an order that varies from run to run. Each packet's lines are kept
    together in their own order; packets are ordered by their lines' text (with the id
    removed: it holds the packet's headers, e.g. its IP ID) and numbered 1, 2, ... in that
    order."""
    groups, order, loose = {}, [], []
    for l in lines:
        m = re.match(r"trace id ([0-9a-f]+) (.*)$", l)
        if not m:
            loose.append(l)
            continue
        if m.group(1) not in groups:
            groups[m.group(1)] = []
            order.append(m.group(1))
        groups[m.group(1)].append(m.group(2))
    ranked = sorted(order, key=lambda k: groups[k])
    out = []
    for n, k in enumerate(ranked, 1):
        out += [f"trace id {n} {rest}" for rest in groups[k]]
    return out + loose


def read_counters(pid):
    """The counters nstat shows, under nstat's names, from a process inside the DUT."""
    c = {}
    for f in ("snmp", "netstat"):
        try:
            lines = open(f"/proc/{pid}/net/{f}").read().splitlines()
        except FileNotFoundError:
            continue
        for i in range(0, len(lines) - 1, 2):
            hk, hv = lines[i].split(), lines[i + 1].split()
            if not hk or hk[0] != hv[0]:
                continue
            prefix = hk[0].rstrip(":")
            for k, v in zip(hk[1:], hv[1:]):
                c[prefix + k] = int(v)
    try:
        for line in open(f"/proc/{pid}/net/snmp6"):
            p = line.split()
            if len(p) == 2:
                c[p[0]] = int(p[1])
    except FileNotFoundError:
        pass
    return c


def counter_delta(before, after):
    d = {}
    for k in sorted(after):
        v = after[k] - before.get(k, 0)
        if v != 0:
            d[k] = v
    return d


def tcpdump_summaries(frames):
    """One tcpdump line (-nn -t -e) per frame; scapy's summary if tcpdump is unavailable."""
    if not frames:
        return []
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "s.pcap")
        with open(p, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            for i, data in enumerate(frames):
                f.write(struct.pack("<IIII", i, 0, len(data), len(data)) + data)
        try:
            r = subprocess.run(["tcpdump", "-nn", "-t", "-e", "-r", p], capture_output=True, text=True)
            out = [l for l in r.stdout.splitlines() if l and not l.startswith((" ", "\t"))]
            if r.returncode == 0 and len(out) == len(frames):
                return [re.sub(r"\s+", " ", l).strip() for l in out]
        except FileNotFoundError:
            pass
    return [rxtruth.Ether(f).summary() for f in frames]


def load_traffic(path):
    spec = importlib.util.spec_from_file_location("traffic", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for attr in ("DESCRIPTION", "STAGES", "FRAMES"):
        if not hasattr(mod, attr):
            raise RuntimeError(f"{path}: missing {attr}")
    if not mod.FRAMES:
        raise RuntimeError(f"{path}: FRAMES is empty")
    return mod


def windows_of(frames):
    """Groups frame indices into observation windows: adjacent frames sharing a burst label."""
    wins = []
    for i, f in enumerate(frames):
        if wins and f["burst"] is not None and frames[wins[-1][-1]]["burst"] == f["burst"]:
            wins[-1].append(i)
        else:
            wins.append([i])
    return wins


def pace_ms(t):
    return int(getattr(t, "PACE_MS", DEFAULT_PACE_MS))


def schedule(t, frames, wins):
    """Slots (ms after the first window) for TIMING = "paced", or None for synthetic timing.
    A window starts at its first frame's at_ms if set, else PACE_MS (plus the frame's delay_ms)
    after the previous window's slot."""
    timing = getattr(t, "TIMING", "synthetic")
    if timing not in ("synthetic", "paced"):
        raise RuntimeError(f"TIMING must be 'synthetic' or 'paced', not {timing!r}")
    if timing == "synthetic":
        for f in frames:
            if f.get("at_ms") is not None or f.get("delay_ms") is not None:
                raise RuntimeError("at_ms/delay_ms need TIMING = 'paced'")
        return None
    at, prev = [], None
    for w, win in enumerate(wins):
        f = frames[win[0]]
        if f.get("at_ms") is not None:
            slot = int(f["at_ms"])
        else:
            slot = 0 if prev is None else prev + pace_ms(t) + int(f.get("delay_ms") or 0)
        if prev is not None and slot <= prev:
            raise RuntimeError(f"frame {win[0] + 1}: at_ms {slot} is not after the previous slot {prev}")
        at.append(slot)
        prev = slot
    return at


class Scenario:
    def __init__(self, path, tracer, rxray, seq, snapshot=True):
        self.dir = os.path.abspath(path)
        self.name = os.path.basename(self.dir.rstrip("/"))
        self.tracer, self.rxray, self.snapshot = tracer, rxray, snapshot
        tag = f"{os.getpid()}-{seq}"
        self.dut, self.inj = f"rxt-dut-{tag}", f"rxt-inj-{tag}"
        self.traffic = load_traffic(os.path.join(self.dir, "traffic.py"))
        self.ifaces = list(getattr(self.traffic, "IFACES", rxtruth.IFACES))
        self.capture = self.nft = self.helper = None
        self.learned = {}

    # --- namespace lifecycle ---------------------------------------------------------------
    def build(self):
        run(["ip", "netns", "add", self.dut])
        run(["ip", "netns", "add", self.inj])
        quiet = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                 "net.ipv6.conf.default.dad_transmits=0", "net.ipv6.conf.all.router_solicitations=0",
                 "net.ipv6.conf.default.router_solicitations=0",
                 "net.ipv6.conf.all.mldv1_unsolicited_report_interval=0",
                 "net.ipv6.conf.default.mldv1_unsolicited_report_interval=0",
                 "net.ipv6.conf.all.mldv2_unsolicited_report_interval=0",
                 "net.ipv6.conf.default.mldv2_unsolicited_report_interval=0"]
        run(["sysctl", "-qw"] + quiet, ns=self.dut)
        run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"],
            ns=self.inj)
        run(["ip", "-n", self.dut, "link", "set", "lo", "up"])
        for i in self.ifaces:
            peer = rxtruth.PEER_IFACE[i]
            run(["ip", "-n", self.dut, "link", "add", i, "address", rxtruth.DUT_MAC[i], "type", "veth",
                 "peer", "name", peer, "address", rxtruth.PEER_MAC[i], "netns", self.inj])
            run(["ethtool", "-K", peer, "tso", "off", "gso", "off"], ns=self.inj)
        self.capture = Capture(self.inj, {i: rxtruth.PEER_IFACE[i] for i in self.ifaces})
        for i in self.ifaces:
            run(["ip", "-n", self.inj, "link", "set", rxtruth.PEER_IFACE[i], "up"])
            run(["ip", "-n", self.dut, "link", "set", i, "up"])
        env = dict(os.environ, RXLIB=LIB, DUT_NS=self.dut, LC_ALL="C")
        r = subprocess.run(["ip", "netns", "exec", self.dut, "bash", "-eu", os.path.join(self.dir, "setup.sh")],
                           cwd=self.dir, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{self.name}/setup.sh failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        self.settle()

    def settle(self):
        """Waits until the DUT has been silent for SETTLE_QUIET_MS (link-up MLD reports)."""
        start = time.monotonic()
        while True:
            time.sleep(0.02)
            last = max(self.capture.last, start)
            if time.monotonic() - last >= SETTLE_QUIET_MS / 1000:
                break
            if time.monotonic() - start > 10:
                raise RuntimeError("the DUT never went quiet after setup")
        noise = self.capture.take()
        if noise:
            log(f"{self.name}: {len(noise)} frame(s) sent by the DUT during setup (ignored)")

    def teardown(self):
        if self.nft:
            self.nft.close()
        if self.capture:
            self.capture.close()
        for ns in (self.dut, self.inj):
            if not os.path.exists(f"/run/netns/{ns}"):
                continue
            pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for p in pids:
                try:
                    os.kill(int(p), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "del", ns], check=False)
        if self.helper:
            self.helper.wait()

    # --- recording ------------------------------------------------------------------------
    def take_snapshot(self):
        """rxray snapshot, then made independent of the run: namespace names replaced, dates
        removed from iptables-save comments, neighbour entries sorted."""
        host = os.path.join(self.dir, "host")
        if not self.snapshot:
            log(f"{self.name}: --no-snapshot: host/ left as it was")
            return
        shutil.rmtree(host, ignore_errors=True)
        run([self.rxray, "snapshot", "--netns", self.dut, "--no-date", "-o", host])
        # Make the snapshot independent of this run's namespace name and of the date.
        for fn in os.listdir(host):
            p = os.path.join(host, fn)
            text = open(p, encoding="utf-8", errors="surrogateescape").read()
            new = text.replace(self.dut, "DUT").replace(self.inj, "INJ")
            # (idempotent: a comment without a date, as `rxray snapshot --no-date` may already
            # write it, is left alone)
            new = re.sub(r"^(# Generated by [^\n]*?) on [^\n]*$", r"\1", new, flags=re.M)
            new = re.sub(r"^# Completed on [^\n]*$", "# Completed", new, flags=re.M)
            if fn == "ip-neigh.json":
                # the neighbour table is listed in hash order, which is seeded per namespace
                # (rewritten only when out of order, so a sorted listing is left byte for byte)
                try:
                    entries = json.loads(new)
                    ordered = sorted(entries, key=lambda e: (e.get("dev", ""), e.get("dst", "")))
                    if ordered != entries:
                        new = json.dumps(ordered, separators=(",", ":")) + "\n"
                except (ValueError, AttributeError, TypeError):
                    pass
            if fn == "sockets.txt":
                # ss lists sockets in hash order
                new = "".join(l + "\n" for l in sorted(new.splitlines()))
            if fn == "ipset.txt":
                # set members are saved in hash order: sort each run of `add` lines
                out, run_ = [], []
                for l in new.splitlines():
                    if l.startswith("add "):
                        run_.append(l)
                        continue
                    out += sorted(run_) + [l]
                    run_ = []
                new = "".join(l + "\n" for l in out + sorted(run_))
            if new != text:
                open(p, "w", encoding="utf-8", errors="surrogateescape").write(new)

    def record(self):
        t = self.traffic
        win_ms = getattr(t, "WINDOW_MS", DEFAULT_WINDOW_MS)
        quiet_ms = getattr(t, "QUIET_MS", DEFAULT_QUIET_MS)
        max_ms = getattr(t, "MAX_WINDOW_MS", DEFAULT_MAX_WINDOW_MS)
        use_nft = getattr(t, "NFT_TRACE", True)
        self.build()
        self.take_snapshot()
        if use_nft:
            run(["nft", "-f", "-"], ns=self.dut, input=TRACE_TABLE)
            self.nft = NftMonitor(self.dut)
            time.sleep(0.3)
        self.helper = subprocess.Popen(["ip", "netns", "exec", self.dut, "sleep", "3600"])
        time.sleep(0.05)
        inum = os.stat(f"/run/netns/{self.dut}").st_ino
        self.tracer.watch(inum)
        self.capture.take()
        if self.nft:
            self.nft.take()

        frames = [dict(f) for f in t.FRAMES]
        wins = windows_of(frames)
        paced = getattr(t, "TIMING", "synthetic") == "paced"
        at = schedule(t, frames, wins)
        results = [None] * len(frames)
        ctx = rxtruth.Context()
        t0 = time.monotonic()
        worst_late = 0.0
        tolerance = getattr(t, "PACE_TOLERANCE_MS", PACED_LATE_MS)
        for w, win in enumerate(wins):
            wms = max([win_ms] + [frames[i]["window_ms"] or 0 for i in win])
            for i in win:
                if callable(frames[i]["build"]):
                    frames[i]["bytes"] = bytes(frames[i]["build"](ctx))
                    if not frames[i]["bytes"]:
                        raise RuntimeError(f"frame {i + 1}: the reactive builder returned nothing")
            if paced:
                slot = t0 + at[w] / 1000
                late = time.monotonic() - slot
                if late > tolerance / 1000:
                    raise LateSlot(f"frame {win[0] + 1}: its slot at {at[w]} ms came {late * 1000:.0f} ms "
                                       f"late (the previous window ran long): raise PACE_MS or at_ms")
                while time.monotonic() < slot:
                    time.sleep(min(0.002, max(0.0, slot - time.monotonic())))
                worst_late = max(worst_late, time.monotonic() - slot)
                # the window ends before the next slot, whatever is still going on
                nxt = t0 + at[w + 1] / 1000 if w + 1 < len(wins) else None
                cut = ((nxt - slot) * 1000 - PACED_FENCE_MS) if nxt else max(max_ms, wms)
            else:
                cut = max(max_ms, wms)
            for attempt in range(BURST_ATTEMPTS):
                before = read_counters(self.helper.pid)
                start, clean = self.send_window(frames, win)
                if clean:
                    break
                if paced:
                    raise RuntimeError(f"burst {win[0] + 1}-{win[-1] + 1} crossed a tick; bursts cannot be "
                                       "resent on a paced schedule")
                # A burst that straddled a jiffy: GRO flushes held packets older than the
                # current jiffy, so the merge result would depend on timing. Observe it out,
                # discard it and send the burst again.
                log(f"{self.name}: burst {win[0] + 1}-{win[-1] + 1} crossed a tick; resending")
                self.wait_window(start, wms, quiet_ms, cut, win)
                self.tracer.fence(); self.capture.take()
                if self.nft:
                    self.nft.take()
            else:
                raise RuntimeError(f"burst {win[0] + 1}-{win[-1] + 1} never fit in one tick")
            self.wait_window(start, wms, quiet_ms, cut, win)
            tw = time.monotonic()
            events = self.tracer.fence()
            if os.environ.get("RECORD_DEBUG"):
                log(f"window {w}: sent +{(start - t0) * 1000:.0f} ms, observed {(tw - start) * 1000:.0f} ms, "
                    f"fence {(time.monotonic() - tw) * 1000:.0f} ms")
            sent = self.capture.take()
            ctx.sent.extend(sent)
            trace = self.nft.take() if self.nft else []
            if len(win) > 1:
                # nft monitor loses or delays some events of packets handled back to back, so a
                # burst's trace differs from run to run: not recorded.
                trace = []
            after = read_counters(self.helper.pid)
            results[win[-1]] = self.observation(win, frames, events, sent, trace, counter_delta(before, after))
        if paced:
            log(f"{self.name}: paced schedule kept (worst start {worst_late * 1000:.1f} ms after its slot)")
        self.learned = dict(ctx.learned)
        ct = run(["conntrack", "-L"], ns=self.dut, check=False).stdout
        self.write(frames, results, ct, win_ms, quiet_ms, at)

    def send_window(self, frames, win):
        """Sends a window's frames; a burst starts right after a kernel tick (the coarse clock
        advances with jiffies) and is clean if no tick passed while it was sent."""
        if len(win) == 1:
            start = time.monotonic()
            self.capture.send(frames[win[0]]["iface"], frames[win[0]]["bytes"])
            return start, True
        t0 = time.clock_gettime(CLOCK_MONOTONIC_COARSE)
        while time.clock_gettime(CLOCK_MONOTONIC_COARSE) == t0:
            pass
        tick = time.clock_gettime(CLOCK_MONOTONIC_COARSE)
        start = time.monotonic()
        for i in win:
            self.capture.send(frames[i]["iface"], frames[i]["bytes"])
        return start, time.clock_gettime(CLOCK_MONOTONIC_COARSE) == tick

    def wait_window(self, start, wms, quiet_ms, cut_ms, win):
        """Waits until at least `wms` ms have passed since `start` and nothing has arrived for
        `quiet_ms`; cut at `cut_ms` (the next slot on a paced schedule)."""
        while True:
            time.sleep(0.005)
            now = time.monotonic()
            last = max(start, self.capture.last, self.tracer.last, self.nft.last if self.nft else 0)
            if now - start >= min(wms, cut_ms) / 1000 and now - last >= quiet_ms / 1000:
                return
            if now - start >= cut_ms / 1000:
                if now - last < quiet_ms / 1000:
                    log(f"{self.name}: frame {win[0] + 1}: window cut at {cut_ms:.0f} ms (still active)")
                return

    def observation(self, win, frames, events, sent, trace, nstat):
        injected = [frames[i]["bytes"] for i in win]
        drops = [{"reason": e[1], "location": e[2]} for e in events if e[0] == "K"]
        consumed = sorted(e[1] for e in events if e[0] == "C" and not e[1].startswith("netlink_"))
        out = []
        for iface, data in sent:
            if rxtruth.is_forward_of(data, injected):
                out.append({"iface": iface, "kind": "forward", "bytes": data, "normalized": []})
            else:
                nb, fields = rxtruth.normalise_reply(data, injected)
                out.append({"iface": iface, "kind": "reply", "bytes": nb, "normalized": fields})
        if any(s["kind"] == "forward" for s in out):
            fate = "forwarded"
        elif drops or any(nstat.get(c, 0) > 0 for c in SILENT_DROP_COUNTERS):
            fate = "dropped"
        else:
            fate = "delivered"
        return {"drops": drops, "fate": fate, "sent": out, "nstat": nstat, "nft_trace": trace,
                "consumed": consumed}

    def write(self, frames, results, ct, win_ms, quiet_ms, at):
        t = self.traffic
        all_sent = [s["bytes"] for r in results if r for s in r["sent"]]
        summaries = iter(tcpdump_summaries(all_sent))
        lines = []
        for win in windows_of(frames):
            obs = results[win[-1]]
            for i in win:
                o = {"frame": i + 1, "ingress": frames[i]["iface"]}
                if len(win) > 1:
                    o["window"] = [win[0] + 1, win[-1] + 1]
                o["fate"] = obs["fate"]
                if i == win[-1]:
                    o["drops"] = obs["drops"]
                    o["sent"] = [{"iface": s["iface"], "kind": s["kind"], "summary": next(summaries),
                                  "hex": s["bytes"].hex(), "normalized": s["normalized"]} for s in obs["sent"]]
                    o["nstat"] = obs["nstat"]
                    o["nft_trace"] = obs["nft_trace"]
                    o["consumed"] = obs["consumed"]
                else:
                    o.update({"drops": [], "sent": [], "nstat": {}, "nft_trace": [], "consumed": []})
                lines.append(json.dumps(o, separators=(",", ":")))
        with open(os.path.join(self.dir, "truth.jsonl"), "w") as f:
            f.write("\n".join(lines) + "\n")

        records = []
        for w, win in enumerate(windows_of(frames)):
            for j, i in enumerate(win):
                base = TS_BASE_US + (at[w] * 1000 if at else w * 1_000_000)
                records.append((frames[i]["iface"], base + j, frames[i]["bytes"]))
        rxtruth.write_pcapng(os.path.join(self.dir, "capture.pcapng"), self.ifaces, records)

        with open(os.path.join(self.dir, "conntrack.txt"), "w") as f:
            f.write(normalise_conntrack(ct))

        meta = {
            "name": self.name,
            "description": " ".join(t.DESCRIPTION.split()),
            "stages": list(t.STAGES),
            "kernel": os.uname().release,
            "interfaces": {i: {"mac": rxtruth.DUT_MAC[i], "peer": rxtruth.PEER_IFACE[i],
                               "peer_mac": rxtruth.PEER_MAC[i]} for i in self.ifaces},
            "options": dict({"capture_point": "wire"}, **getattr(t, "OPTIONS", {})),
            "frames": len(frames),
            "recording": {"window_ms": win_ms, "quiet_ms": quiet_ms, "nft_trace": getattr(t, "NFT_TRACE", True),
                          "capture_timestamps": (
                              f"paced: window w sent at 2024-01-01T00:00:00Z + its slot (every {pace_ms(t)} ms unless "
                              "the frame sets at_ms/delay_ms), within a few ms of the kernel's own clock; frames "
                              "of a burst 1 us apart" if at else
                              "synthetic: window w (0-based) at 2024-01-01T00:00:00Z + w s, "
                              "frames of a burst 1 us apart")},
        }
        if self.learned:
            meta["recording"]["learned"] = self.learned
        with open(os.path.join(self.dir, "scenario.json"), "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")


def normalise_conntrack(text):
    """Sorted entries; the remaining-timeout column rounded up to a multiple of 10 s (every
    default conntrack timeout is one, and recording ends well within 10 s of a flow's last
    packet), so the column shows the timeout the last packet armed."""
    out = []
    for line in text.splitlines():
        p = line.split()
        if len(p) > 3 and p[2].isdigit() and p[1].isdigit():      # "tcp 6 117 SYN_SENT ..."
            p[2] = str(-(-int(p[2]) // 10) * 10)
        elif len(p) > 3 and p[3].isdigit():                       # "ipv4 2 tcp 6 117 ..." (extended)
            p[3] = str(-(-int(p[3]) // 10) * 10)
        out.append(" ".join(p))
    return "".join(l + "\n" for l in sorted(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="+", help="scenario directories")
    ap.add_argument("--rxray", default=os.environ.get("RXRAY", os.path.join(REPO, ".build-truth/debug/rxray")),
                    help="the rxray binary used for `rxray snapshot` (default: %(default)s)")
    ap.add_argument("--no-snapshot", action="store_true", help="do not write host/ (development only)")
    ap.add_argument("--keep-going", action="store_true", help="record the other scenarios when one fails")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("record: must run as root (namespaces, bpftrace)")
    if not a.no_snapshot and not os.access(a.rxray, os.X_OK):
        sys.exit(f"record: {a.rxray} not found; build it: swift build -j 2 --scratch-path .build-truth --product rxray")
    for s in a.scenarios:
        for f in ("setup.sh", "traffic.py"):
            if not os.path.exists(os.path.join(s, f)):
                sys.exit(f"record: {s}: no {f}")

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    tracer = Tracer()
    failed = []
    try:
        for n, path in enumerate(a.scenarios):
            sc = None
            t0 = time.monotonic()
            try:
                for attempt in range(PACED_ATTEMPTS):
                    sc = Scenario(path, tracer, a.rxray, f"{n}{'abcdefgh'[attempt]}", snapshot=not a.no_snapshot)
                    try:
                        sc.record()
                        break
                    except LateSlot as e:
                        if attempt == PACED_ATTEMPTS - 1:
                            raise
                        log(f"{sc.name}: {e}; recording again")
                        sc.teardown()
                        sc = None
                log(f"{sc.name}: {len(sc.traffic.FRAMES)} frames recorded in {time.monotonic() - t0:.1f} s")
            except Exception as e:  # noqa: BLE001 — report and continue or stop
                failed.append(path)
                log(f"{path}: FAILED: {e}")
                if not a.keep_going:
                    break
            finally:
                if sc:
                    sc.teardown()
    finally:
        tracer.close()
    if failed:
        sys.exit(f"record: failed: {' '.join(failed)}")


if __name__ == "__main__":
    main()
