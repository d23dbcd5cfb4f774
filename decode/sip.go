package decode

import "github.com/espcap/espcap-fast/decode/sip"

// This file connects the sip package to the registry (its entry is in
// registry.go).

// sipLayers holds the SIP layers of a packet.
type sipLayers struct {
	m [MaxRepeat]sip.Message
}

func newSIP() AppLayers { return new(sipLayers) }

// Decode decodes a datagram or segment that starts a SIP message.
func (s *sipLayers) Decode(i int, b []byte, sport, dport uint16) bool {
	return s.m[i].Parse(b) == nil
}

// Write writes the fields Wireshark names sip.*.
func (s *sipLayers) Write(i int, w FieldWriter) {
	m := &s.m[i]
	if m.Request {
		w.String("Request-Line", m.RequestLine)
		w.String("Method", m.Method)
		w.String("r-uri", m.URI)
	} else {
		w.String("Status-Line", m.StatusLine)
		w.Uint("Status-Code", uint64(m.StatusCode))
	}
	for _, h := range [...]struct {
		name string
		v    []byte
	}{{"Call-ID", m.CallID}, {"From", m.From}, {"To", m.To}, {"CSeq", m.CSeq}, {"User-Agent", m.UserAgent}} {
		if h.v != nil {
			w.String(h.name, h.v)
		}
	}
}
