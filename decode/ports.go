package decode

// This file chooses the application decoder of a TCP or UDP payload: by
// the registry's port tables and by content.

func (d *Decoder) udpPayload(nx next, data []byte) (next, []byte) {
	nx = d.udpApp(d.walk.sport, d.walk.dport, data)
	return nx, data
}

func (d *Decoder) tcpPayload(nx next, data []byte) (next, []byte) {
	nx = d.tcpApp(d.walk.sport, d.walk.dport, data)
	return nx, data
}

func (d *Decoder) appStep(nx next, data []byte) (next, []byte) {
	if nx >= nApp {
		d.app(registered[nx-nApp], d.walk.sport, d.walk.dport, data)
	}
	return nDone, nil
}

// udpApp chooses the decoder for a UDP payload by port, as Wireshark's
// default port table does for the protocols decoded here.
func (d *Decoder) udpApp(sport, dport uint16, b []byte) next {
	if len(b) == 0 {
		return nDone
	}
	lo, hi := sport, dport
	if lo > hi {
		lo, hi = hi, lo
	}
	for _, port := range [2]uint16{lo, hi} {
		if e := udpEntry[port]; e != 0 {
			if pr := &registry[e-1]; pr.Probe == nil || pr.Probe(b) {
				return pr.step
			}
		}
	}
	if !udpPortClaimed(lo) && !udpPortClaimed(hi) && dnsHeuristic(b) {
		return nDNS
	}
	return nDone
}

// tcpApp decodes the application layer of a TCP segment, each segment on
// its own (no stream reassembly): DNS by port, TLS by its record header,
// HTTP/1.x on Wireshark's HTTP ports or wherever a segment starts with a
// request or status line. It returns what to decode next.
func (d *Decoder) tcpApp(sport, dport uint16, b []byte) next {
	if len(b) == 0 {
		return nDone
	}
	ks, kd := tcpKind[sport], tcpKind[dport]
	if ks == KindDNS || kd == KindDNS {
		return nDNSTCP
	}
	p := &d.pkt
	if tlsRecordStart(b) || ks == KindTLS || kd == KindTLS {
		// On a TLS port a segment that starts no record continues one;
		// Wireshark shows it as tls too.
		i := p.add(KindTLS)
		if i < 0 {
			return nDone
		}
		p.TLS[i].Parse(b)
		p.commit(KindTLS, i, "tls")
		return nDone
	}
	for _, pr := range registered {
		if ks == pr.Kind || kd == pr.Kind || pr.Probe != nil && pr.Probe(b) {
			return pr.step
		}
	}
	i := p.add(KindHTTP)
	if i < 0 {
		return nDone
	}
	m := &p.HTTP[i]
	if m.Parse(b) || ks == KindHTTP || kd == KindHTTP {
		// On an HTTP port a segment that starts no message is a
		// continuation of one; Wireshark shows it as http too.
		p.commit(KindHTTP, i, "http")
	}
	return nDone
}

// tlsRecordStart reports whether b starts with a plausible TLS record
// header: a known content type, major version 3 and a length within the
// protocol's limit.
func tlsRecordStart(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	if b[0] < 20 || b[0] > 24 || b[1] != 3 || b[2] > 4 {
		return false
	}
	n := int(b[3])<<8 | int(b[4])
	return n > 0 && n <= 18432
}

// app decodes the payload of a protocol added through the registry.
func (d *Decoder) app(pr *Protocol, sport, dport uint16, b []byte) {
	p := &d.pkt
	i := p.add(pr.Kind)
	if i < 0 {
		return
	}
	a := d.apps[pr.Kind]
	if a == nil { // a Decoder not made by NewDecoder
		a = pr.New()
		d.apps[pr.Kind], d.pkt.apps = a, &d.apps
	}
	if a.Decode(i, b, sport, dport) {
		p.commit(pr.Kind, i, pr.Name)
	}
}
