package decode

import (
	"encoding/binary"
	"net"

	"github.com/gopacket/gopacket/layers"
)

// dhcpCut keeps what can be kept of a DHCP message that DecodeFromBytes
// rejected (cut by the snap length, a bad magic cookie, a damaged option),
// as Wireshark shows the fields it decoded before the damage: the fixed
// BOOTP header up to the client hardware address, sname and file when they
// are whole, and the options decoded before the damaged one. It reports
// false when data does not hold the header up to the hardware address.
func dhcpCut(l *layers.DHCPv4, data []byte) bool {
	if len(data) < 28 || data[2] > 16 || len(data) < 28+int(data[2]) {
		return false
	}
	if len(data) < 240 { // DecodeFromBytes decoded nothing
		l.Options = l.Options[:0]
		l.Operation = layers.DHCPOp(data[0])
		l.HardwareType = layers.LinkType(data[1])
		l.HardwareLen = data[2]
		l.RelayHops = data[3]
		l.Xid = binary.BigEndian.Uint32(data[4:8])
		l.Secs = binary.BigEndian.Uint16(data[8:10])
		l.Flags = binary.BigEndian.Uint16(data[10:12])
		l.ClientIP = net.IP(data[12:16])
		l.YourClientIP = net.IP(data[16:20])
		l.NextServerIP = net.IP(data[20:24])
		l.RelayAgentIP = net.IP(data[24:28])
		l.ClientHWAddr = net.HardwareAddr(data[28 : 28+l.HardwareLen])
		l.ServerName, l.File = nil, nil
		if len(data) >= 108 {
			l.ServerName = data[44:108]
		}
		if len(data) >= 236 {
			l.File = data[108:236]
		}
	}
	l.Contents, l.Payload = data, nil
	return true
}
