package decode

import "github.com/gopacket/gopacket/layers"

// This file decodes the link layers: Ethernet, 802.1Q/802.1ad tags, Linux
// cooked headers, BSD loopback, LLC and ARP.

// Link types (LINKTYPE_* values, as stored in pcap and pcapng files).
const (
	LinkTypeNull      = 0
	LinkTypeEthernet  = 1
	LinkTypeRaw       = 101
	LinkTypeLoop      = 108
	LinkTypeLinuxSLL  = 113
	LinkTypeNFLOG     = 239
	LinkTypeIPv4      = 228
	LinkTypeIPv6      = 229
	LinkTypeLinuxSLL2 = 276
	linkTypeRawAlt    = 12 // DLT_RAW on some BSDs, written by old files
	linkTypeRawAlt2   = 14
)

// SupportedLinkType reports whether the decoder has a first layer for the
// link type.
func SupportedLinkType(lt uint16) bool {
	switch lt {
	case LinkTypeNull, LinkTypeEthernet, LinkTypeRaw, LinkTypeLoop, LinkTypeLinuxSLL, LinkTypeNFLOG,
		LinkTypeIPv4, LinkTypeIPv6, LinkTypeLinuxSLL2, linkTypeRawAlt, linkTypeRawAlt2:
		return true
	}
	return false
}

func (d *Decoder) ethernet(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindEthernet)
	if i < 0 {
		return nDone, nil
	}
	l := &p.Ethernet[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindEthernet, err)
		return nDone, nil
	}
	p.commit(KindEthernet, i, "eth")
	if l.EthernetType == layers.EthernetTypeLLC {
		return nLLC, l.Payload
	}
	return d.etherType(uint16(l.EthernetType)), l.Payload
}

func (d *Decoder) vlan(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	k, name, arr := KindDot1Q, "vlan", &p.Dot1Q
	if nx == nDot1AD {
		k, name, arr = KindDot1AD, "ieee8021ad", &p.Dot1AD
	}
	i := p.add(k)
	if i < 0 {
		return nDone, nil
	}
	l := &arr[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(k, err)
		return nDone, nil
	}
	p.commit(k, i, name)
	if l.Type < 0x0600 {
		return nLLC, l.Payload
	}
	return d.etherType(uint16(l.Type)), l.Payload
}

func (d *Decoder) sll(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindLinuxSLL)
	if i < 0 {
		return nDone, nil
	}
	l := &p.LinuxSLL[0]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindLinuxSLL, err)
		return nDone, nil
	}
	p.commit(KindLinuxSLL, i, "sll")
	return d.sllProto(uint16(l.EthernetType)), l.Payload
}

func (d *Decoder) sll2(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindLinuxSLL2)
	if i < 0 {
		return nDone, nil
	}
	l := &p.LinuxSLL2[0]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindLinuxSLL2, err)
		return nDone, nil
	}
	p.commit(KindLinuxSLL2, i, "sll")
	return d.sllProto(uint16(l.ProtocolType)), l.Payload
}

func (d *Decoder) null(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindLoopback)
	if i < 0 {
		return nDone, nil
	}
	l := &p.Loopback[0]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindLoopback, err)
		return nDone, nil
	}
	p.commit(KindLoopback, i, "null")
	switch l.Family {
	case layers.ProtocolFamilyIPv4:
		nx = nIPv4
	case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD, layers.ProtocolFamilyIPv6Darwin, 10:
		nx = nIPv6
	default:
		nx = nDone
	}
	data = l.Payload
	return nx, data
}

func (d *Decoder) llc(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindLLC)
	if i < 0 {
		return nDone, nil
	}
	if err := p.LLC[i].DecodeFromBytes(data, df); err != nil {
		p.fail(KindLLC, err)
		return nDone, nil
	}
	p.commit(KindLLC, i, "llc")
	return nDone, nil
}

func (d *Decoder) arp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindARP)
	if i < 0 {
		return nDone, nil
	}
	if err := p.ARP[i].DecodeFromBytes(data, df); err != nil {
		p.fail(KindARP, err)
		return nDone, nil
	}
	p.commit(KindARP, i, "arp")
	return nDone, nil
}

// etherType maps an EtherType to the next decoder.
func (d *Decoder) etherType(t uint16) next {
	switch t {
	case 0x0800:
		return nIPv4
	case 0x86dd:
		return nIPv6
	case 0x0806, 0x8035: // ARP, RARP
		return nARP
	case 0x8909:
		return nCMD
	case 0x8100, 0x9100:
		return nDot1Q
	case 0x88a8:
		return nDot1AD
	case 0x8847, 0x8848:
		return nMPLS
	case 0x8864:
		return nPPPoE
	case 0x6558:
		return nEthernet
	}
	return nDone
}

// sllProto maps the protocol field of a Linux cooked header.
func (d *Decoder) sllProto(t uint16) next {
	switch t {
	case 0x0004: // 802.2 LLC frames
		return nLLC
	}
	return d.etherType(t)
}
