package decode

// This file decodes the application protocols gopacket has layers for
// (DHCP, DHCPv6, NTP) and SSDP (HTTP over UDP).

func (d *Decoder) ssdp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	i := p.add(KindHTTP)
	if i < 0 {
		return nDone, nil
	}
	if p.HTTP[i].Parse(data) {
		p.commit(KindHTTP, i, "ssdp")
	}
	return nDone, nil
}

func (d *Decoder) dhcp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindDHCP)
	if i < 0 {
		return nDone, nil
	}
	if err := p.DHCP[i].DecodeFromBytes(data, df); err != nil {
		if dhcpCut(&p.DHCP[i], data) {
			p.commit(KindDHCP, i, "dhcp")
		}
		p.fail(KindDHCP, err)
		return nDone, nil
	}
	p.commit(KindDHCP, i, "dhcp")
	return nDone, nil
}

func (d *Decoder) dhcpv6(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindDHCPv6)
	if i < 0 {
		return nDone, nil
	}
	if err := p.DHCPv6[i].DecodeFromBytes(data, df); err != nil {
		p.fail(KindDHCPv6, err)
		return nDone, nil
	}
	p.commit(KindDHCPv6, i, "dhcpv6")
	return nDone, nil
}

func (d *Decoder) ntp(nx next, data []byte) (next, []byte) {
	p := &d.pkt
	df := &d.df
	i := p.add(KindNTP)
	if i < 0 {
		return nDone, nil
	}
	if err := p.NTP[i].DecodeFromBytes(data, df); err != nil {
		p.fail(KindNTP, err)
		return nDone, nil
	}
	p.commit(KindNTP, i, "ntp")
	return nDone, nil
}
