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
		if int(x.ResponseCode) < len(dnsRcodes) {
			w.raw(`,"response_code":`, dnsRcodes[x.ResponseCode])
		} else {
			w.b = append(w.b, `,"response_code":"`...)
			w.b = appendUint(w.b, uint64(x.ResponseCode))
			w.b = append(w.b, '"')
		}
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
	w := &e.w
	switch {
	case m.Request:
		w.object(`,"http":`)
		w.object(`,"request":`)
		w.str(`,"method":`, m.Method)
		if len(m.Referer) > 0 {
			w.str(`,"referrer":`, m.Referer)
		}
		w.close()
		if v, ok := bytes.CutPrefix(m.Version, []byte("HTTP/")); ok {
			w.str(`,"version":`, v)
		}
		w.close()
		w.object(`,"url":`)
		w.str(`,"original":`, m.URI)
		path := m.URI
		if i := bytes.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if len(path) > 0 && path[0] == '/' {
			w.str(`,"path":`, path)
		}
		if len(m.Host) > 0 {
			host := m.Host
			if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
				host = host[:i]
			}
			w.str(`,"domain":`, host)
		}
		w.close()
		if len(m.UserAgent) > 0 {
			w.object(`,"user_agent":`)
			w.str(`,"original":`, m.UserAgent)
			w.close()
		}
	case m.Response:
		w.object(`,"http":`)
		w.object(`,"response":`)
		w.uint(`,"status_code":`, uint64(m.StatusCode))
		w.close()
		if v, ok := bytes.CutPrefix(m.ResponseVersion, []byte("HTTP/")); ok {
			w.str(`,"version":`, v)
		}
		w.close()
	}
}

func (e *Encoder) ecsTLS(h *tlshello.Hello) {
	w := &e.w
	if h.RecordType != 22 || (h.HandshakeType != 1 && h.HandshakeType != 2) {
		return
	}
	w.object(`,"tls":`)
	if h.HandshakeType == 1 {
		w.object(`,"client":`)
		if len(h.SNI) > 0 {
			w.str(`,"server_name":`, h.SNI)
		}
		if e.ja3Kind == 1 {
			w.key(`,"ja3":"`)
			w.b = append(w.b, e.ja3[:]...)
			w.b = append(w.b, '"')
		}
		w.close()
	} else {
		if len(h.ALPN) > 0 {
			w.str(`,"next_protocol":`, h.ALPN[0])
		}
		w.object(`,"server":`)
		if e.ja3Kind == 2 {
			w.key(`,"ja3s":"`)
			w.b = append(w.b, e.ja3[:]...)
			w.b = append(w.b, '"')
		}
		w.close()
	}
	w.close()
}
