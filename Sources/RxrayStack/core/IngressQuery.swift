import RxrayDecode

extension Analyzer {
    /// The interface the analysis attributes an Ethernet frame to (DESIGN.md "Which interface
    /// received a frame": the capture's interface name, `--interface`, the destination MAC, the
    /// subnet of an address, the first interface), without processing it. `rxray verify`
    /// injects a frame there, so the live kernel receives it where the analysis did. Nil for
    /// other link types, a frame too short for an Ethernet header, or a host without interfaces.
    public func ingressInterface(of input: FrameInput) -> String? {
        guard input.linkType == .ethernet, input.bytes.count >= 14 else { return nil }
        // Which rule chose is reported once per run: a query must not take that report.
        let note = kernel.lastIngressNote
        defer { kernel.lastIngressNote = note }
        let b = input.bytes
        guard let i = kernel.ingressDevice(input, options: options, dst: b.macAt(0), cookedIfindex: nil,
                                           l2: 14, proto: b.u16(12), wantsDetail: false) else { return nil }
        return kernel.ns.devices[i].name
    }
}
