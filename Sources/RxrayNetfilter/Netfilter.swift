/// Netfilter for rxray: rulesets compiled into flat programs, evaluated at the five hooks with
/// connection tracking and NAT. See DESIGN.md and KERNEL-RX.md sections 7 and 8.
public enum RxrayNetfilter {}
