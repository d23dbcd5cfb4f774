package flow

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/decode/httphead"
	"github.com/espcap/espcap-fast/decode/tlshello"
)

// AppFields are the application-layer fields of one packet that a flow
// keeps: the first of each in the flow. The byte slices point into the
// frame (valid while it is). The DNS name is copied (gopacket decodes names
// into a buffer of its own), and so are the TLS server name and ALPN
// protocol: a QUIC Initial's ClientHello lies in the decoder's buffer of
// decrypted CRYPTO frames, which the next packet the decoder sees
// overwrites, while the pipeline tracks flows after the worker has decoded
// the batch's later packets.
type AppFields struct {
	set                                   bool
	HTTPMethod, HTTPHost, HTTPURI, HTTPUA []byte
	HTTPStatus                            int
	TLSVersion                            uint16 // negotiated: from the ServerHello
	DNSRCode                              int    // response code + 1; 0: no response
	DHCPHostName                          []byte // DHCPv4 option 12
	dnsName                               [maxField]byte
	dnsLen                                uint8
	// the ClientHello's server name and first ALPN protocol
	sni, alpn       [maxField]byte
	sniLen, alpnLen uint8
	// the hashed fingerprints of a complete ClientHello (JA3, JA4) and
	// ServerHello (JA3S), hex
	ja3, ja3s         [32]byte
	ja4               [36]byte
	ja3n, ja3sn, ja4n uint8
	answers           [MaxAnswers][16]byte // A and AAAA of the answer section
	answer4           uint8                // bit i: answers[i] is IPv4 (first 4 bytes)
	nAnswers          uint8
}

// MaxAnswers is the most DNS answer addresses a flow keeps (the first
// distinct ones of its responses' answer sections).
const MaxAnswers = 8

// maxField is the most bytes kept of one application field.
const maxField = 128

// extract fills a from the packet's application layers from index from
// up to (not including) to.
func (a *AppFields) extract(p *decode.Packet, from, to int) {
	if a.set {
		a.reset()
	}
	for i := from; i < to; i++ {
		l := &p.Layers[i]
		switch l.Kind {
		case decode.KindHTTP:
			a.http(&p.HTTP[l.Index])
		case decode.KindTLS:
			a.tls(&p.TLS[l.Index])
		case decode.KindDNS:
			a.dns(&p.DNS[l.Index])
		case decode.KindDHCP:
			a.dhcp(&p.DHCP[l.Index])
		}
	}
}

// reset empties a. The arrays are left as they are: what reads them reads
// only the bytes their lengths cover, and an answer is cleared before it
// is written.
func (a *AppFields) reset() {
	a.set = false
	a.HTTPMethod, a.HTTPHost, a.HTTPURI, a.HTTPUA = nil, nil, nil, nil
	a.HTTPStatus = 0
	a.sniLen, a.alpnLen = 0, 0
	a.TLSVersion = 0
	a.DNSRCode = 0
	a.DHCPHostName = nil
	a.dnsLen = 0
	a.ja3n, a.ja3sn, a.ja4n = 0, 0, 0
	a.answer4, a.nAnswers = 0, 0
}

// http takes the fields of an HTTP message head; a segment that continues
// a message (neither request nor response) has none, and leaves a unset
// (merging it would change nothing).
func (a *AppFields) http(m *httphead.Message) {
	if m.Request {
		a.set = true
		a.HTTPMethod, a.HTTPHost, a.HTTPURI, a.HTTPUA = m.Method, m.Host, m.URI, m.UserAgent
	} else if m.Response {
		a.set = true
		a.HTTPStatus = m.StatusCode
	}
}

func (a *AppFields) tls(h *tlshello.Hello) {
	switch h.HandshakeType {
	case 1:
		a.set = true
		a.sniLen = uint8(copy(a.sni[:], h.SNI))
		if len(h.ALPN) > 0 {
			a.alpnLen = uint8(copy(a.alpn[:], h.ALPN[0]))
		}
		a.ja3n = uint8(len(h.AppendJA3Hash(a.ja3[:0])))
		if j := h.AppendJA4(a.ja4[:0]); len(j) <= len(a.ja4) {
			a.ja4n = uint8(len(j))
		}
	case 2:
		a.set = true
		a.TLSVersion = h.Version
		if len(h.SupportedVersions) > 0 {
			a.TLSVersion = h.SupportedVersions[0]
		}
		a.ja3sn = uint8(len(h.AppendJA3SHash(a.ja3s[:0])))
	}
}

