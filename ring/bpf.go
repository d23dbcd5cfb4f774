package ring

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/espcap/espcap-fast/filter"
)

// Classic BPF opcodes used here.
const (
	opLdWAbs = 0x20 // BPF_LD|BPF_W|BPF_ABS
	opJeqK   = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
	opRetK   = 0x06 // BPF_RET|BPF_K

	skfAdPkttype = 0xfffff000 + 4  // SKF_AD_OFF (-0x1000) + SKF_AD_PKTTYPE, as a uint32
	skfAdVlanTag = 0xfffff000 + 48 // SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT
	maxInsns     = 4096            // BPF_MAXINSNS
)

// Program returns the kernel program for a socket: a prefix that rejects
// PACKET_OUTGOING copies, then expr compiled by libpcap for dlt (a DLT_
// value) to keep at most snaplen bytes, or, when expr is empty, "keep
// snaplen bytes". A bad expression is an error that says what libpcap
// found wrong with it.
//
// On Ethernet the kernel takes a frame's (outer) VLAN tag out of the
// packet before the filter runs, so expr would see other bytes than
// tcpdump -r sees in a capture of the same frame ("vlan 10" would not
// match, "ip" would match a tagged frame). The program therefore accepts
// every frame that had a tag, and the reader filters those frames itself,
// after Block.Next has put the tag back (see Group.TaggedFilter).
func Program(expr string, dlt, snaplen int) ([]unix.SockFilter, error) {
	prog := []unix.SockFilter{
		{Code: opLdWAbs, K: skfAdPkttype},
		{Code: opJeqK, Jt: 0, Jf: 1, K: unix.PACKET_OUTGOING},
		{Code: opRetK, K: 0},
	}
	if expr == "" {
		return append(prog, unix.SockFilter{Code: opRetK, K: uint32(snaplen)}), nil
	}
	if err := filter.Available(); err != nil {
		return nil, fmt.Errorf("--bpf: %w", err)
	}
	p, err := filter.CompileOptions(expr, dlt, filter.Options{Live: true, Snaplen: snaplen})
	if err != nil {
		return nil, fmt.Errorf("--bpf: %w", err)
	}
	if len(prog)+len(p.Raw) > maxInsns {
		return nil, fmt.Errorf("--bpf: %q compiles to %d instructions, more than the kernel's %d", expr, len(p.Raw), maxInsns-len(prog))
	}
	if dlt == 1 {
		prog = append(prog,
			unix.SockFilter{Code: opLdWAbs, K: skfAdVlanTag},
			unix.SockFilter{Code: opJeqK, Jt: 1, Jf: 0, K: 0},
			unix.SockFilter{Code: opRetK, K: uint32(snaplen)},
		)
	}
	for _, in := range p.Raw {
		prog = append(prog, unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K})
	}
	return prog, nil
}

// attach sets prog as the socket's filter (replacing any).
func attach(fd int, prog []unix.SockFilter) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("SO_ATTACH_FILTER: %w", err)
	}
	return nil
}
