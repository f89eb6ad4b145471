/// Decodes frames into `DecodedFrame` values without allocating.
///
/// Each layer checks its bounds once, then reads fields from the bytes; the frame is decoded
/// as far as it goes and every problem lands in `DecodedFrame.issues`.
public enum FrameDecoder {
    /// Decodes one captured frame.
    ///
    /// - Parameters:
    ///   - bytes: the captured bytes (caplen of them).
    ///   - linkType: the capture's link type.
    ///   - wireLength: the frame's original length (pcap `len`); values below `bytes.count`
    ///     are taken as `bytes.count`.
    /// - Complexity: O(headers + options); O(n) more in the bytes covered by checksums.
    public static func decode(_ bytes: UnsafeRawBufferPointer, linkType: LinkType, wireLength: Int) -> DecodedFrame {
        var d = Decoder(bytes: bytes, frame: DecodedFrame(linkType: linkType, capturedLength: bytes.count, wireLength: wireLength))
        d.decodeLink()
        return d.frame
    }
}

/// The pseudo-header addresses of the IP layer carrying a transport header.
enum PseudoAddresses {
    case v4(IPv4Address, IPv4Address)
    case v6(IPv6Address, IPv6Address)
}

struct Decoder {
    let bytes: UnsafeRawBufferPointer
    var frame: DecodedFrame
    var count: Int { bytes.count }
    var wire: Int { frame.wireLength }

    init(bytes: UnsafeRawBufferPointer, frame: DecodedFrame) {
        self.bytes = bytes
        self.frame = frame
    }

    // MARK: Link layer

    mutating func decodeLink() {
        let lt = frame.linkType
        switch lt.rawValue {
        case LinkType.ethernet.rawValue:
            guard count >= EthernetHeader.length else { return frame.note(.truncated(.link)) }
            frame.linkHeaderLength = EthernetHeader.length
            walkTags(type: bytes.be16(12), at: EthernetHeader.length, ethernet: true)
        case LinkType.linuxSLL.rawValue:
            guard count >= LinuxSLLHeader.length else { return frame.note(.truncated(.link)) }
            frame.linkHeaderLength = LinuxSLLHeader.length
            frame.linkPacketType = bytes.be16(0)
            walkTags(type: bytes.be16(14), at: LinuxSLLHeader.length, ethernet: false)
        case LinkType.linuxSLL2.rawValue:
            guard count >= LinuxSLL2Header.length else { return frame.note(.truncated(.link)) }
            frame.linkHeaderLength = LinuxSLL2Header.length
            frame.linkPacketType = UInt16(bytes.be8(10))
            frame.interfaceIndex = bytes.be32(4)
            walkTags(type: bytes.be16(0), at: LinuxSLL2Header.length, ethernet: false)
        case LinkType.null.rawValue, LinkType.loop.rawValue:
            guard count >= 4 else { return frame.note(.truncated(.link)) }
            frame.linkHeaderLength = 4
            let family = lt == .null ? LoopbackFamily.nullFamily(bytes) : bytes.be32(0)
            frame.loopbackFamily = family
            if family == LoopbackFamily.inet {
                frame.etherType = EtherType.ipv4
                decodeIPv4(at: 4)
            } else if LoopbackFamily.isInet6(family) {
                frame.etherType = EtherType.ipv6
                decodeIPv6(at: 4)
            } else {
                frame.note(.unsupported(.link, .addressFamily(family)))
            }
        case LinkType.raw.rawValue:
            guard count >= 1 else { return frame.note(.truncated(.link)) }
            switch bytes.be8(0) >> 4 {
            case 4: frame.etherType = EtherType.ipv4; decodeIPv4(at: 0)
            case 6: frame.etherType = EtherType.ipv6; decodeIPv6(at: 0)
            case let v: frame.note(.unsupported(.link, .ipVersion(v)))
            }
        case LinkType.ipv4.rawValue:
            frame.etherType = EtherType.ipv4
            decodeIPv4(at: 0)
        case LinkType.ipv6.rawValue:
            frame.etherType = EtherType.ipv6
            decodeIPv6(at: 0)
        default:
            frame.note(.unsupported(.link, .linkType(lt.rawValue)))
        }
    }

