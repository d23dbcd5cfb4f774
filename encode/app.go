package encode

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode/httphead"
	"github.com/espcap/espcap-fast/decode/tlshello"
)

// list writes a field that may occur several times: a scalar when it occurs
// once, an array when more, nothing when never. val appends the i-th value
// (as JSON) to dst, or reports false to leave it out.
func (e *Encoder) list(k string, n int, val func(dst []byte, i int) ([]byte, bool)) {
	if n == 0 {
		return
	}
	w := &e.w
	mark := len(w.b)
	w.b = append(w.b, k...)
	at := len(w.b)
	count := 0
	for i := 0; i < n; i++ {
		m := len(w.b)
		b, ok := val(append(w.b, ','), i)
		if !ok {
			w.b = w.b[:m]
			continue
		}
		w.b = b
		count++
	}
	switch count {
	case 0:
		w.b = w.b[:mark]
	case 1:
		copy(w.b[at:], w.b[at+1:])
		w.b = w.b[:len(w.b)-1]
	default:
		w.b[at] = '['
		w.b = append(w.b, ']')
	}
}

// dnsName appends a DNS name as Wireshark shows it: "<Root>" for the root.
func dnsName(dst, name []byte) []byte {
	if len(name) == 0 {
		return append(dst, `"<Root>"`...)
	}
	return appendString(dst, name)
}

func (e *Encoder) dns(x *layers.DNS) {
	w := &e.w
	w.uint(`,"id":`, uint64(x.ID))
	w.bool(`,"flags_response":`, x.QR)
	w.uint(`,"flags_opcode":`, uint64(x.OpCode))
	if x.QR {
		w.bool(`,"flags_authoritative":`, x.AA)
	}
	w.bool(`,"flags_truncated":`, x.TC)
	w.bool(`,"flags_recdesired":`, x.RD)
	if x.QR {
		w.bool(`,"flags_recavail":`, x.RA)
		w.uint(`,"flags_rcode":`, uint64(x.ResponseCode))
	}
	w.uint(`,"count_queries":`, uint64(x.QDCount))
	w.uint(`,"count_answers":`, uint64(x.ANCount))
	w.uint(`,"count_auth_rr":`, uint64(x.NSCount))
	w.uint(`,"count_add_rr":`, uint64(x.ARCount))
	q := x.Questions
	e.list(`,"qry_name":`, len(q), func(b []byte, i int) ([]byte, bool) { return dnsName(b, q[i].Name), true })
	e.list(`,"qry_type":`, len(q), func(b []byte, i int) ([]byte, bool) { return appendUint(b, uint64(q[i].Type)), true })
	e.list(`,"qry_class":`, len(q), func(b []byte, i int) ([]byte, bool) { return appendUint(b, uint64(q[i].Class)), true })

	na, nn := len(x.Answers), len(x.Authorities)
	n := na + nn + len(x.Additionals)
	rr := func(i int) *layers.DNSResourceRecord {
		switch {
		case i < na:
			return &x.Answers[i]
		case i < na+nn:
			return &x.Authorities[i-na]
		}
		return &x.Additionals[i-na-nn]
	}
	if n == 0 {
		return
	}
	// which record types there are: the lists of the others are skipped
	var has uint16
	for i := 0; i < n; i++ {
		for j := range dnsRRLists {
			if rr(i).Type == dnsRRLists[j].typ {
				has |= 1 << j
			}
		}
	}
	e.list(`,"resp_name":`, n, func(b []byte, i int) ([]byte, bool) { return dnsName(b, rr(i).Name), true })
	e.list(`,"resp_type":`, n, func(b []byte, i int) ([]byte, bool) { return appendUint(b, uint64(rr(i).Type)), true })
	e.list(`,"resp_ttl":`, n, func(b []byte, i int) ([]byte, bool) {
		r := rr(i)
		if r.Type == layers.DNSTypeOPT {
			return b, false
		}
		return appendUint(b, uint64(r.TTL)), true
	})
	for j := range dnsRRLists {
		if has&(1<<j) == 0 {
			continue
		}
		f := &dnsRRLists[j]
		e.list(f.key, n, func(b []byte, i int) ([]byte, bool) {
			if r := rr(i); r.Type == f.typ {
				return f.val(b, r)
			}
			return b, false
		})
	}
}

