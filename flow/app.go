package flow

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/decode/httphead"
	"github.com/espcap/espcap-fast/decode/tlshello"
)

// AppFields are the application-layer fields of one packet that a flow
// keeps: the first of each in the flow. The byte slices point into the
// frame (valid while it is), except the DNS name, which is copied (gopacket
// decodes names into a buffer of its own).
type AppFields struct {
	set                                   bool
	HTTPMethod, HTTPHost, HTTPURI, HTTPUA []byte
	HTTPStatus                            int
	TLSSNI, TLSALPN                       []byte
	TLSVersion                            uint16 // negotiated: from the ServerHello
	DNSRCode                              int    // response code + 1; 0: no response
	dnsName                               [maxField]byte
	dnsLen                                uint8
}

// maxField is the most bytes kept of one application field.
const maxField = 128

// extractApp fills a from the packet's application layers.
func (a *AppFields) extract(p *decode.Packet, from int) {
	if a.set {
		*a = AppFields{}
	}
	for i := from; i < len(p.Layers); i++ {
		l := p.Layers[i]
		switch l.Kind {
		case decode.KindHTTP:
			a.http(&p.HTTP[l.Index])
		case decode.KindTLS:
			a.tls(&p.TLS[l.Index])
		case decode.KindDNS:
			a.dns(&p.DNS[l.Index])
		}
	}
}

func (a *AppFields) http(m *httphead.Message) {
	a.set = true
	if m.Request {
		a.HTTPMethod, a.HTTPHost, a.HTTPURI, a.HTTPUA = m.Method, m.Host, m.URI, m.UserAgent
	} else if m.Response {
		a.HTTPStatus = m.StatusCode
	}
}

func (a *AppFields) tls(h *tlshello.Hello) {
	switch h.HandshakeType {
	case 1:
		a.set = true
		a.TLSSNI = h.SNI
		if len(h.ALPN) > 0 {
			a.TLSALPN = h.ALPN[0]
		}
	case 2:
		a.set = true
		a.TLSVersion = h.Version
		if len(h.SupportedVersions) > 0 {
			a.TLSVersion = h.SupportedVersions[0]
		}
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
}

// AppSummary is what a flow's application layers said: the first HTTP
// request's method, host, URI and user agent and the first response's
// status, the TLS SNI and first ALPN protocol of the ClientHello and the
// version the ServerHello chose, the first DNS question and response code.
// Each text is cut at 128 bytes, and all share 320 bytes.
type AppSummary struct {
	buf                                    [320]byte
	n                                      uint16
	method, host, uri, ua, sni, alpn, dnsq span
	HTTPStatus                             uint16 // 0: none
	TLSVersion                             uint16 // 0: none
	dnsRCode                               int16  // response code + 1
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
	a.keep(&a.sni, f.TLSSNI)
	a.keep(&a.alpn, f.TLSALPN)
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
