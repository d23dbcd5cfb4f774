package encode

import (
	"bytes"

	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/decode/httphead"
	"github.com/espcap/espcap-fast/decode/tlshello"
)

// ecsApp writes the ECS fields of the application layers at the top level
// of the document, where Elastic's own apps (Packetbeat dashboards, Elastic
// Security) look for them: dns.*, http.*, url.*, user_agent.original and
// tls.*. They repeat values of layers.* under their ECS names; a packet
// without such a layer gets none. Only the packet's own layers count, not
// the datagram an ICMP error quotes.
func (e *Encoder) ecsApp(p *decode.Packet) {
	if p.Count(decode.KindDNS)+p.Count(decode.KindHTTP)+p.Count(decode.KindTLS) == 0 {
		return
	}
	n := ownLayers(p)
	for i := 0; i < n; i++ {
		switch l := p.Layers[i]; l.Kind {
		case decode.KindDNS:
			e.ecsDNS(&p.DNS[l.Index])
			return
		case decode.KindHTTP:
			e.ecsHTTP(&p.HTTP[l.Index])
			return
		case decode.KindTLS:
			e.ecsTLS(&p.TLS[l.Index])
			return
		}
	}
}

// dnsRcodes are the ECS dns.response_code names (RFC 1035, 2136, 6895).
var dnsRcodes = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

func (e *Encoder) ecsDNS(x *layers.DNS) {
	w := &e.w
	w.object(`,"dns":`)
	w.b = append(w.b, `,"id":"`...)
	w.b = appendUint(w.b, uint64(x.ID))
	w.b = append(w.b, '"')
	if x.QR {
		w.raw(`,"type":`, "answer")
		w.dnsResponseCode(uint64(x.ResponseCode))
	} else {
		w.raw(`,"type":`, "query")
	}
	if len(x.Questions) > 0 {
		q := &x.Questions[0]
		w.object(`,"question":`)
		w.key(`,"name":`)
		w.b = dnsName(w.b, q.Name)
		w.b = append(w.b, `,"type":"`...)
		w.b = appendDNSType(w.b, q.Type)
		w.b = append(w.b, '"')
		w.close()
	}
	// resolved_ip: the addresses of the answer section only (not the
	// additional "glue" records, which layers.dns.a also lists, as tshark)
	has := false
	for i := range x.Answers {
		r := &x.Answers[i]
		if (r.Type == layers.DNSTypeA && len(r.IP) == 4) || (r.Type == layers.DNSTypeAAAA && len(r.IP) == 16) {
			if !has {
				w.key(`,"resolved_ip":`)
				w.openArray()
				has = true
			}
			w.elem()
			w.b = appendIP(w.b, r.IP)
		}
	}
	if has {
		w.closeArray()
	}
	w.close()
}

// appendDNSType appends a record type's mnemonic (A, AAAA, ...), or its
// number for a type without one.
func appendDNSType(dst []byte, t layers.DNSType) []byte {
	switch t {
	case layers.DNSTypeA, layers.DNSTypeNS, layers.DNSTypeCNAME, layers.DNSTypeSOA, layers.DNSTypePTR,
		layers.DNSTypeMX, layers.DNSTypeTXT, layers.DNSTypeAAAA, layers.DNSTypeSRV, layers.DNSTypeOPT,
		layers.DNSTypeHINFO, layers.DNSTypeURI:
		return append(dst, t.String()...)
	case 65:
		return append(dst, "HTTPS"...)
	case 64:
		return append(dst, "SVCB"...)
	case 255:
		return append(dst, "ANY"...)
	}
	return appendUint(dst, uint64(t))
}

func (e *Encoder) ecsHTTP(m *httphead.Message) {
	switch {
	case m.Request:
		e.w.ecsHTTPRequest(m.Method, m.Referer, m.Version, m.URI, m.Host, m.UserAgent)
	case m.Response:
		e.w.ecsHTTPResponse(uint64(m.StatusCode), m.ResponseVersion)
	}
}

func (e *Encoder) ecsTLS(h *tlshello.Hello) {
	if !h.Handshake || h.Cut || h.RecordType == tlshello.RecordTypeSSLv2 || (h.HandshakeType != 1 && h.HandshakeType != 2) {
		return
	}
	var ja3 []byte // the hash layers.tls got for this hello, if any
	if want := uint8(h.HandshakeType); e.ja3Kind == want {
		ja3 = e.ja3[:]
	}
	if h.HandshakeType == 1 {
		e.w.ecsTLSClient(h.SNI, ja3)
		return
	}
	var alpn []byte
	if len(h.ALPN) > 0 {
		alpn = h.ALPN[0]
	}
	e.w.ecsTLSServer(alpn, ja3)
}

// The writers below are shared by both engines, which find the values in
// different places (decoded layers, tshark's EK fields) but write the same
// ECS fields. An empty value leaves its field out.

// ecsHTTPRequest writes http.request.method/referrer, http.version, url.*
// and user_agent.original of a request head.
func (w *writer) ecsHTTPRequest(method, referrer, version, uri, host, userAgent []byte) {
	w.object(`,"http":`)
	w.object(`,"request":`)
	w.str(`,"method":`, method)
	if len(referrer) > 0 {
		w.str(`,"referrer":`, referrer)
	}
	w.close()
	if v, ok := bytes.CutPrefix(version, []byte("HTTP/")); ok {
		w.str(`,"version":`, v)
	}
	w.close()
	w.object(`,"url":`)
	w.str(`,"original":`, uri)
	path := uri
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if len(path) > 0 && path[0] == '/' {
		w.str(`,"path":`, path)
	}
	if len(host) > 0 {
		if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
			host = host[:i] // the port, not the end of an IPv6 literal
		}
		w.str(`,"domain":`, host)
	}
	w.close()
	if len(userAgent) > 0 {
		w.object(`,"user_agent":`)
		w.str(`,"original":`, userAgent)
		w.close()
	}
}

// ecsHTTPResponse writes http.response.status_code and http.version.
func (w *writer) ecsHTTPResponse(code uint64, version []byte) {
	w.object(`,"http":`)
	w.object(`,"response":`)
	w.uint(`,"status_code":`, code)
	w.close()
	if v, ok := bytes.CutPrefix(version, []byte("HTTP/")); ok {
		w.str(`,"version":`, v)
	}
	w.close()
}

// ecsTLSClient writes tls.client.server_name and tls.client.ja3.
func (w *writer) ecsTLSClient(sni, ja3 []byte) {
	w.object(`,"tls":`)
	w.object(`,"client":`)
	if len(sni) > 0 {
		w.str(`,"server_name":`, sni)
	}
	if len(ja3) > 0 {
		w.str(`,"ja3":`, ja3)
	}
	w.close()
	w.close()
}

// ecsTLSServer writes tls.next_protocol and tls.server.ja3s.
func (w *writer) ecsTLSServer(alpn, ja3s []byte) {
	w.object(`,"tls":`)
	if len(alpn) > 0 {
		w.str(`,"next_protocol":`, alpn)
	}
	w.object(`,"server":`)
	if len(ja3s) > 0 {
		w.str(`,"ja3s":`, ja3s)
	}
	w.close()
	w.close()
}

// dnsResponseCode writes dns.response_code: the ECS name of the code, or
// its number for a code without one.
func (w *writer) dnsResponseCode(rc uint64) {
	if rc < uint64(len(dnsRcodes)) {
		w.raw(`,"response_code":`, dnsRcodes[rc])
		return
	}
	w.b = append(w.b, `,"response_code":"`...)
	w.b = appendUint(w.b, rc)
	w.b = append(w.b, '"')
}