// dnsRRLists are the fields of resource records of one type: each a list
// over the records of that type, in the order of the message.
var dnsRRLists = [...]struct {
	key string
	typ layers.DNSType
	val func(b []byte, r *layers.DNSResourceRecord) ([]byte, bool)
}{
	{`,"a":`, layers.DNSTypeA, func(b []byte, r *layers.DNSResourceRecord) ([]byte, bool) {
		if len(r.IP) != 4 {
			return b, false
		}
		return appendIP(b, r.IP), true
	}},
	{`,"aaaa":`, layers.DNSTypeAAAA, func(b []byte, r *layers.DNSResourceRecord) ([]byte, bool) {
		if len(r.IP) != 16 {
			return b, false
		}
		return appendIP(b, r.IP), true
	}},
	{`,"cname":`, layers.DNSTypeCNAME, func(b []byte, r *layers.DNSResourceRecord) ([]byte, bool) { return dnsName(b, r.CNAME), true }},
	{`,"ns":`, layers.DNSTypeNS, func(b []byte, r *layers.DNSResourceRecord) ([]byte, bool) { return dnsName(b, r.NS), true }},
	{`,"ptr_domain_name":`, layers.DNSTypePTR, func(b []byte, r *layers.DNSResourceRecord) ([]byte, bool) { return dnsName(b, r.PTR), true }},
	{`,"mx_mail_exchange":`, layers.DNSTypeMX, func(b []byte, r *layers.DNSResourceRecord) ([]byte, bool) { return dnsName(b, r.MX.Name), true }},
	{`,"txt":`, layers.DNSTypeTXT, func(b []byte, r *layers.DNSResourceRecord) ([]byte, bool) {
		if len(r.TXTs) == 0 {
			return b, false
		}
		return appendString(b, r.TXTs[0]), true
	}},
}

func (e *Encoder) dhcp(x *layers.DHCPv4) {
	w := &e.w
	w.uint(`,"type":`, uint64(x.Operation))
	w.uint(`,"hw_type":`, uint64(x.HardwareType))
	w.uint(`,"hw_len":`, uint64(x.HardwareLen))
	w.uint(`,"hops":`, uint64(x.RelayHops))
	w.uint(`,"id":`, uint64(x.Xid))
	w.uint(`,"secs":`, uint64(x.Secs))
	w.bool(`,"flags_bc":`, x.Flags&0x8000 != 0)
	w.ip(`,"ip_client":`, x.ClientIP.To4())
	w.ip(`,"ip_your":`, x.YourClientIP.To4())
	w.ip(`,"ip_server":`, x.NextServerIP.To4())
	w.ip(`,"ip_relay":`, x.RelayAgentIP.To4())
	if x.HardwareType == layers.LinkTypeEthernet && len(x.ClientHWAddr) == 6 {
		w.mac(`,"hw_mac_addr":`, x.ClientHWAddr)
	}
	if s := trimNUL(x.ServerName); len(s) > 0 {
		w.str(`,"server":`, s)
	}
	if s := trimNUL(x.File); len(s) > 0 {
		w.str(`,"file":`, s)
	}
	for _, o := range x.Options {
		switch o.Type {
		case layers.DHCPOptMessageType:
			if len(o.Data) == 1 {
				w.uint(`,"option_dhcp":`, uint64(o.Data[0]))
			}
		case layers.DHCPOptHostname:
			w.str(`,"option_hostname":`, o.Data)
		case layers.DHCPOptRequestIP:
			if len(o.Data) == 4 {
				w.ip(`,"option_requested_ip_address":`, o.Data)
			}
		case layers.DHCPOptServerID:
			if len(o.Data) == 4 {
				w.ip(`,"option_dhcp_server_id":`, o.Data)
			}
		case layers.DHCPOptDomainName:
			w.str(`,"option_domain_name":`, trimNUL(o.Data))
		case layers.DHCPOptClassID:
			w.str(`,"option_vendor_class_id":`, o.Data)
		case layers.DHCPOptSubnetMask:
			if len(o.Data) == 4 {
				w.ip(`,"option_subnet_mask":`, o.Data)
			}
		case layers.DHCPOptLeaseTime:
			if d := o.Data; len(d) == 4 {
				w.uint(`,"option_ip_address_lease_time":`, uint64(d[0])<<24|uint64(d[1])<<16|uint64(d[2])<<8|uint64(d[3]))
			}
		}
	}
}