    /// Walks 802.1Q/802.1ad tags starting with `type` read just before `offset`, then hands
    /// the final protocol to the network layer.
    mutating func walkTags(type initial: UInt16, at start: Int, ethernet: Bool) {
        var type = initial
        var offset = start
        while EtherType.isVLANTag(type) {
            guard count - offset >= 4 else { return frame.note(.truncated(.vlan)) }
            guard frame.vlanTags.append(VLANTag(tpid: type, tci: bytes.be16(offset))) else {
                return frame.note(.unsupported(.vlan, .tooManyVLANTags))
            }
            type = bytes.be16(offset + 2)
            offset += 4
        }
        let layer: DecodeLayer = frame.vlanTags.isEmpty ? .link : .vlan
        if type < 0x0600 {
            // Ethernet: an 802.3 length (LLC follows). Cooked: a Linux ETH_P_* pseudo-protocol.
            return frame.note(.unsupported(layer, ethernet ? .llcFrame(length: type) : .etherType(type)))
        }
        frame.etherType = type
        switch type {
        case EtherType.ipv4: decodeIPv4(at: offset)
        case EtherType.ipv6: decodeIPv6(at: offset)
        case EtherType.arp: decodeARP(at: offset)
        default:
            frame.networkOffset = offset
            frame.payloadOffset = offset
            frame.payloadLength = wire - offset
            frame.note(.unsupported(layer, .etherType(type)))
        }
    }

    // MARK: ARP

    mutating func decodeARP(at off: Int) {
        guard count - off >= ARPHeader.fixedLength else { return frame.note(.truncated(.arp)) }
        frame.network = .arp
        frame.networkOffset = off
        frame.networkHeaderLength = ARPHeader.fixedLength
        let htype = bytes.be16(off), ptype = bytes.be16(off + 2)
        let hlen = bytes.be8(off + 4), plen = bytes.be8(off + 5)
        let ethernetLike = htype == 1 || htype == 6
        guard ethernetLike && ptype == EtherType.ipv4 else {
            frame.payloadOffset = off + 8
            frame.payloadLength = max(0, wire - off - 8)
            return frame.note(.unsupported(.arp, .arpFormat(hardware: htype, protocol: ptype)))
        }
        guard hlen == 6 && plen == 4 else { return frame.note(.malformed(.arp, .badARPAddressLength)) }
        guard count - off >= ARPHeader.ethernetIPv4Length else { return frame.note(.truncated(.arp)) }
        frame.networkHeaderLength = ARPHeader.ethernetIPv4Length
        frame.payloadOffset = off + ARPHeader.ethernetIPv4Length
        frame.payloadLength = 0
        frame.paddingLength = max(0, wire - off - ARPHeader.ethernetIPv4Length)
    }

    // MARK: IPv4

    mutating func decodeIPv4(at off: Int) {
        guard count - off >= IPv4Header.minimumLength else { return frame.note(.truncated(.ipv4)) }
        let vihl = bytes.be8(off)
        guard vihl >> 4 == 4 else { return frame.note(.malformed(.ipv4, .versionMismatch)) }
        let hl = Int(vihl & 0x0F) * 4
        guard hl >= 20 else { return frame.note(.malformed(.ipv4, .headerLengthTooShort)) }
        guard count - off >= hl else { return frame.note(.truncated(.ipv4)) }
        frame.network = .ipv4
        frame.networkOffset = off
        frame.networkHeaderLength = hl

        if InternetChecksum.sum(bytes.slice(off, off + hl)).folded == 0xFFFF {
            frame.ipChecksum = .good
        } else {
            frame.ipChecksum = .bad
            frame.note(.badChecksum(.ipv4))
        }

        let total = Int(bytes.be16(off + 2))
        let end: Int
        if total == 0 {
            // TSO / BIG TCP: the length field is 0 and the frame carries the datagram.
            frame.ipLengthFromFrame = true
            end = wire
        } else {
            guard total >= hl else { return frame.note(.malformed(.ipv4, .totalLengthTooShort)) }
            guard off + total <= wire else { return frame.note(.malformed(.ipv4, .totalLengthExceedsFrame)) }
            end = off + total
        }
        frame.ipEnd = end
        frame.paddingLength = wire - end

        if hl > 20 {
            frame.ipv4Options.areaOffset = off + 20
            frame.ipv4Options.areaLength = hl - 20
            if let problem = parseIPv4Options(bytes.slice(off + 20, off + hl), into: &frame.ipv4Options) {
                frame.note(.malformed(.ipv4, problem))
            }
            if let ra = frame.ipv4Options.first(kind: IPv4OptionKind.routerAlert) {
                frame.routerAlert = bytes.be16(off + 20 + Int(ra.offset) + 2)
            }
        }

        let fragWord = bytes.be16(off + 6)
        let proto = bytes.be8(off + 9)
        frame.transportProtocol = proto
        frame.transportOffset = off + hl
        frame.payloadOffset = off + hl
        frame.payloadLength = end - off - hl
        if fragWord & 0x3FFF != 0 {
            let info = FragmentInfo(identification: UInt32(bytes.be16(off + 4)), offset: fragWord & 0x1FFF,
                                    moreFragments: fragWord & 0x2000 != 0, dontFragment: fragWord & 0x4000 != 0)
            frame.fragment = info
            if info.offset != 0 { return }  // a later fragment: the payload is opaque
        }
        decodeTransport(proto, at: off + hl, end: end,
                        pseudo: .v4(bytes.ipv4(off + 12), bytes.ipv4(off + 16)),
                        isFragment: frame.fragment != nil, ipLayer: .ipv4)
    }

