import RxrayDecode

// Conntrack text written as bytes (stage detail, output): the same text as the `description`s
// and names, without building Strings per frame.

extension CTTuple {
    /// Appends the tuple's text, as `description` spells it (`src=… dst=… sport=… dport=…`;
    /// ICMP: `type=… code=… id=…`; other protocols: `proto=…`).
    public func write(to w: inout ByteWriter) {
        w.ascii("src=")
        src.address(v6: v6).write(to: &w)
        w.ascii(" dst=")
        dst.address(v6: v6).write(to: &w)
        if proto == 1 || proto == 58 {
            w.ascii(" type="); w.decimal(dport >> 8)
            w.ascii(" code="); w.decimal(dport & 0xFF)
            w.ascii(" id="); w.decimal(sport)
        } else if proto == 6 || proto == 17 || proto == 132 || proto == 136 || proto == 33 {
            w.ascii(" sport="); w.decimal(sport)
            w.ascii(" dport="); w.decimal(dport)
        } else {
            w.ascii(" proto="); w.decimal(proto)
        }
    }
}

extension ByteWriter {
    /// Appends ASCII `s` in lower case (other bytes unchanged).
    public mutating func lowercasedASCII(_ s: String) {
        var t = s
        t.withUTF8 { u in
            reserve(u.count)
            for b in u { byte(b >= 65 && b <= 90 ? b | 0x20 : b) }
        }
    }
}

extension NetfilterEngine {
    /// Appends `chainDescription(chain)` (`ip filter INPUT (hook input, priority 0)`).
    public func writeChainDescription(_ chain: Int32, to w: inout ByteWriter) {
        let c = chains[Int(chain)]
        w.string(c.table)
        w.byte(32)
        w.string(c.name)
        w.ascii(" (hook ")
        w.string(c.hook.nftName)
        w.ascii(", priority ")
        w.decimal(c.priority)
        w.byte(41)
    }

    /// Appends the trace of one base-chain visit: the chain, each matched rule with its
    /// verdict, and the policy when it decided (`Kernel.visitText`'s text).
    public func writeVisit(_ v: NFChainVisit, to w: inout ByteWriter) {
        writeChainDescription(v.chain, to: &w)
        for st in traceSteps[v.traceRange] {
            let info = ruleInfo[Int(st.rule)]
            w.ascii("; rule \"")
            w.string(info.text)
            w.ascii("\" (")
            w.string(info.file)
            w.byte(58)
            w.decimal(info.line)
            w.ascii(") verdict ")
            w.string(st.verdict)
        }
        if v.rule < 0 {
            if v.verdict == .drop { w.ascii("; policy drop") } else { w.ascii("; policy accept") }
        }
    }
}
