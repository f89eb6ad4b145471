import RxrayDecode

/// What the kernel creates by itself: the loopback device, the routes it adds for every address
/// (`fib_add_ifaddr()` in net/ipv4/fib_frontend.c, `addrconf` in net/ipv6/addrconf.c) and the
/// default policy rules (`fib_default_rules_init()`, `fib6_rules_net_init()`).
public enum KernelDefaults {
    /// The loopback device of a fresh namespace, up, with 127.0.0.1/8 and ::1/128.
    public static func loopback() -> Interface {
        Interface(name: "lo", index: 1, mac: .zero, mtu: 65536, kind: .loopback, up: true, lowerUp: true,
                  addresses: [
                    InterfaceAddress(address: .v4(IPv4Address(127, 0, 0, 1)), prefixLength: 8, scope: .host, label: "lo"),
                    InterfaceAddress(address: .v6(.loopback), prefixLength: 128, scope: .host),
                  ])
    }

    /// IPv4 rules 0 (local), 32766 (main), 32767 (default).
    public static let rules4: [PolicyRule] = [
        PolicyRule(priority: 0, action: .table(RouteTable.local)),
        PolicyRule(priority: 32766, action: .table(RouteTable.main)),
        PolicyRule(priority: 32767, action: .table(RouteTable.default)),
    ]
    /// IPv6 rules 0 (local), 32766 (main).
    public static let rules6: [PolicyRule] = [
        PolicyRule(priority: 0, action: .table(RouteTable.local)),
        PolicyRule(priority: 32766, action: .table(RouteTable.main)),
    ]

    /// The IPv4 routes the kernel adds for the addresses of up interfaces: a `local` route for
    /// each address, a `broadcast` route for the subnet's broadcast address (prefixes shorter
    /// than /31) and for a configured `brd`, and the connected prefix route (in `local` as a
    /// `local` route on loopback devices, in `main` as a link-scope unicast route otherwise),
    /// except for secondary and `noprefixroute` addresses. Down interfaces have none.
    public static func routes4(for interfaces: [Interface]) -> [Route] {
        var out: [Route] = []
        func add(_ r: Route) { if !out.contains(r) { out.append(r) } }
        for itf in interfaces where itf.up {
            for a in itf.ipv4Addresses {
                guard case .v4(let addr) = a.address else { continue }
                let len = a.prefixLength
                let mask: UInt32 = len == 0 ? 0 : ~(UInt32.max >> UInt32(len))
                let net = IPv4Address(addr.value & mask)
                let src = a.address
                add(Route(type: .local, destination: IPPrefix(address: .v4(addr), length: 32), table: RouteTable.local,
                          proto: "kernel", scope: .host, prefsrc: src, dev: itf.name))
                if let b = a.broadcast, b != .broadcast {
                    add(Route(type: .broadcast, destination: IPPrefix(address: .v4(b), length: 32), table: RouteTable.local,
                              proto: "kernel", scope: .link, prefsrc: src, dev: itf.name))
                }
                let secondary = a.isSecondary
                if !net.isZeronet, !secondary, net != addr || len < 32 {
                    if !a.noPrefixRoute {
                        if itf.isLoopback {
                            add(Route(type: .local, destination: IPPrefix(address: .v4(net), length: len), table: RouteTable.local,
                                      proto: "kernel", scope: .host, prefsrc: src, dev: itf.name))
                        } else {
                            add(Route(type: .unicast, destination: IPPrefix(address: .v4(net), length: len), table: RouteTable.main,
                                      proto: "kernel", scope: .link, prefsrc: src, dev: itf.name))
                        }
                    }
                    if len < 31 {
                        add(Route(type: .broadcast, destination: IPPrefix(address: .v4(IPv4Address(net.value | ~mask)), length: 32),
                                  table: RouteTable.local, proto: "kernel", scope: .link, prefsrc: src, dev: itf.name))
                    }
                }
            }
        }
        // ip prints table main before local; keep that order for stable comparisons.
        return out.filter { $0.table != RouteTable.local } + out.filter { $0.table == RouteTable.local }
    }

    /// The IPv6 routes the kernel adds for up interfaces: `fe80::/64` and `ff00::/8` (multicast,
    /// local table) per non-loopback device, the prefix route of each address (metric 256,
    /// unless /128 or `noprefixroute`) and a `local` route (metric 0, local table) per address
    /// that passed DAD (not `tentative`).
    public static func routes6(for interfaces: [Interface]) -> [Route] {
        var main: [Route] = [], local: [Route] = []
        for itf in interfaces where itf.up {
            if !itf.isLoopback {
                main.append(Route(destination: IPPrefix("fe80::/64")!, table: RouteTable.main, proto: "kernel", metric: 256,
                                  dev: itf.name, pref: "medium"))
            }
            for a in itf.ipv6Addresses {
                guard case .v6(let addr) = a.address else { continue }
                if a.prefixLength < 128, !a.noPrefixRoute, !addr.isLinkLocal {
                    let p = IPPrefix(address: .v6(mask6(addr, a.prefixLength)), length: a.prefixLength)
                    let r = Route(destination: p, table: RouteTable.main, proto: "kernel", metric: 256, dev: itf.name, pref: "medium")
                    if !main.contains(r) { main.append(r) }
                }
                if !a.flags.contains("tentative") && !a.flags.contains("dadfailed") {
                    local.append(Route(type: .local, destination: IPPrefix(address: .v6(addr), length: 128), table: RouteTable.local,
                                       proto: "kernel", metric: 0, dev: itf.name, pref: "medium"))
                }
            }
            if !itf.isLoopback {
                local.append(Route(type: .multicast, destination: IPPrefix("ff00::/8")!, table: RouteTable.local, proto: "kernel",
                                   metric: 256, dev: itf.name, pref: "medium"))
            }
        }
        return main + local
    }

    static func mask6(_ a: IPv6Address, _ len: Int) -> IPv6Address {
        if len <= 0 { return .any }
        if len >= 128 { return a }
        if len <= 64 {
            let m: UInt64 = len == 64 ? .max : ~(UInt64.max >> UInt64(len))
            return IPv6Address(high: a.high & m, low: 0)
        }
        let m: UInt64 = ~(UInt64.max >> UInt64(len - 64))
        return IPv6Address(high: a.high, low: a.low & m)
    }
}
