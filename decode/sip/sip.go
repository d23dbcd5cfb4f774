// Package sip parses the start line and the header fields of a SIP message
// (RFC 3261) from one UDP datagram or TCP segment, without allocating.
//
// A message is a request ("INVITE sip:bob@example.com SIP/2.0") or a
// response ("SIP/2.0 180 Ringing"), then header fields up to an empty line,
// then a body (SDP, usually), which is not parsed. Header names are matched
// case-insensitively, compact forms included ("i" for Call-ID, "f" for
// From, "t" for To, "l" for Content-Length, as RFC 3261 section 7.3.3 lists
// them), and the first occurrence of a header wins, as Wireshark shows it.
// Values have leading and trailing white space removed; a value folded over
// several lines (a continuation line starts with a space or a tab) keeps
// its first line only.
//
// The fields are named after Wireshark's SIP dissector (sip.Method,
// sip.r-uri, sip.Status-Code, sip.Call-ID, sip.from.addr, sip.CSeq.seq, ...).
// Every byte slice of a Message points into the payload given to Parse and
// is valid only while the payload is.
package sip

import (
	"bytes"
	"errors"
	"strings"
)

// Message is the decoded head of a SIP request or response. A Message may
// be reused: Parse resets every field.
type Message struct {
	// Request is true for a request line, false for a status line.
	Request bool
	// RequestLine and StatusLine are the whole start line without CRLF
	// (sip.Request-Line, sip.Status-Line); one of them is set.
	RequestLine, StatusLine []byte
	// Method and RequestURI come from the request line (sip.Method,
	// sip.r-uri).
	Method, RequestURI []byte
	// StatusCode comes from the status line (sip.Status-Code); 0 for a
	// request.
	StatusCode int
	// Header values (sip.Call-ID, sip.From, sip.To, sip.CSeq,
	// sip.User-Agent, sip.Contact); nil when the header is absent.
	CallID, From, To, CSeq, UserAgent, Contact []byte
	// FromAddr and ToAddr are the URIs of From and To: the part between
	// '<' and '>' when there is one, else the value up to its first ';'
	// (sip.from.addr, sip.to.addr).
	FromAddr, ToAddr []byte
	// CSeqSeq and CSeqMethod are CSeq's sequence number and method
	// (sip.CSeq.seq, sip.CSeq.method); CSeqSeq is -1 when absent or not a
	// number.
	CSeqSeq    int64
	CSeqMethod []byte
	// ContentLength is the Content-Length value (sip.Content-Length), -1
	// when absent or not a number.
	ContentLength int64
	// Truncated is set when the header section does not end in the
	// payload (no empty line): a head cut by the snapshot length or by a
	// TCP segment boundary. What was there is decoded.
	Truncated bool
}

// ErrNotSIP is returned by Parse when the payload does not start with a SIP
// start line.
var ErrNotSIP = errors.New("sip: not a SIP start line")

const version = "SIP/2.0"

// Parse decodes the SIP message at the start of payload into m. It returns
// ErrNotSIP, leaving m reset, when payload does not start with a request
// line whose method is a token and whose version is SIP/2.0, or a status
// line "SIP/2.0 NNN".
func (m *Message) Parse(payload []byte) error {
	*m = Message{CSeqSeq: -1, ContentLength: -1}
	line, rest, ended := cutLine(payload)
	if !m.startLine(line) {
		*m = Message{CSeqSeq: -1, ContentLength: -1}
		return ErrNotSIP
	}
	if !ended {
		m.Truncated = true
		return nil
	}
	for {
		if len(rest) == 0 {
			m.Truncated = true
			return nil
		}
		line, rest, ended = cutLine(rest)
		if ended && len(line) == 0 {
			return nil // the empty line: the head ends, the body follows
		}
		if !ended {
			m.Truncated = true
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a folded continuation: its header keeps its first line
		}
		m.header(line)
		if !ended {
			return nil
		}
	}
}

// startLine decodes a request or status line.
func (m *Message) startLine(line []byte) bool {
	for _, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	if rest, ok := bytes.CutPrefix(line, []byte(version+" ")); ok {
		if len(rest) < 3 || !digit(rest[0]) || !digit(rest[1]) || !digit(rest[2]) || len(rest) > 3 && rest[3] != ' ' {
			return false
		}
		m.StatusLine = line
		m.StatusCode = int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
		return m.StatusCode >= 100
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !token(line[:sp]) {
		return false
	}
	uri := line[sp+1:]
	sp2 := bytes.LastIndexByte(uri, ' ')
	if sp2 <= 0 || string(uri[sp2+1:]) != version {
		return false
	}
	m.Request, m.RequestLine, m.Method, m.RequestURI = true, line, line[:sp], uri[:sp2]
	return true
}

// header records one header field line ("Name: value").
func (m *Message) header(line []byte) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return
	}
	name := bytes.TrimRight(line[:colon], " \t")
	value := bytes.Trim(line[colon+1:], " \t")
	switch {
	case is(name, "call-id", "i"):
		first(&m.CallID, value)
	case is(name, "from", "f"):
		if m.From == nil {
			m.From, m.FromAddr = value, addr(value)
		}
	case is(name, "to", "t"):
		if m.To == nil {
			m.To, m.ToAddr = value, addr(value)
		}
	case is(name, "cseq", ""):
		if m.CSeq == nil {
			m.CSeq = value
			num, method, _ := bytes.Cut(value, []byte(" "))
			m.CSeqSeq = number(num)
			m.CSeqMethod = bytes.Trim(method, " \t")
		}
	case is(name, "user-agent", ""):
		first(&m.UserAgent, value)
	case is(name, "contact", "m"):
		first(&m.Contact, value)
	case is(name, "content-length", "l"):
		if m.ContentLength < 0 {
			m.ContentLength = number(value)
		}
	}
}

// first sets *dst to v unless the header was seen already.
func first(dst *[]byte, v []byte) {
	if *dst == nil {
		*dst = v
	}
}

// is reports whether name is the header long (lower case) or its compact
// form short ("" for none), in any case.
func is(name []byte, long, short string) bool {
	return equalFold(name, long) || short != "" && equalFold(name, short)
}

// equalFold reports whether b is s (lower case ASCII) in any case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// addr returns the URI of a From/To/Contact value: between '<' and '>'
// when there are angle brackets (name-addr), else up to the first ';'
// (addr-spec with header parameters).
func addr(v []byte) []byte {
	if i := bytes.IndexByte(v, '<'); i >= 0 {
		if j := bytes.IndexByte(v[i+1:], '>'); j >= 0 {
			return v[i+1 : i+1+j]
		}
		return v[i+1:]
	}
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return bytes.TrimRight(v, " \t")
}

// number parses a decimal number of up to 18 digits, -1 if it is not one.
func number(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return -1
	}
	var n int64
	for _, c := range b {
		if !digit(c) {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

// token reports whether b is an RFC 3261 token (a method name).
func token(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', digit(c):
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// cutLine returns the first line of b without its line end (CRLF or a
// bare LF), the rest after it, and whether a line end was found.
func cutLine(b []byte) (line, rest []byte, ended bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	line = b[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, b[i+1:], true
}
