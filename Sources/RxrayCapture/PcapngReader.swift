import RxrayDecode

/// A pcapng reader in pure Swift.
///
/// libpcap 1.10 refuses pcapng files whose interfaces have different link types and does not
/// expose the interface of a packet, interface names or comments, so rxray reads pcapng itself.
/// Handles several sections of either byte order, IDB options `if_name`, `if_description`,
/// `if_tsresol`, `if_tsoffset`; EPB, SPB and the obsolete PB with `opt_comment` and
/// `epb_flags`/`pack_flags` direction; skips NRB, ISB, DSB, custom and unknown blocks.
/// One block buffer is reused for every block: reading a frame allocates nothing unless the
/// frame carries a comment.
final class PcapngReader {
    static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
    static let interfaceDescriptionType: UInt32 = 1
    static let packetType: UInt32 = 2
    static let simplePacketType: UInt32 = 3
    static let enhancedPacketType: UInt32 = 6
    /// Blocks larger than this are taken as corruption rather than allocated (Wireshark uses 16 MiB).
    static let maximumBlockLength = 64 << 20

    let path: String
    let acceptAnyLinkType: Bool
    private let source: ByteSource
    private var block: UnsafeMutableRawPointer
    private var blockCapacity: Int
    private var bigEndian = false
    private var blockOffset: Int64 = 0
    private var blockType: UInt32 = 0
    private var blockLength = 0

    private(set) var interfaces: [CaptureInterface] = []
    /// Per interface: timestamp resolution (`if_tsresol` byte) and offset in seconds.
    private var timestampResolution: [UInt8] = []
    private var timestampOffset: [Int64] = []
    /// Per interface: the labels (its name) its frames without a comment share.
    private var interfaceLabels: [FrameLabels?] = []
    /// Global id of the current section's first interface.
    private var sectionFirstInterface = 0
    private(set) var framesRead = 0

    init(path: String, source: ByteSource, acceptAnyLinkType: Bool) {
        self.path = path
        self.source = source
        self.acceptAnyLinkType = acceptAnyLinkType
        blockCapacity = 1 << 16
        block = UnsafeMutableRawPointer.allocate(byteCount: blockCapacity, alignment: 16)
    }

    deinit { block.deallocate() }

    // MARK: Loads

    @inline(__always)
    private func u16(_ at: Int) -> UInt16 {
        let v = block.loadUnaligned(fromByteOffset: at, as: UInt16.self)
        return bigEndian ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
    }

    @inline(__always)
    private func u32(_ at: Int) -> UInt32 {
        let v = block.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
    }

    @inline(__always)
    private func u64(_ at: Int) -> UInt64 {
        let v = block.loadUnaligned(fromByteOffset: at, as: UInt64.self)
        return bigEndian ? UInt64(bigEndian: v) : UInt64(littleEndian: v)
    }

    private func corrupt(_ problem: String) -> CaptureError {
        .corruptBlock(path: path, offset: blockOffset, blockType: blockType, problem: problem)
    }

    private func truncated(_ detail: String) -> CaptureError {
        .truncated(path: path, frame: framesRead + 1, offset: blockOffset, detail: detail)
    }

    private func read(_ destination: UnsafeMutableRawPointer, _ count: Int) throws(CaptureError) -> Int {
        do {
            return try source.read(into: destination, count: count)
        } catch {
            throw CaptureError.readFailed(path: path, message: error.message)
        }
    }

    private func ensureCapacity(_ count: Int) {
        if count <= blockCapacity { return }
        var newCapacity = blockCapacity
        while newCapacity < count { newCapacity *= 2 }
        let newBlock = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBlock.copyMemory(from: block, byteCount: blockCapacity)
        block.deallocate()
        block = newBlock
        blockCapacity = newCapacity
    }

    // MARK: Blocks