    // MARK: IPv6

    mutating func decodeIPv6(at off: Int) {
        guard count - off >= IPv6Header.length else { return frame.note(.truncated(.ipv6)) }
        guard bytes.be8(off) >> 4 == 6 else { return frame.note(.malformed(.ipv6, .versionMismatch)) }
        frame.network = .ipv6
        frame.networkOffset = off
        frame.networkHeaderLength = IPv6Header.length

        let payloadLength = Int(bytes.be16(off + 4))
        var nh = bytes.be8(off + 6)
        var end = off + 40 + payloadLength
        var jumbo: UInt32?
        if payloadLength == 0 {
            if nh == IPProtocol.hopByHop, let j = jumboLength(at: off + 40) {
                jumbo = j
                end = off + 40 + Int(j)
            } else if wire - off > 40 {
                frame.ipLengthFromFrame = true
                end = wire
            }
        }
        guard end <= wire else { return frame.note(.malformed(.ipv6, .totalLengthExceedsFrame)) }
        frame.ipEnd = end
        frame.paddingLength = wire - end

        var cur = off + 40
        var finalDestination = bytes.ipv6(off + 24)
        var first = true
        walk: while true {
            switch nh {
            case IPProtocol.hopByHop, IPProtocol.routing, IPProtocol.destinationOptions,
                 IPProtocol.fragment, IPProtocol.ah:
                if nh == IPProtocol.hopByHop && !first {
                    return frame.note(.malformed(.ipv6Extension, .hopByHopNotFirst))
                }
                guard end - cur >= 2 else { return frame.note(.malformed(.ipv6Extension, .badExtensionHeaderLength)) }
                guard count - cur >= 2 else { return frame.note(.truncated(.ipv6Extension)) }
                let lenByte = Int(bytes.be8(cur + 1))
                let len: Int
                switch nh {
                case IPProtocol.fragment: len = 8
                case IPProtocol.ah:
                    guard lenByte >= 1 else { return frame.note(.malformed(.ipv6Extension, .badExtensionHeaderLength)) }
                    len = (lenByte + 2) * 4
                default: len = (lenByte + 1) * 8
                }
                guard end - cur >= len else { return frame.note(.malformed(.ipv6Extension, .badExtensionHeaderLength)) }
                guard count - cur >= len else { return frame.note(.truncated(.ipv6Extension)) }
                let next = bytes.be8(cur)
                guard frame.ipv6Extensions.append(IPv6ExtensionRecord(type: nh, nextHeader: next, length: UInt16(len), offset: UInt32(cur))) else {
                    return frame.note(.unsupported(.ipv6Extension, .tooManyExtensionHeaders))
                }
                switch nh {
                case IPProtocol.hopByHop, IPProtocol.destinationOptions:
                    var it = IPv6OptionIterator(header: bytes.slice(cur, cur + len))
                    while let opt = it.next() {
                        switch opt {
                        case .routerAlert(let v) where nh == IPProtocol.hopByHop: frame.routerAlert = v
                        case .jumboPayload(let v):
                            if nh != IPProtocol.hopByHop || payloadLength != 0 || v <= 65535 || jumbo == nil {
                                frame.note(.malformed(.ipv6Extension, .badJumboPayload))
                            }
                        default: break
                        }
                    }
                    if it.isMalformed { frame.note(.malformed(.ipv6Extension, .badOptionLength)) }
                case IPProtocol.routing:
                    if let rh = IPv6RoutingHeader(bytes, record: frame.ipv6Extensions[frame.ipv6Extensions.count - 1]),
                       let fd = rh.finalDestination {
                        finalDestination = fd
                    }
                case IPProtocol.fragment:
                    let w = bytes.be16(cur + 2)
                    frame.fragment = FragmentInfo(identification: bytes.be32(cur + 4), offset: w >> 3,
                                                  moreFragments: w & 1 != 0, dontFragment: false)
                default: break
                }
                first = false
                cur += len
                nh = next
                if nh != IPProtocol.noNextHeader, let f = frame.fragment, f.offset != 0 {
                    // A later fragment: what follows is the middle of the datagram.
                    frame.transportProtocol = nh
                    frame.transportOffset = cur
                    frame.payloadOffset = cur
                    frame.payloadLength = end - cur
                    return
                }
            case IPProtocol.esp:
                _ = frame.ipv6Extensions.append(IPv6ExtensionRecord(type: nh, nextHeader: 0, length: 0, offset: UInt32(cur)))
                frame.transportProtocol = nh
                frame.transportOffset = cur
                frame.payloadOffset = cur
                frame.payloadLength = end - cur
                return frame.note(.unsupported(.ipv6Extension, .encrypted))
            case IPProtocol.noNextHeader:
                frame.transportProtocol = nh
                frame.transportOffset = cur
                frame.payloadOffset = cur
                frame.payloadLength = end - cur
                return
            default:
                break walk
            }
        }
        frame.transportProtocol = nh
        frame.transportOffset = cur
        frame.payloadOffset = cur
        frame.payloadLength = end - cur
        decodeTransport(nh, at: cur, end: end, pseudo: .v6(bytes.ipv6(off + 8), finalDestination),
                        isFragment: frame.fragment != nil, ipLayer: .ipv6)
    }

