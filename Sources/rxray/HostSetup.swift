import RxrayCapture
import RxrayDecode
import RxrayHost
import RxrayRules

/// Loads `--host`, or infers a host from the capture when none is given.
enum HostSetup {
    struct Loaded {
        var host: Host
        /// The YAML profile of an inferred host, to show the user.
        var inferredYAML: String?
        var description: String
    }

    static func load(_ options: HostOptions, capturePath: String) throws -> Loaded {
        if let path = options.host {
            do {
                let h = try HostLoader.load(path: path, lenient: options.lenient)
                return Loaded(host: h, inferredYAML: nil, description: path)
            } catch let e as InputError {
                throw fail(e.description)
            } catch let e as UnsupportedRulesError {
                throw fail(e.description)
            } catch {
                throw fail("\(path): \(error)")
            }
        }
        // Infer from a first pass over the capture.
        // A capture error here (a truncated file) is reported by the analysis pass, after
        // the frames before it: inference uses what could be read.
        var facts: [FrameFacts] = []
        if let reader = try? CaptureReader(path: capturePath) {
            while let f = try? reader.next() {
                facts.append(Self.facts(f))
            }
        }
        let inferred = HostLoader.infer(from: facts)
        return Loaded(host: inferred.host, inferredYAML: inferred.yaml, description: "inferred from the capture")
    }

    static func facts(_ f: CapturedFrame) -> FrameFacts {
        let d = FrameDecoder.decode(f.bytes, linkType: f.linkType, wireLength: f.wireLength)
        var x = FrameFacts(timestamp: UInt64(max(0, f.timestampNanoseconds)))
        if let e = d.ethernet(in: f.bytes) {
            x.srcMAC = e.source
            x.dstMAC = e.destination
        }
        if let a = d.ipAddresses(in: f.bytes) {
            x.srcIP = a.source
            x.dstIP = a.destination
            x.ipLength = d.ipEnd - d.networkOffset
        }
        x.l4Protocol = d.transportProtocol
        if let p = d.ports(in: f.bytes) {
            x.srcPort = p.source
            x.dstPort = p.destination
        }
        if let t = d.tcp(in: f.bytes) { x.tcpFlags = UInt8(truncatingIfNeeded: t.flags.rawValue) }
        return x
    }
}