func (a *AppFields) dns(d *layers.DNS) {
	a.set = true
	if d.QR {
		a.DNSRCode = int(d.ResponseCode) + 1
	}
	if len(d.Questions) > 0 {
		a.dnsLen = uint8(copy(a.dnsName[:], d.Questions[0].Name))
	}
	if !d.QR {
		return
	}
	for i := range d.Answers {
		r := &d.Answers[i]
		if a.nAnswers == MaxAnswers {
			break
		}
		if r.Class != layers.DNSClassIN || (r.Type != layers.DNSTypeA && r.Type != layers.DNSTypeAAAA) {
			continue
		}
		if ip4 := r.IP.To4(); r.Type == layers.DNSTypeA && ip4 != nil {
			a.answers[a.nAnswers] = [16]byte{}
			copy(a.answers[a.nAnswers][:], ip4)
			a.answer4 |= 1 << a.nAnswers
		} else if r.Type == layers.DNSTypeAAAA && len(r.IP) == 16 {
			copy(a.answers[a.nAnswers][:], r.IP)
		} else {
			continue
		}
		a.nAnswers++
	}
}

func (a *AppFields) dhcp(d *layers.DHCPv4) {
	for i := range d.Options {
		if o := &d.Options[i]; o.Type == layers.DHCPOptHostname && len(o.Data) > 0 {
			a.set = true
			a.DHCPHostName = o.Data
			return
		}
	}
}

// AppSummary is what a flow's application layers said: the first HTTP
// request's method, host, URI and user agent and the first response's
// status, the TLS SNI and first ALPN protocol of the ClientHello and the
// version the ServerHello chose, the first DNS question and response code.
// The JA3, JA4 and JA3S fingerprints of the first complete hellos, the
// distinct A and AAAA addresses in the answer sections of the flow's DNS
// responses (the first MaxAnswers), and the first DHCPv4 host name (option 12).
// Each text is cut at 128 bytes, and all share 320 bytes (the fingerprints
// have room of their own).
type AppSummary struct {
	buf                                         [320]byte
	n                                           uint16
	method, host, uri, ua, sni, alpn, dnsq, dhn span
	HTTPStatus                                  uint16 // 0: none
	TLSVersion                                  uint16 // 0: none
	dnsRCode                                    int16  // response code + 1
	ja3, ja3s                                   [32]byte
	ja4                                         [36]byte
	ja3n, ja3sn, ja4n                           uint8
	answers                                     [MaxAnswers][16]byte
	answer4, nAnswers                           uint8
}

type span struct{ off, n uint16 }

// keep copies s into the summary's buffer unless sp already holds a value.
func (a *AppSummary) keep(sp *span, s []byte) {
	if sp.n != 0 || len(s) == 0 {
		return
	}
	s = s[:min(len(s), maxField, len(a.buf)-int(a.n))]
	copy(a.buf[a.n:], s)
	*sp = span{a.n, uint16(len(s))}
	a.n += uint16(len(s))
}

func (a *AppSummary) get(sp span) []byte { return a.buf[sp.off : sp.off+sp.n] }

func (a *AppSummary) merge(f *AppFields) {
	a.keep(&a.method, f.HTTPMethod)
	a.keep(&a.host, f.HTTPHost)
	a.keep(&a.uri, f.HTTPURI)
	a.keep(&a.ua, f.HTTPUA)
	a.keep(&a.sni, f.sni[:f.sniLen])
	a.keep(&a.alpn, f.alpn[:f.alpnLen])
	a.keep(&a.dnsq, f.dnsName[:f.dnsLen])
	if a.HTTPStatus == 0 && f.HTTPStatus > 0 && f.HTTPStatus < 1000 {
		a.HTTPStatus = uint16(f.HTTPStatus)
	}
	if a.TLSVersion == 0 {
		a.TLSVersion = f.TLSVersion
	}
	if a.dnsRCode == 0 && f.DNSRCode > 0 {
		a.dnsRCode = int16(f.DNSRCode)
	}
	a.keep(&a.dhn, f.DHCPHostName)
	if a.ja3n == 0 && f.ja3n > 0 {
		a.ja3, a.ja3n = f.ja3, f.ja3n
	}
	if a.ja4n == 0 && f.ja4n > 0 {
		a.ja4, a.ja4n = f.ja4, f.ja4n
	}
	if a.ja3sn == 0 && f.ja3sn > 0 {
		a.ja3s, a.ja3sn = f.ja3s, f.ja3sn
	}
	for i := range f.nAnswers {
		a.addAnswer(f.answers[i], f.answer4&(1<<i) != 0)
	}
}

