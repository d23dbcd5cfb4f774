package decode

// This file decodes the tunnels gopacket has layers for: GRE, VXLAN and
// GTP-U.

func (d *Decoder) gre(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindGRE)
	if i < 0 {
		return nDone, nil
	}
	l := &p.GRE[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindGRE, err)
		return nDone, nil
	}
	p.commit(KindGRE, i, "gre")
	data = l.Payload
	switch uint16(l.Protocol) {
	case 0x880b: // PPP (PPTP)
		nx = nPPP
	case 0x88be, 0x22eb:
		nx = nERSPAN
		d.walk.greSeq = l.SeqPresent
		d.walk.erspan3 = l.Protocol == 0x22eb
	case 0x0000: // keepalive: carries the reply IP packet
		nx = nIPVersion
	case 0x8909:
		nx = nCMD
		d.walk.cmdInGRE = true
	default:
		nx = d.etherType(uint16(l.Protocol))
	}
	return nx, data
}

func (d *Decoder) vxlan(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindVXLAN)
	if i < 0 {
		return nDone, nil
	}
	l := &p.VXLAN[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		p.fail(KindVXLAN, err)
		return nDone, nil
	}
	p.commit(KindVXLAN, i, "vxlan")
	return nEthernet, l.Payload
}

func (d *Decoder) gtp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindGTP)
	if i < 0 {
		return nDone, nil
	}
	l := &p.GTP[i]
	if err := l.DecodeFromBytes(data, df); err != nil {
		if !gtpCut(l, data) {
			p.fail(KindGTP, err)
			return nDone, nil
		}
		if p.Flags&FlagFragment == 0 { // cut, not fragmented
			p.fail(KindGTP, err)
		}
	}
	p.commit(KindGTP, i, "gtp")
	if l.MessageType != 255 || len(l.Payload) == 0 {
		return nDone, nil // signalling, not a tunnelled packet
	}
	return nIPVersion, l.Payload
}