    /// Reads the next whole block into `block`. Returns false at a clean end of file.
    private func readBlock() throws(CaptureError) -> Bool {
        blockOffset = source.offset
        blockType = 0
        let got = try read(block, 8)
        if got == 0 { return false }
        if got < 8 {
            throw truncated("the file ends \(got) bytes into a block header (8 bytes needed)")
        }
        let rawType = block.loadUnaligned(as: UInt32.self)
        if rawType == Self.sectionHeaderType {
            // A new section: its byte-order magic decides how to read everything, its own
            // length included.
            blockType = Self.sectionHeaderType
            let more = try read(block + 8, 4)
            if more < 4 { throw truncated("the file ends inside a section header block") }
            let bom = block.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            if bom == Self.byteOrderMagic.littleEndian {
                bigEndian = false
            } else if bom == Self.byteOrderMagic.bigEndian {
                bigEndian = true
            } else {
                throw corrupt("byte-order magic is 0x\(CaptureError.hex32(UInt32(bigEndian: bom))), not 1a2b3c4d")
            }
        } else {
            blockType = bigEndian ? UInt32(bigEndian: rawType) : UInt32(littleEndian: rawType)
        }
        let length = Int(u32(4))
        let minimum = blockType == Self.sectionHeaderType ? 28 : 12
        if length < minimum {
            throw corrupt("block length \(length) is less than the minimum \(minimum)")
        }
        if length % 4 != 0 {
            throw corrupt("block length \(length) is not a multiple of 4")
        }
        if length > Self.maximumBlockLength {
            throw corrupt("block length \(length) exceeds the \(Self.maximumBlockLength)-byte limit")
        }
        ensureCapacity(length)
        let have = blockType == Self.sectionHeaderType ? 12 : 8
        let rest = try read(block + have, length - have)
        if rest < length - have {
            throw truncated("the file ends \(have + rest) bytes into a \(length)-byte block")
        }
        let trailer = Int(u32(length - 4))
        if trailer != length {
            throw corrupt("trailing block length \(trailer) differs from the leading length \(length)")
        }
        blockLength = length
        return true
    }

    // MARK: Options

    /// Walks the options in `block[start ..< blockLength - 4]`, calling `body(code, offset, length)`.
    private func forEachOption(
        from start: Int, _ body: (UInt16, Int, Int) throws(CaptureError) -> Void
    ) throws(CaptureError) {
        let limit = blockLength - 4
        var at = start
        while at + 4 <= limit {
            let code = u16(at)
            let length = Int(u16(at + 2))
            if code == 0 { return }  // opt_endofopt
            let valueEnd = at + 4 + length
            if valueEnd > limit {
                throw corrupt("option \(code) at block offset \(at) claims \(length) bytes, past the end of the block")
            }
            try body(code, at + 4, length)
            at = at + 4 + ((length + 3) & ~3)
        }
    }

    private func string(at offset: Int, length: Int) -> String {
        var count = length
        // Some writers include a terminating NUL.
        while count > 0 && block.load(fromByteOffset: offset + count - 1, as: UInt8.self) == 0 { count -= 1 }
        return String(decoding: UnsafeRawBufferPointer(start: block + offset, count: count), as: UTF8.self)
    }

    private func parseSectionHeader() throws(CaptureError) {
        let major = u16(12)
        if major != 1 {
            throw corrupt("unsupported pcapng major version \(major) (only 1 is defined)")
        }
        sectionFirstInterface = interfaces.count
    }

    private func parseInterfaceDescription() throws(CaptureError) {
        if blockLength < 20 { throw corrupt("interface description block is \(blockLength) bytes, less than 20") }
        let linkType = LinkType(rawValue: UInt32(u16(8)))
        let snaplen = u32(12)
        var name: String?
        var description: String?
        var resolution: UInt8 = 6
        var offset: Int64 = 0
        try forEachOption(from: 16) { (code, at, length) throws(CaptureError) in
            switch code {
            case 2: name = string(at: at, length: length)
            case 3: description = string(at: at, length: length)
            case 9:
                guard length >= 1 else { throw corrupt("if_tsresol option is empty") }
                resolution = block.load(fromByteOffset: at, as: UInt8.self)
                let exponent = resolution & 0x7f
                if (resolution & 0x80 == 0 && exponent > 18) || (resolution & 0x80 != 0 && exponent > 63) {
                    throw corrupt("if_tsresol \(resolution) is out of range")
                }
            case 14:
                guard length == 8 else { throw corrupt("if_tsoffset option has length \(length), not 8") }
                offset = Int64(bitPattern: u64(at))
            default: break
            }
        }
        let id = interfaces.count
        if !acceptAnyLinkType && !linkType.isSupported {
            throw CaptureError.unsupportedLinkType(path: path, linkType: linkType, interfaceID: id)
        }
        interfaces.append(CaptureInterface(id: id, name: name, description: description, linkType: linkType, snaplen: snaplen))
        timestampResolution.append(resolution)
        timestampOffset.append(offset)
        interfaceLabels.append(FrameLabels.make(interfaceName: name, comment: nil))
    }

