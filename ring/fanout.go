package ring

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// FanoutMode is how the kernel chooses a group's socket for a packet.
type FanoutMode int

// Fanout modes (PACKET_FANOUT_*).
const (
	// FanoutHash sends a flow's packets (both directions) to one socket.
	FanoutHash FanoutMode = iota
	// FanoutLB spreads packets round-robin.
	FanoutLB
	// FanoutCPU picks the socket by the CPU the packet arrived on.
	FanoutCPU
	// FanoutRollover fills one socket and moves on when it is full.
	FanoutRollover
	// FanoutRandom picks a socket at random.
	FanoutRandom
	// FanoutQM picks the socket by the NIC's receive queue.
	FanoutQM
)

var fanoutNames = []string{"hash", "lb", "cpu", "rollover", "random", "qm"}

// FanoutModes lists the names ParseFanout accepts.
func FanoutModes() []string { return append([]string(nil), fanoutNames...) }

// ParseFanout returns the mode named s (hash, lb, cpu, rollover, random or
// qm).
func ParseFanout(s string) (FanoutMode, error) {
	for i, n := range fanoutNames {
		if strings.EqualFold(s, n) {
			return FanoutMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown fanout mode %q (one of %s)", s, strings.Join(fanoutNames, ", "))
}

// String returns the mode's name.
func (m FanoutMode) String() string {
	if m >= 0 && int(m) < len(fanoutNames) {
		return fanoutNames[m]
	}
	return fmt.Sprintf("FanoutMode(%d)", int(m))
}

func (m FanoutMode) kernel() int {
	switch m {
	case FanoutLB:
		return unix.PACKET_FANOUT_LB
	case FanoutCPU:
		return unix.PACKET_FANOUT_CPU
	case FanoutRollover:
		return unix.PACKET_FANOUT_ROLLOVER
	case FanoutRandom:
		return unix.PACKET_FANOUT_RND
	case FanoutQM:
		return unix.PACKET_FANOUT_QM
	}
	return unix.PACKET_FANOUT_HASH
}