    /// The jumbo payload length from a hop-by-hop header at `hbh`, if fully captured and present.
    func jumboLength(at hbh: Int) -> UInt32? {
        guard count - hbh >= 2 else { return nil }
        let len = (Int(bytes.be8(hbh + 1)) + 1) * 8
        guard count - hbh >= len else { return nil }
        var it = IPv6OptionIterator(header: bytes.slice(hbh, hbh + len))
        while let o = it.next() {
            if case .jumboPayload(let v) = o { return v }
        }
        return nil
    }

    // MARK: Transport

    mutating func decodeTransport(_ proto: UInt8, at off: Int, end: Int, pseudo: PseudoAddresses,
                                  isFragment: Bool, ipLayer: DecodeLayer) {
        switch (proto, ipLayer) {
        case (IPProtocol.tcp, _): decodeTCP(at: off, end: end, pseudo: pseudo, isFragment: isFragment)
        case (IPProtocol.udp, _): decodeUDP(at: off, end: end, pseudo: pseudo, isFragment: isFragment)
        case (IPProtocol.icmp, .ipv4): decodeICMP(at: off, end: end, isFragment: isFragment)
        case (IPProtocol.icmpv6, .ipv6): decodeICMPv6(at: off, end: end, pseudo: pseudo, isFragment: isFragment)
        default:
            frame.note(.unsupported(ipLayer, .ipProtocol(proto)))
        }
    }

    /// Checks that a transport header of `need` bytes fits in the datagram and was captured.
    mutating func headerFits(_ need: Int, at off: Int, end: Int, layer: DecodeLayer) -> Bool {
        guard end - off >= need else { frame.note(.malformed(layer, .headerBeyondPayload)); return false }
        guard count - off >= need else { frame.note(.truncated(layer)); return false }
        return true
    }

    /// Verifies a transport checksum over `off..<end` with the pseudo-header (or none).
    func verify(at off: Int, end: Int, pseudo: PseudoAddresses?, proto: UInt8) -> Bool {
        var c = InternetChecksum()
        let length = end - off
        switch pseudo {
        case .v4(let s, let d)?:
            c.add(s); c.add(d); c.add(UInt16(proto)); c.add(UInt16(truncatingIfNeeded: length))
        case .v6(let s, let d)?:
            c.add(s); c.add(d); c.add(UInt32(truncatingIfNeeded: length)); c.add(UInt16(proto))
        case nil:
            break
        }
        c.add(bytes.slice(off, end))
        return c.folded == 0xFFFF
    }