    /// Nanoseconds since the epoch from a raw timestamp in the interface's units.
    private func nanoseconds(_ raw: UInt64, interface: Int) -> Int64 {
        let resolution = timestampResolution[interface]
        let exponent = Int(resolution & 0x7f)
        var ns: Int64
        if resolution & 0x80 == 0 {
            if exponent <= 9 {
                var scale: UInt64 = 1
                for _ in 0 ..< (9 - exponent) { scale *= 10 }
                ns = Int64(truncatingIfNeeded: raw &* scale)
            } else {
                var scale: UInt64 = 1
                for _ in 0 ..< (exponent - 9) { scale *= 10 }
                ns = Int64(truncatingIfNeeded: raw / scale)
            }
        } else {
            // Units of 2^-exponent seconds: whole seconds, then the fraction.
            let seconds = exponent >= 64 ? 0 : raw >> UInt64(exponent)
            let fractionMask: UInt64 = exponent >= 64 ? .max : (1 << UInt64(exponent)) - 1
            let fraction = raw & fractionMask
            let fractionNs: UInt64
            if exponent <= 34 {
                fractionNs = (fraction &* 1_000_000_000) >> UInt64(exponent)
            } else {
                fractionNs = UInt64(Double(fraction) / Double(sign: .plus, exponent: exponent, significand: 1) * 1e9)
            }
            ns = Int64(truncatingIfNeeded: seconds &* 1_000_000_000 &+ fractionNs)
        }
        return ns &+ timestampOffset[interface] &* 1_000_000_000
    }

    // MARK: Frames

    /// The next packet block, or nil at the end of the file.
    func next() throws(CaptureError) -> CapturedFrame? {
        while try readBlock() {
            switch blockType {
            case Self.sectionHeaderType:
                try parseSectionHeader()
            case Self.interfaceDescriptionType:
                try parseInterfaceDescription()
            case Self.enhancedPacketType:
                return try packet(headerLength: 28, interfaceLocal: Int(u32(8)), timestampAt: 12,
                                  captureLength: Int(u32(20)), wireLength: Int(u32(24)), flagsCode: 2)
            case Self.packetType:
                return try packet(headerLength: 28, interfaceLocal: Int(u16(8)), timestampAt: 12,
                                  captureLength: Int(u32(20)), wireLength: Int(u32(24)), flagsCode: 2)
            case Self.simplePacketType:
                return try simplePacket()
            default:
                continue  // NRB, ISB, DSB, custom and unknown blocks.
            }
        }
        return nil
    }

    private func interfaceIndex(local: Int) throws(CaptureError) -> Int {
        let global = sectionFirstInterface + local
        if local < 0 || global >= interfaces.count {
            throw corrupt("packet refers to interface \(local), but the section describes only \(interfaces.count - sectionFirstInterface)")
        }
        return global
    }

    private func packet(
        headerLength: Int, interfaceLocal: Int, timestampAt: Int, captureLength: Int, wireLength: Int, flagsCode: UInt16
    ) throws(CaptureError) -> CapturedFrame {
        if blockLength < headerLength + 4 {
            throw corrupt("packet block is \(blockLength) bytes, less than \(headerLength + 4)")
        }
        let interface = try interfaceIndex(local: interfaceLocal)
        let padded = (captureLength + 3) & ~3
        if captureLength < 0 || headerLength + padded > blockLength - 4 {
            throw corrupt("captured length \(captureLength) does not fit in a \(blockLength)-byte block")
        }
        let raw = UInt64(u32(timestampAt)) << 32 | UInt64(u32(timestampAt + 4))
        var comment: String?
        var direction = FrameDirection.unknown
        try forEachOption(from: headerLength + padded) { (code, at, length) throws(CaptureError) in
            if code == 1 {
                let text = string(at: at, length: length)
                if let existing = comment { comment = existing + "\n" + text } else { comment = text }
            } else if code == flagsCode {
                guard length == 4 else { throw corrupt("flags option has length \(length), not 4") }
                switch u32(at) & 3 {
                case 1: direction = .inbound
                case 2: direction = .outbound
                default: direction = .unknown
                }
            }
        }
        framesRead += 1
        let info = interfaces[interface]
        let labels = comment == nil ? interfaceLabels[interface] : FrameLabels(interfaceName: info.name, comment: comment)
        return CapturedFrame(
            index: framesRead, timestampNanoseconds: nanoseconds(raw, interface: interface),
            captureLength: captureLength, wireLength: wireLength, linkType: info.linkType,
            interfaceID: interface, labels: labels, direction: direction,
            bytes: UnsafeRawBufferPointer(start: block + headerLength, count: captureLength))
    }

    private func simplePacket() throws(CaptureError) -> CapturedFrame {
        if blockLength < 16 { throw corrupt("simple packet block is \(blockLength) bytes, less than 16") }
        let interface = try interfaceIndex(local: 0)
        let info = interfaces[interface]
        let wireLength = Int(u32(8))
        var captureLength = min(wireLength, blockLength - 16)
        if info.snaplen > 0 { captureLength = min(captureLength, Int(info.snaplen)) }
        framesRead += 1
        return CapturedFrame(
            index: framesRead, timestampNanoseconds: 0, captureLength: captureLength, wireLength: wireLength,
            linkType: info.linkType, interfaceID: interface, labels: interfaceLabels[interface],
            direction: .unknown, bytes: UnsafeRawBufferPointer(start: block + 12, count: captureLength))
    }
}
