// RxrayRules: firewall rule sources parsed into typed syntax trees.
//
// Entry points (all throw `InputError` with file:line:column for malformed input, and collect
// constructs rxray does not model as `UnsupportedConstruct`s instead of failing):
//
//   IptablesParser.parse(_ text:, file:, family:) -> IptablesRuleset     iptables-save / ip6tables-save / restore input
//   IptablesParser.parse(contentsOf:, family:)
//   IptablesParser.detectFamily(_ text:) -> RuleFamily
//   NftParser.parse(_ text:, file:) -> NftRuleset                        `nft list ruleset` (also `nft -f` scripts)
//   NftParser.parse(contentsOf:)
//   NftJSONParser.parse(_ data:, file:, companion:) -> NftRuleset        `nft -j list ruleset`
//   NftJSONParser.parse(contentsOf:, companion:)
//   IpsetParser.parse(_ text:, file:) -> IpsetFile                       `ipset save`
//   IpsetParser.parse(contentsOf:)
//   .summary -> RulesetSummary on every result (tables, chains, rules, sets, elements, unsupported)
//
// Trees:
//   IptablesRuleset → IptablesTable → IptablesChain (policy, counters) → IptablesRule
//     (table, chain, position, file, line, text, counters, [IptablesMatch], IptablesTarget?, isUnsupported)
//     IptablesMatch: .source/.destination(MaskedAddress) .inInterface/.outInterface(InterfaceName)
//       .protocol(UInt8) .fragment .module(IptablesModule) .unsupported(name:text:) — all negatable
//     IptablesModule: one case per modelled `-m` extension with a typed payload struct
//     IptablesTarget: accept, drop, return, queue, jump, goto, reject(RejectKind), log, nflog, mark,
//       connmark, ct, notrack, dnat/snat/masquerade/redirect(NATTarget), netmap, trace, tcpmss,
//       dscp, tos, checksumFill, nfqueue, set, classify, ttl, audit, unsupported(name:text:)
//   NftRuleset → NftTable (family) → NftChain (NftBaseChain?: type, hook, numeric priority, policy,
//     devices) → NftRule (family, table, chain, position, handle, file, line, text, [NftStatement])
//     plus NftSet (types, flags, [NftSetElement]), NftFlowtable, NftObject.
//     NftStatement: .match(NftMatch(left: NftExpr, op: NftRelOp, right: NftExpr)), .verdict, .counter,
//       .limit, .quota, .log, .reject, .nat, .set(target:value:), .setUpdate, .notrack, .vmap,
//       .queue, .ctCount, .flowOffload, .objectReference, .unsupported
//     NftExpr: left sides (.payload(NftPayloadField with base/offset/length/type/dependency),
//       .rawPayload, .meta, .ct, .fib, .rt, .socket, .numgen, .hash, .exthdr) and values resolved
//       to numbers by the left side's NftDatatype (.integer, .string, .stringPrefix, .address,
//       .prefix, .mac, .boolean, .range, .flags, .anonymousSet, .setReference, .concat, .binary,
//       .map, .verdict, .wildcard, .symbol).
//     NftRelOp.implicit is a bit test on bitmask types only; every other comparison is explicit
//       (.eq with a set on the right is membership).
//   IpsetFile → IpsetSet (method, dimensions, family, options) → IpsetMember ([IpsetValue]).
