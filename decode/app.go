package decode

// tcpApp decodes the application layer of a TCP segment, each segment on
// its own (no stream reassembly): DNS by port, TLS by its record header,
// HTTP/1.x on Wireshark's HTTP ports or wherever a segment starts with a
// request or status line. It returns what to decode next.
func (d *Decoder) tcpApp(sport, dport uint16, b []byte) next {
	if len(b) == 0 {
		return nDone
	}
	if sport == 53 || dport == 53 {
		return nDNSTCP
	}
	p := &d.pkt
	if tlsRecordStart(b) || tlsPort(sport) || tlsPort(dport) {
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
	i := p.add(KindHTTP)
	if i < 0 {
		return nDone
	}
	m := &p.HTTP[i]
	if m.Parse(b) || httpPort(sport) || httpPort(dport) {
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

// tlsPort reports whether port is in Wireshark's default TCP port table for
// TLS.
func tlsPort(port uint16) bool {
	switch port {
	case 324, 443, 465, 636, 802, 853, 993, 995, 1300, 2221, 2443, 3249, 3250, 3251, 3252,
		3496, 5061, 5671, 5684, 5868, 8883, 11207, 19999, 27017:
		return true
	}
	return false
}

// httpPort reports whether port is in Wireshark's default TCP port range for
// HTTP.
func httpPort(port uint16) bool {
	switch port {
	case 80, 631, 1900, 2710, 2869, 3128, 3132, 3689, 5985, 8080, 8088, 11371:
		return true
	}
	return false
}
