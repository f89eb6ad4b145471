import CLinkedLibpcap
import RxrayDecode

/// Conversions between libpcap's platform `DLT_*` values (what `pcap_datalink()` returns and
/// `pcap_open_dead()` takes) and the `LINKTYPE_*` numbers files store (what `LinkType` holds).
///
/// They are equal except for a few historical values below 104: raw IP is DLT 12 (14 on
/// OpenBSD) but LINKTYPE 101, OpenBSD's loopback is DLT 12 there but LINKTYPE 108, and so on.
enum LinkTypeMapping {
    /// LINKTYPE number for a `DLT_*` value returned by libpcap.
    static func linkType(fromDLT dlt: Int32) -> LinkType {
        let value: UInt32
        switch dlt {
        case Int32(DLT_RAW): value = 101          // 12 on Linux, 14 on OpenBSD
        case 14: value = 101                      // DLT_RAW on OpenBSD
        case 15: value = 102                      // DLT_SLIP_BSDOS
        case 16: value = 103                      // DLT_PPP_BSDOS
        case 11: value = 100                      // DLT_ATM_RFC1483
        case 19: value = 106                      // DLT_ATM_CLIP (Linux)
        case Int32(DLT_LOOP): value = 108
        default: value = UInt32(bitPattern: dlt)
        }
        return LinkType(rawValue: value)
    }

    /// The `DLT_*` value libpcap's code generator expects for a LINKTYPE number.
    static func dlt(for linkType: LinkType) -> Int32 {
        switch linkType.rawValue {
        case 101: return Int32(DLT_RAW)
        case 100: return 11
        case 102: return 15
        case 103: return 16
        case 106: return 19
        case 108: return Int32(DLT_LOOP)
        default: return Int32(bitPattern: linkType.rawValue)
        }
    }
}
