// Package sip decodes the start line and a few headers of a SIP message
// (RFC 3261) from one UDP datagram or TCP segment, without reassembly: the
// request line (method and Request-URI) or the status line (status code),
// and the Call-ID, From, To, CSeq and User-Agent headers, compact forms
// included, as Wireshark's sip dissector shows them.
//
// Parsing allocates nothing: the fields are sub-slices of the payload.
package sip

import (
	"bytes"
	"errors"
)

// Message is the start of one SIP message.
type Message struct {
	// Request is set for a request, whose RequestLine, Method and URI are
	// set; else StatusLine and StatusCode are.
	Request     bool
	RequestLine []byte
	Method      []byte
	URI         []byte
	StatusLine  []byte
	StatusCode  uint16
	// Headers, when present (the first occurrence of each).
	CallID, From, To, CSeq, UserAgent []byte
}

// Errors of Parse (fixed values: no allocation for a datagram that is not
// SIP).
var (
	ErrNoStartLine = errors.New("sip: no request or status line at offset 0")
)

const version = "SIP/2.0"

// Probe reports whether b starts like a SIP message: a status line, or a
// method token followed by a sip:, sips: or tel: URI.
func Probe(b []byte) bool {
	if bytes.HasPrefix(b, []byte(version+" ")) {
		return true
	}
	for i := 0; i < len(b) && i <= 17; i++ {
		c := b[i]
		switch {
		case c >= 'A' && c <= 'Z':
		case c == ' ' && i > 0:
			u := b[i+1:]
			return bytes.HasPrefix(u, []byte("sip:")) || bytes.HasPrefix(u, []byte("sips:")) || bytes.HasPrefix(u, []byte("tel:"))
		default:
			return false
		}
	}
	return false
}

// Parse decodes the start line and headers of b up to the empty line (or
// the end of b). It returns ErrNoStartLine when b starts with neither a
// request line nor a status line.
func (m *Message) Parse(b []byte) error {
	*m = Message{}
	line, rest := nextLine(b)
	switch {
	case bytes.HasPrefix(line, []byte(version+" ")):
		code := line[len(version)+1:]
		if len(code) < 3 || len(code) > 3 && code[3] != ' ' {
			return ErrNoStartLine
		}
		var n uint16
		for _, c := range code[:3] {
			if c < '0' || c > '9' {
				return ErrNoStartLine
			}
			n = n*10 + uint16(c-'0')
		}
		m.StatusLine, m.StatusCode = line, n
	default:
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 || !bytes.HasSuffix(line, []byte(" "+version)) || len(line) <= sp+1+len(version)+1 {
			return ErrNoStartLine
		}
		for _, c := range line[:sp] {
			if c < 'A' || c > 'Z' {
				return ErrNoStartLine
			}
		}
		m.Request = true
		m.RequestLine, m.Method = line, line[:sp]
		m.URI = line[sp+1 : len(line)-len(version)-1]
	}
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break // end of the headers
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := bytes.TrimRight(line[:colon], " \t")
		value := bytes.TrimLeft(line[colon+1:], " \t")
		var f *[]byte
		switch {
		case equalFold(name, "Call-ID") || equalFold(name, "i"):
			f = &m.CallID
		case equalFold(name, "From") || equalFold(name, "f"):
			f = &m.From
		case equalFold(name, "To") || equalFold(name, "t"):
			f = &m.To
		case equalFold(name, "CSeq"):
			f = &m.CSeq
		case equalFold(name, "User-Agent"):
			f = &m.UserAgent
		default:
			continue
		}
		if *f == nil {
			*f = bytes.TrimRight(value, " \t")
		}
	}
	return nil
}

// nextLine splits b after its first line, ended by LF or CR LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// equalFold reports whether b equals the ASCII name s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if c|0x20 != d|0x20 {
			return false
		}
	}
	return true
}
