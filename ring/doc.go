// Package ring captures packets live from Linux network interfaces through
// AF_PACKET TPACKET_V3 memory-mapped rings, one ring per worker, all rings
// of an interface joined in one PACKET_FANOUT group so that the kernel
// spreads the traffic over the workers (by flow hash by default).
//
// Each socket is set up in the order that lets no unwanted packet in:
// created with protocol 0 (it receives nothing), switched to TPACKET_V3,
// given its ring, given its kernel BPF program (SO_ATTACH_FILTER), bound to
// the interface, and only then joined to the fanout group. The kernel
// program always starts with a prefix that rejects PACKET_OUTGOING copies
// (so that traffic on lo, seen once leaving and once arriving, is counted
// once), followed by the --bpf expression compiled by libpcap for the
// interface's link type, or by "accept snaplen bytes".
//
// Reading is zero-copy: [Ring.Next] hands out a [Block] that the kernel has
// filled, whose packets ([Block.Next]) point straight into the mapped ring;
// the block goes back to the kernel with [Block.Release], after which its
// packets must not be used. Kernel counters (PACKET_STATISTICS: packets,
// drops, queue freezes) are kept per socket and summed per group ([Stats]).
//
// gopacket's afpacket package was the starting point, but it is not used:
// it binds the socket to ETH_P_ALL before a filter can be attached (so a
// few unfiltered packets get in), and it releases a block as soon as it
// moves to the next packet's block, whereas here a worker holds a block
// until its packets are encoded.
package ring
