package decode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// This file decodes the transport layers: TCP, UDP and SCTP.

// IPPayload holds, per TCP layer, the length of its segment according to
// the IP header that carries it (-1 when unknown): Wireshark's tcp.len
// counts from there, also when the capture cut the frame short.
type IPPayload [MaxRepeat]int

// Layer is one decoded layer: its kind, the index of its instance in the
// Packet's array for that kind, and the protocol name it shows in
// frame.protocols (which differs from Kind.Name for DNS on the mDNS and LLMNR
// ports).
type Layer struct {
	Kind  Kind
	Index uint8
	// Partial is set when only some fields could be decoded (a TCP header
	// cut short inside an ICMP error still has its ports).
	Partial bool
	// Proto is the Wireshark protocol name of the layer.
	Proto string
}

// SCTPChunks holds the chunk types of an SCTP packet.
type SCTPChunks struct {
	Types [16]uint8
	N     int
}

func (d *Decoder) tcp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindTCP)
	if i < 0 {
		return nDone, nil
	}
	l := &p.TCP[i]
	if d.walk.icmpDepth > 0 && len(data) >= 4 {
		// A TCP header quoted in an ICMP error, usually cut after 8
		// bytes: Wireshark shows its ports (and sequence number) only,
		// also when the whole header is there.
		*l = layers.TCP{
			SrcPort: layers.TCPPort(binary.BigEndian.Uint16(data[0:2])),
			DstPort: layers.TCPPort(binary.BigEndian.Uint16(data[2:4])),
		}
		p.commit(KindTCP, i, "tcp")
		p.Layers[len(p.Layers)-1].Partial = true
		return nDone, nil
	}
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindTCP, err)
		if len(data) >= 20 && data[12]>>4 >= 5 {
			// The fixed header is there, its data offset points past
			// the packet: Wireshark shows the fixed fields. (A data
			// offset below 5 stops it after a few.)
			tcpFixed(l, data)
			p.commit(KindTCP, i, "tcp")
			p.TCPSegLen[i] = -1
			if d.walk.ipPayload >= int(l.DataOffset)*4 {
				p.TCPSegLen[i] = d.walk.ipPayload - int(l.DataOffset)*4
			}
		}
		return nDone, nil
	}
	p.commit(KindTCP, i, "tcp")
	p.TCPSegLen[i] = -1
	if d.walk.ipPayload >= int(l.DataOffset)*4 {
		p.TCPSegLen[i] = d.walk.ipPayload - int(l.DataOffset)*4
	}
	d.walk.sport, d.walk.dport = uint16(l.SrcPort), uint16(l.DstPort)
	return nTCPApp, l.Payload
}

func (d *Decoder) udp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindUDP)
	if i < 0 {
		return nDone, nil
	}
	l := &p.UDP[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindUDP, err)
		return nDone, nil
	}
	p.commit(KindUDP, i, "udp")
	d.walk.sport, d.walk.dport = uint16(l.SrcPort), uint16(l.DstPort)
	payload := l.Payload
	if n := int(l.Length) - 8; n >= 0 && n < len(payload) {
		payload = payload[:n]
	}
	return nUDPApp, payload
}

func (d *Decoder) sctp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindSCTP)
	if i < 0 {
		return nDone, nil
	}
	l := &p.SCTP[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindSCTP, err)
		return nDone, nil
	}
	sctpChunks(&p.SCTPChunk[i], l.Payload)
	p.commit(KindSCTP, i, "sctp")
	return nDone, nil
}

// sctpChunks lists the chunk types of an SCTP packet.
func sctpChunks(c *SCTPChunks, b []byte) {
	c.N = 0
	for len(b) >= 4 && c.N < len(c.Types) {
		c.Types[c.N] = b[0]
		c.N++
		l := int(binary.BigEndian.Uint16(b[2:4]))
		l = (l + 3) &^ 3
		if l < 4 || l > len(b) {
			return
		}
		b = b[l:]
	}
}

// tcpFixed fills l from the 20-byte fixed TCP header at the start of data,
// without options or payload.
func tcpFixed(l *layers.TCP, data []byte) {
	*l = layers.TCP{
		SrcPort:    layers.TCPPort(binary.BigEndian.Uint16(data[0:2])),
		DstPort:    layers.TCPPort(binary.BigEndian.Uint16(data[2:4])),
		Seq:        binary.BigEndian.Uint32(data[4:8]),
		Ack:        binary.BigEndian.Uint32(data[8:12]),
		DataOffset: data[12] >> 4,
		NS:         data[12]&1 != 0,
		CWR:        data[13]&0x80 != 0,
		ECE:        data[13]&0x40 != 0,
		URG:        data[13]&0x20 != 0,
		ACK:        data[13]&0x10 != 0,
		PSH:        data[13]&0x08 != 0,
		RST:        data[13]&0x04 != 0,
		SYN:        data[13]&0x02 != 0,
		FIN:        data[13]&0x01 != 0,
		Window:     binary.BigEndian.Uint16(data[14:16]),
		Checksum:   binary.BigEndian.Uint16(data[16:18]),
		Urgent:     binary.BigEndian.Uint16(data[18:20]),
	}
	l.Contents, l.Payload = data[:20], data[20:20]
}
