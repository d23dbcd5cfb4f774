package decode

import "github.com/espcap/espcap-fast/decode/httphead"

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

// tcpApp chooses the application decoder of a TCP segment, each segment on
// its own (no stream reassembly), the way Wireshark's TCP dissector does:
// by the registry's TCP ports, the lower port first; where no port is
// known, by the entries' heuristics in registry order. It returns what to
// decode next.
func (d *Decoder) tcpApp(sport, dport uint16, b []byte) next {
	if len(b) == 0 {
		return nDone
	}
	k := tcpKind[min(sport, dport)]
	if k == KindNone {
		k = tcpKind[max(sport, dport)]
	}
	switch k {
	case KindNone:
	case KindDNS:
		return nDNSTCP
	case KindHTTP:
		// Wireshark's HTTP dissector shows nothing for a TLS record on
		// an HTTP port (no tls layer, no http layer).
		if !tlsRecordStart(b) {
			d.httpLayer(b, true)
		}
		return nDone
	case KindTLS:
		// Wireshark's TLS dissector rejects what is not TLS, and its
		// heuristics find HTTP in it.
		if tlsRecordStart(b) || !httphead.Start(b) || !d.httpLayer(b, false) {
			d.tlsLayer(b)
		}
		return nDone
	default:
		return byKind[k].step
	}
	for _, pr := range heuristics {
		if !pr.Heuristic(b) {
			continue
		}
		switch pr.Kind {
		case KindDNS:
			return nDNSTCP
		case KindTLS:
			d.tlsLayer(b)
			return nDone
		case KindHTTP:
			if d.httpLayer(b, false) {
				return nDone
			}
		default:
			return pr.step
		}
	}
	return nDone
}

// tlsLayer decodes the TLS records at the start of b. On a TLS port a
// segment that starts no record continues one; Wireshark shows it as tls
// too.
func (d *Decoder) tlsLayer(b []byte) {
	p := &d.pkt
	i := p.add(KindTLS)
	if i < 0 {
		return
	}
	p.TLS[i].Parse(b)
	p.commit(KindTLS, i, "tls")
}

// httpLayer decodes the HTTP/1.x message head at the start of b and
// reports whether it added an http layer: when b starts a request or
// status line, or, on an HTTP port (onPort), always: there a segment that
// starts no message continues one, and Wireshark shows it as http too.
func (d *Decoder) httpLayer(b []byte, onPort bool) bool {
	p := &d.pkt
	i := p.add(KindHTTP)
	if i < 0 {
		return true
	}
	if p.HTTP[i].Parse(b) || onPort {
		p.commit(KindHTTP, i, "http")
		return true
	}
	return false
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