    mutating func setTransportChecksum(_ good: Bool, layer: DecodeLayer) {
        frame.transportChecksum = good ? .good : .bad
        if !good { frame.note(.badChecksum(layer)) }
    }

    mutating func decodeTCP(at off: Int, end: Int, pseudo: PseudoAddresses, isFragment: Bool) {
        guard headerFits(TCPHeader.minimumLength, at: off, end: end, layer: .tcp) else { return }
        frame.transport = .tcp
        let doff = Int(bytes.be8(off + 12) >> 4) * 4
        frame.transportHeaderLength = 20
        frame.payloadOffset = off + 20
        frame.payloadLength = end - off - 20
        guard doff >= 20 else { return frame.note(.malformed(.tcp, .dataOffsetTooSmall)) }
        guard end - off >= doff else { return frame.note(.malformed(.tcp, .dataOffsetBeyondSegment)) }
        guard count - off >= doff else { return frame.note(.truncated(.tcp)) }
        frame.transportHeaderLength = doff
        frame.payloadOffset = off + doff
        frame.payloadLength = end - off - doff
        if doff > 20 {
            frame.tcpOptions.areaOffset = off + 20
            frame.tcpOptions.areaLength = doff - 20
            if let p = parseTCPOptions(bytes.slice(off + 20, off + doff), into: &frame.tcpOptions) {
                frame.note(.malformed(.tcp, p))
            }
        }
        if isFragment || end > count {
            frame.transportChecksum = .notVerifiable
        } else {
            setTransportChecksum(verify(at: off, end: end, pseudo: pseudo, proto: IPProtocol.tcp), layer: .tcp)
        }
    }

    mutating func decodeUDP(at off: Int, end: Int, pseudo: PseudoAddresses, isFragment: Bool) {
        guard headerFits(UDPHeader.length, at: off, end: end, layer: .udp) else { return }
        frame.transport = .udp
        frame.transportHeaderLength = 8
        frame.payloadOffset = off + 8
        var ulen = Int(bytes.be16(off + 4))
        if ulen == 0, end - off > 65535 {
            ulen = end - off  // an IPv6 jumbogram (RFC 2675) or a BIG TCP / GRO super-packet
        }
        frame.payloadLength = end - off - 8
        guard ulen >= 8 else { return frame.note(.malformed(.udp, .udpLengthTooShort)) }
        if !isFragment {
            guard ulen <= end - off else { return frame.note(.malformed(.udp, .udpLengthExceedsPayload)) }
            frame.payloadLength = ulen - 8
        }
        let udpEnd = isFragment ? end : off + ulen
        let csum = bytes.be16(off + 6)
        if csum == 0 {
            if case .v4 = pseudo {
                frame.transportChecksum = .absent
            } else {
                setTransportChecksum(false, layer: .udp)
            }
        } else if isFragment || udpEnd > count {
            frame.transportChecksum = .notVerifiable
        } else {
            setTransportChecksum(verify(at: off, end: udpEnd, pseudo: pseudo, proto: IPProtocol.udp), layer: .udp)
        }
    }

    mutating func decodeICMP(at off: Int, end: Int, isFragment: Bool) {
        guard headerFits(ICMPHeader.length, at: off, end: end, layer: .icmp) else { return }
        frame.transport = .icmp
        frame.transportHeaderLength = 8
        frame.payloadOffset = off + 8
        frame.payloadLength = end - off - 8
        if isFragment || end > count {
            frame.transportChecksum = .notVerifiable
        } else {
            setTransportChecksum(verify(at: off, end: end, pseudo: nil, proto: IPProtocol.icmp), layer: .icmp)
        }
        if ICMPType.isError(bytes.be8(off)) {
            decodeEmbeddedIPv4(at: off + 8, end: end, layer: .icmp)
        }
    }