// complete reports whether the summary holds all that a flow of
// application app keeps: TLS and QUIC, both hellos' fingerprints (so the
// ClientHello's server name and ALPN and the ServerHello's version too);
// HTTP, the first request's method, host, URI and user agent and the first
// response's status; NTP and DHCPv6, which give nothing but their name.
// DNS (its answers add up), DHCP and unknown applications are never
// complete: they are read for Config.Inspect packets.
func (a *AppSummary) complete(app string) bool {
	switch app {
	case "tls", "quic":
		return a.ja3n > 0 && a.ja3sn > 0
	case "http":
		return a.method.n > 0 && a.host.n > 0 && a.uri.n > 0 && a.ua.n > 0 && a.HTTPStatus != 0
	case "ntp", "dhcpv6":
		return true
	}
	return false
}

// addAnswer keeps a DNS answer address unless it is there or the list is full.
func (a *AppSummary) addAnswer(ip [16]byte, v4 bool) {
	if a.nAnswers == MaxAnswers {
		return
	}
	for i := range a.nAnswers {
		if a.answers[i] == ip && (a.answer4&(1<<i) != 0) == v4 {
			return
		}
	}
	a.answers[a.nAnswers] = ip
	if v4 {
		a.answer4 |= 1 << a.nAnswers
	}
	a.nAnswers++
}

// HTTPMethod returns the method of the flow's first HTTP request (nil if none).
func (a *AppSummary) HTTPMethod() []byte { return a.get(a.method) }

// HTTPHost returns the Host header of the first HTTP request.
func (a *AppSummary) HTTPHost() []byte { return a.get(a.host) }

// HTTPURI returns the URI of the first HTTP request.
func (a *AppSummary) HTTPURI() []byte { return a.get(a.uri) }

// HTTPUserAgent returns the User-Agent of the first HTTP request.
func (a *AppSummary) HTTPUserAgent() []byte { return a.get(a.ua) }

// TLSServerName returns the SNI of the ClientHello.
func (a *AppSummary) TLSServerName() []byte { return a.get(a.sni) }

// TLSALPN returns the first ALPN protocol the ClientHello offered.
func (a *AppSummary) TLSALPN() []byte { return a.get(a.alpn) }

// DNSQuestion returns the first DNS question name.
func (a *AppSummary) DNSQuestion() []byte { return a.get(a.dnsq) }

// DNSResponseCode returns the first DNS response's code, and false when no
// response was seen.
func (a *AppSummary) DNSResponseCode() (int, bool) { return int(a.dnsRCode) - 1, a.dnsRCode > 0 }

// DHCPHostName returns the host name (option 12) of the first DHCPv4
// message that has one.
func (a *AppSummary) DHCPHostName() []byte { return a.get(a.dhn) }

// JA3 returns the JA3 hash of the flow's first complete ClientHello (nil if none).
func (a *AppSummary) JA3() []byte { return a.ja3[:a.ja3n] }

// JA4 returns the JA4 fingerprint of the flow's first complete ClientHello.
func (a *AppSummary) JA4() []byte { return a.ja4[:a.ja4n] }

// JA3S returns the JA3S hash of the flow's first complete ServerHello.
func (a *AppSummary) JA3S() []byte { return a.ja3s[:a.ja3sn] }

// DNSAnswers returns how many answer addresses the flow kept.
func (a *AppSummary) DNSAnswers() int { return int(a.nAnswers) }

// DNSAnswer returns the i-th answer address: 4 bytes for an A record, 16
// for an AAAA record. It points into the summary.
func (a *AppSummary) DNSAnswer(i int) []byte {
	if a.answer4&(1<<i) != 0 {
		return a.answers[i][:4]
	}
	return a.answers[i][:]
}
