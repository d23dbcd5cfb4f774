package communityid

import (
	"github.com/gopacket/gopacket"

	"github.com/espcap/espcap-fast/internal/testpcap"
)

// readCapture returns the packets of a pcap or pcapng file, in file order.
func readCapture(name string) ([]gopacket.Packet, error) { return testpcap.Gopacket(name) }
