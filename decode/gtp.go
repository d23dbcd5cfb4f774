package decode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// gtpCut decodes into l the header of a GTPv1-U message whose declared
// length runs past the end of data (the first fragment of a fragmented IP
// packet, or a capture cut by the snap length), as Wireshark does: the
// T-PDU is what data holds of it. It reports false, when the message is not
// cut or data does not hold the whole header, leaving l to be discarded.
func gtpCut(l *layers.GTPv1U, data []byte) bool {
	*l = layers.GTPv1U{}
	if len(data) < 8 || int(binary.BigEndian.Uint16(data[2:4]))+8 <= len(data) {
		return false
	}
	l.Version = data[0] >> 5 & 7
	l.ProtocolType = data[0] >> 4 & 1
	l.Reserved = data[0] >> 3 & 1
	l.ExtensionHeaderFlag = data[0]&4 != 0
	l.SequenceNumberFlag = data[0]&2 != 0
	l.NPDUFlag = data[0]&1 != 0
	l.MessageType = data[1]
	l.MessageLength = binary.BigEndian.Uint16(data[2:4])
	l.TEID = binary.BigEndian.Uint32(data[4:8])
	n := 8
	if l.ExtensionHeaderFlag || l.SequenceNumberFlag || l.NPDUFlag {
		n = 12
		if len(data) < n {
			return false
		}
		l.SequenceNumber = binary.BigEndian.Uint16(data[8:10])
		l.NPDU = data[10]
		// extension headers: a length in 4-byte units, then the type of
		// the next in the last byte (0: none)
		for next := data[11]; next != 0 && l.ExtensionHeaderFlag; next = data[n-1] {
			if n >= len(data) || data[n] == 0 || n+int(data[n])*4 > len(data) {
				return false
			}
			n += int(data[n]) * 4
		}
	}
	l.Contents, l.Payload = data[:n], data[n:]
	return true
}

// fragPayload returns n, the payload length an IP header declares, or, for
// an IP packet carried in the first fragment of an outer one (a tunnel's
// packet split by the outer IP), no more than the payload that fragment
// holds: the length on the wire that Wireshark gives the transport layer.
func fragPayload(p *Packet, n int, payload []byte) int {
	if p.Flags&(FlagFragment|FlagSnaplen) == FlagFragment && n > len(payload) {
		return len(payload)
	}
	return n
}