// trimNUL cuts b at its first NUL byte.
func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func (e *Encoder) http(m *httphead.Message) {
	w := &e.w
	if m.Request {
		w.bool(`,"request":`, true)
		w.str(`,"request_method":`, m.Method)
		w.str(`,"request_uri":`, m.URI)
		if len(m.Version) > 0 {
			w.str(`,"request_version":`, m.Version)
		}
	} else if m.Response {
		w.bool(`,"response":`, true)
		w.str(`,"response_version":`, m.ResponseVersion)
		w.uint(`,"response_code":`, uint64(m.StatusCode))
		w.str(`,"response_phrase":`, m.Phrase)
	} else {
		return // a continuation segment: no head to show
	}
	if len(m.Host) > 0 {
		w.str(`,"host":`, m.Host)
	}
	if len(m.UserAgent) > 0 {
		w.str(`,"user_agent":`, m.UserAgent)
	}
	if len(m.Referer) > 0 {
		w.str(`,"referer":`, m.Referer)
	}
	if len(m.ContentType) > 0 {
		w.str(`,"content_type":`, m.ContentType)
	}
	if m.HasContentLength {
		w.int(`,"content_length":`, m.ContentLength)
	}
	if len(m.Server) > 0 {
		w.str(`,"server":`, m.Server)
	}
	if len(m.Location) > 0 {
		w.str(`,"location":`, m.Location)
	}
}

func (e *Encoder) tls(h *tlshello.Hello) {
	w := &e.w
	if h.RecordType == 0 || h.FirstCut {
		// a continuation segment, or a record cut at its end, which
		// Wireshark does not dissect without reassembly
		return
	}
	if !h.QUIC { // a hello in QUIC CRYPTO frames has no record header
		w.uint(`,"record_content_type":`, uint64(h.RecordType))
		w.uint(`,"record_version":`, uint64(h.RecordVersion))
	}
	if !h.Handshake || h.Cut {
		return
	}
	w.uint(`,"handshake_type":`, uint64(h.HandshakeType))
	if h.HandshakeType != 1 && h.HandshakeType != 2 {
		return
	}
	w.uint(`,"handshake_version":`, uint64(h.Version))
	if h.RecordType == tlshello.RecordTypeSSLv2 {
		return // its cipher specs are not TLS cipher suites
	}
	cs := h.CipherSuites
	e.list(`,"handshake_ciphersuite":`, len(cs), func(b []byte, i int) ([]byte, bool) { return appendUint(b, uint64(cs[i])), true })
	ex := h.Extensions
	e.list(`,"handshake_extension_type":`, len(ex), func(b []byte, i int) ([]byte, bool) { return appendUint(b, uint64(ex[i])), true })
	if len(h.SNI) > 0 {
		w.str(`,"handshake_extensions_server_name":`, h.SNI)
	}
	alpn := h.ALPN
	e.list(`,"handshake_extensions_alpn_str":`, len(alpn), func(b []byte, i int) ([]byte, bool) { return appendString(b, alpn[i]), true })
	sv := h.SupportedVersions
	e.list(`,"handshake_extensions_supported_version":`, len(sv), func(b []byte, i int) ([]byte, bool) { return appendUint(b, uint64(sv[i])), true })
	if !h.Complete {
		return
	}
	if h.HandshakeType == 1 {
		w.key(`,"handshake_ja3_full":"`)
		at := len(w.b)
		w.b = h.AppendJA3(w.b)
		s := e.fingerprints(h, w.b[at:], e.fps.clientKey(h, w.b[at:]))
		w.key(`","handshake_ja3":"`)
		w.b = append(w.b, s.ja3[:]...)
		e.ja3, e.ja3Kind = s.ja3, 1
		w.key(`","handshake_ja4":"`)
		w.b = append(w.b, s.ja4[:s.ja4n]...)
		w.b = append(w.b, '"')
	} else {
		w.key(`,"handshake_ja3s_full":"`)
		at := len(w.b)
		w.b = h.AppendJA3S(w.b)
		s := e.fingerprints(h, w.b[at:], e.fps.serverKey(w.b[at:]))
		w.key(`","handshake_ja3s":"`)
		w.b = append(w.b, s.ja3[:]...)
		e.ja3, e.ja3Kind = s.ja3, 2
		w.b = append(w.b, '"')
	}
}

// fingerprints returns the hashed fingerprints of hello h, whose JA3 (or
// JA3S) string is ja3 and cache key key: from the cache when it has them.
func (e *Encoder) fingerprints(h *tlshello.Hello, ja3, key []byte) *fpSlot {
	s, ok := e.fps.lookup(key)
	if ok {
		return s
	}
	if s == nil {
		s = &e.fpSpare
		s.fill(nil, h, ja3)
		return s
	}
	s.fill(key, h, ja3)
	return s
}
