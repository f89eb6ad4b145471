import RxrayHost

// Moving runtime state from one engine to another when the host's configuration is re-read
// (rxray live on SIGHUP). Configuration is what the rulesets and sysctls say; state is what
// traffic built: the conntrack table (with its NAT bindings), recent lists, and the per-rule
// state of limit, hashlimit and statistic matches.

extension NetfilterEngine {
    /// Takes over `old`'s runtime state; this engine keeps its own compiled rules and
    /// conntrack settings (`nf_conntrack_max`, timeouts, liberal/loose flags).
    ///
    /// - The conntrack table is `old`'s, entries and timers unchanged, as the kernel keeps its
    ///   connections when a rule is added or a sysctl changes. Connections this engine's
    ///   starting table lists (`conntrack -L` of the new snapshot) that `old`'s listing did not
    ///   have and `old`'s table does not hold are added, with timeouts running from `now`:
    ///   traffic the model did not see (sent by the host itself) made them. A connection both
    ///   listings have is the model's to track (it may have closed it since). If `old` has seen
    ///   no packet yet, this engine's starting table is the newer truth and stays as loaded.
    /// - `recent` lists are kept by name (the kernel's xt_recent tables outlive a table
    ///   replacement that keeps using them).
    /// - Token buckets, hashlimit tables and nth counters belong to rules. They are kept when
    ///   the rule lists are the same (same tables, chains and rule texts in the same order);
    ///   when any rule changed they start afresh, as after an iptables table replacement.
    ///
    /// - Returns: whether per-rule state was lost: `old` had limit, hashlimit or statistic
    ///   state and the rule lists differ.
    @discardableResult
    public func takeState(from old: NetfilterEngine, now: Int64) -> Bool {
        if old.firstPacketSeen {
            let config = conntrack.config
            let listed = pendingStart
            conntrack = old.conntrack
            conntrack.config = config
            conntrack.merge(listed, except: old.pendingStart, start: now)
            firstPacketSeen = true
            startTableLoaded = false
            // The listing the next reload compares with.
            pendingStart = listed
        }
        for (name, list) in old.recentLists where recentLists[name] == nil { recentLists[name] = list }
        guard sameRules(as: old) else {
            return !(old.buckets.isEmpty && old.hashlimits.isEmpty && old.statistics.isEmpty && old.numgenCounters.isEmpty)
        }
        buckets = old.buckets
        hashlimits = old.hashlimits
        statistics = old.statistics
        numgenCounters = old.numgenCounters
        rng = old.rng
        return false
    }

    /// Whether both engines compiled the same rules in the same order (tables, chains, texts)
    /// with the same stateful matches.
    func sameRules(as other: NetfilterEngine) -> Bool {
        guard ruleInfo.count == other.ruleInfo.count, buckets.count == other.buckets.count,
              hashlimits.count == other.hashlimits.count, statistics.count == other.statistics.count,
              numgenCounters.count == other.numgenCounters.count else { return false }
        for (a, b) in zip(ruleInfo, other.ruleInfo) where a.table != b.table || a.chain != b.chain || a.text != b.text {
            return false
        }
        for (a, b) in zip(buckets, other.buckets) where a.rate != b.rate || a.per != b.per || a.burst != b.burst || a.bytes != b.bytes {
            return false
        }
        return true
    }
}

extension ConntrackTable {
    /// Adds the `conntrack -L` entries whose tuples neither `known` (an earlier listing) nor
    /// the table holds (in either direction), as confirmed connections whose timeouts run
    /// from `start`.
    mutating func merge(_ entries: [ConntrackEntry], except known: [ConntrackEntry], start: Int64) {
        guard !entries.isEmpty else { return }
        var listed = ConntrackTable(config: config)
        listed.load(entries, start: start)
        var earlier = ConntrackTable(config: config)
        earlier.load(known, start: start)
        for e in listed.slots where e.inUse {
            guard earlier.lookup(e.original) == nil, lookup(e.original) == nil, lookup(e.reply) == nil else { continue }
            var fresh = e
            fresh.inUse = false
            fresh.confirmed = false
            confirm(allocate(fresh))
        }
    }
}