    mutating func decodeICMPv6(at off: Int, end: Int, pseudo: PseudoAddresses, isFragment: Bool) {
        guard headerFits(ICMPv6Header.length, at: off, end: end, layer: .icmpv6) else { return }
        let type = bytes.be8(off)
        frame.transport = .icmpv6
        frame.transportHeaderLength = 8
        frame.payloadOffset = off + 8
        frame.payloadLength = end - off - 8
        if isFragment || end > count {
            frame.transportChecksum = .notVerifiable
        } else {
            setTransportChecksum(verify(at: off, end: end, pseudo: pseudo, proto: IPProtocol.icmpv6), layer: .icmpv6)
        }
        if type >= 1 && type <= 4 { return decodeEmbeddedIPv6(at: off + 8, end: end) }
        guard let fixed = ICMPv6Type.ndFixedLength(type) else { return }
        guard headerFits(fixed, at: off, end: end, layer: .icmpv6) else { return }
        frame.transportHeaderLength = fixed
        frame.payloadOffset = end
        frame.payloadLength = 0
        var o = off + fixed
        while o < end {
            guard end - o >= 2 else { return frame.note(.malformed(.icmpv6, .badNDOptionLength)) }
            guard count - o >= 2 else { return frame.note(.truncated(.icmpv6)) }
            let units = bytes.be8(o + 1)
            let len = Int(units) * 8
            guard units > 0, end - o >= len else { return frame.note(.malformed(.icmpv6, .badNDOptionLength)) }
            guard count - o >= len else { return frame.note(.truncated(.icmpv6)) }
            frame.ndOptions.append(NDOptionRecord(type: bytes.be8(o), units: units, offset: UInt32(o)))
            o += len
        }
    }

    /// Decodes the IPv4 header and first 8 transport bytes quoted by an ICMP error.
    mutating func decodeEmbeddedIPv4(at off: Int, end: Int, layer: DecodeLayer) {
        guard end - off >= 20 else { return frame.note(.malformed(layer, .badEmbeddedPacket)) }
        guard count - off >= 20 else { return frame.note(.truncated(.embedded)) }
        let vihl = bytes.be8(off)
        let hl = Int(vihl & 0x0F) * 4
        guard vihl >> 4 == 4, hl >= 20, end - off >= hl else { return frame.note(.malformed(layer, .badEmbeddedPacket)) }
        guard count - off >= hl else { return frame.note(.truncated(.embedded)) }
        var e = EmbeddedPacket(version: 4, offset: off, headerLength: hl, protocolNumber: bytes.be8(off + 9),
                               source: .v4(bytes.ipv4(off + 12)), destination: .v4(bytes.ipv4(off + 16)))
        fillEmbeddedTransport(&e, end: end)
        frame.embedded = e
        let t = off + hl
        guard end - t >= 8 else { return frame.note(.malformed(layer, .badEmbeddedPacket)) }
        guard count - t >= 8 else { return frame.note(.truncated(.embedded)) }
    }

    /// Decodes the IPv6 header (skipping extension headers) quoted by an ICMPv6 error.
    mutating func decodeEmbeddedIPv6(at off: Int, end: Int) {
        guard end - off >= 40 else { return frame.note(.malformed(.icmpv6, .badEmbeddedPacket)) }
        guard count - off >= 40 else { return frame.note(.truncated(.embedded)) }
        guard bytes.be8(off) >> 4 == 6 else { return frame.note(.malformed(.icmpv6, .badEmbeddedPacket)) }
        var nh = bytes.be8(off + 6)
        var cur = off + 40
        var limit = IPv6ExtensionChain.capacity
        while IPProtocol.isIPv6Extension(nh) && limit > 0 && min(end, count) - cur >= 2 {
            let len: Int
            switch nh {
            case IPProtocol.fragment: len = 8
            case IPProtocol.ah: len = (Int(bytes.be8(cur + 1)) + 2) * 4
            default: len = (Int(bytes.be8(cur + 1)) + 1) * 8
            }
            guard min(end, count) - cur >= len else { break }
            nh = bytes.be8(cur)
            cur += len
            limit -= 1
        }
        var e = EmbeddedPacket(version: 6, offset: off, headerLength: cur - off, protocolNumber: nh,
                               source: .v6(bytes.ipv6(off + 8)), destination: .v6(bytes.ipv6(off + 24)))
        fillEmbeddedTransport(&e, end: end)
        frame.embedded = e
    }

    func fillEmbeddedTransport(_ e: inout EmbeddedPacket, end: Int) {
        let t = e.transportOffset
        let avail = min(end, count) - t
        switch e.protocolNumber {
        case IPProtocol.tcp, IPProtocol.udp:
            if avail >= 4 { e.sourcePort = bytes.be16(t); e.destinationPort = bytes.be16(t + 2) }
        case IPProtocol.icmp, IPProtocol.icmpv6:
            if avail >= 6 { e.echoIdentifier = bytes.be16(t + 4) }
        default: break
        }
    }
}
