// Package httphead parses the head of an HTTP/1.x message (the request or
// status line and the header fields) from the first TCP segment of the
// message, without allocating.
//
// It is meant for packet decoders that see one segment at a time: the head
// may be cut at the end of the segment, in which case Parse decodes as much
// as is present and reports the message as incomplete. All byte slices in a
// Message point into the payload passed to Parse; they are valid only as long
// as the payload is, and are overwritten by the next call to Parse.
//
// Message start detection follows Wireshark's HTTP dissector: a request is a
// line whose first token (up to the first space or the end of the line) is
// one of the methods Wireshark knows (GET, POST, HEAD, PUT, DELETE, OPTIONS,
// TRACE, CONNECT, PATCH, the WebDAV and versioning methods, the UPnP
// NOTIFY/SUBSCRIBE/UNSUBSCRIBE, the MS-RPCH methods, ...), optionally with the
// RFC 2774 "M-" prefix; a response is a line starting with "HTTP/" (or the
// Shoutcast "ICY"). HTTP/0.9 simple requests ("GET /path") are accepted.
// Unlike Wireshark, Parse additionally rejects request and status lines that
// contain control characters, request lines whose version is present but is
// not "HTTP/..." (RTSP, SIP), and status lines without a three digit status
// code, so that binary data and other text protocols are not mistaken for
// HTTP.
package httphead

import "bytes"

// Header is one header field of a message head. Value has leading white
// space removed (as in Wireshark); trailing white space is kept.
type Header struct {
	Name  []byte
	Value []byte
}

// Message is the decoded head of an HTTP/1.x request or response.
//
// A Message may be reused: Parse resets every field and reuses the Headers
// backing array, so parsing does not allocate once Headers has grown to the
// largest header count seen.
type Message struct {
	// Request is true if the message starts with a request line, Response
	// if it starts with a status line. Exactly one is true after a
	// successful Parse.
	Request  bool
	Response bool

	// Request line (Wireshark http.request.method, http.request.uri and
	// http.request.version). URI and Version are empty for an HTTP/0.9
	// request or a request line cut short.
	Method  []byte
	URI     []byte
	Version []byte

	// Status line (http.response.version, http.response.code and
	// http.response.phrase).
	ResponseVersion []byte
	StatusCode      int
	Phrase          []byte

	// Values of well-known header fields, named after the Wireshark fields
	// they correspond to. The first occurrence of a header wins. A value
	// is nil if the header is absent.
	Host                []byte // http.host
	UserAgent           []byte // http.user_agent
	Accept              []byte // http.accept
	AcceptLanguage      []byte // http.accept_language
	AcceptEncoding      []byte // http.accept_encoding
	Referer             []byte // http.referer
	Cookie              []byte // http.cookie
	SetCookie           []byte // http.set_cookie
	Authorization       []byte // http.authorization
	ProxyAuthorization  []byte // http.proxy_authorization
	ContentType         []byte // http.content_type
	ContentLengthHeader []byte // http.content_length_header
	ContentEncoding     []byte // http.content_encoding
	TransferEncoding    []byte // http.transfer_encoding
	Connection          []byte // http.connection
	Upgrade             []byte // http.upgrade
	Location            []byte // http.location
	Server              []byte // http.server
	XForwardedFor       []byte // http.x_forwarded_for
	Date                []byte // http.date
	CacheControl        []byte // http.cache_control
	LastModified        []byte // http.last_modified

	// ContentLength is the value of the first Content-Length header;
	// HasContentLength reports whether it was present and a valid
	// non-negative decimal number.
	ContentLength    int64
	HasContentLength bool

	// Headers lists every header field line of the head, in order,
	// including the well-known ones above. Lines that are not of the form
	// "name: value" with a valid token as name are skipped, as are obsolete
	// line folding continuation lines.
	Headers []Header

	// Complete reports whether the empty line ending the head was seen.
	// If it is false the head continues in a later segment, and the last
	// header (if its line was cut) may hold a truncated value, as it does
	// in Wireshark with TCP reassembly disabled.
	Complete bool

	// HeadLen is the length of the head including the terminating empty
	// line when Complete, otherwise len(payload). The message body (if
	// any) starts at payload[HeadLen:].
	HeadLen int
}

// Reset clears m, keeping the Headers backing array for reuse.
func (m *Message) Reset() {
	h := m.Headers[:0]
	*m = Message{Headers: h}
}

// Parse decodes the message head at the start of payload into m. It returns
// false, leaving m reset, if payload does not start with an HTTP/1.x request
// or status line.
func (m *Message) Parse(payload []byte) bool {
	m.Reset()
	if !plausibleStart(payload) {
		return false
	}
	line, next, eol := nextLine(payload, 0)
	if !m.parseFirstLine(line) {
		m.Reset()
		return false
	}
	if !eol {
		m.HeadLen = len(payload)
		return true
	}
	for off := next; off < len(payload); {
		line, next, eol = nextLine(payload, off)
		if len(line) == 0 && eol {
			m.Complete = true
			m.HeadLen = next
			return true
		}
		m.header(line)
		off = next
	}
	m.HeadLen = len(payload)
	return true
}

// Start reports whether b starts like an HTTP/1.x request or status line
// (an upper-case token followed by a space or a line end, or "HTTP/"): a
// check of a few bytes that rejects most payloads that are not HTTP before
// Parse looks for the end of the line. Parse can still reject b.
func Start(b []byte) bool { return plausibleStart(b) }

// plausibleStart cheaply checks the first token of b, so that segments that
// are not HTTP are rejected without scanning for the end of the line.
func plausibleStart(b []byte) bool {
	if len(b) == 0 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	n := min(len(b), maxMethodLen+3)
	for i := 1; i < n; i++ {
		switch c := b[i]; {
		case c == ' ' || c == '\r' || c == '\n':
			return true
		case c == '/' && i == 4 && string(b[:4]) == "HTTP":
			return true
		case c < '-' || c > 'Z' && c != '_':
			return false
		}
	}
	return n == len(b)
}

// maxMethodLen is the length of the longest method name isMethod accepts.
const maxMethodLen = len("BASELINE-CONTROL")

// nextLine returns the line starting at off without its line terminator
// (LF or CRLF), the offset of the following line, and whether a terminator
// was found. Without one the line runs to the end of b.
func nextLine(b []byte, off int) (line []byte, next int, eol bool) {
	rest := b[off:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		if len(rest) > 0 && rest[len(rest)-1] == '\r' {
			rest = rest[:len(rest)-1]
		}
		return rest, len(b), false
	}
	line = rest[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, off + i + 1, true
}

// hasCtl reports whether b contains an ASCII control character other than
// horizontal tab.
func hasCtl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

func (m *Message) parseFirstLine(line []byte) bool {
	if len(line) >= 5 && string(line[:5]) == "HTTP/" || len(line) >= 3 && string(line[:3]) == "ICY" {
		return m.parseStatusLine(line)
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		sp = len(line)
	}
	method := line[:sp]
	if !isMethod(method) || hasCtl(line) {
		return false
	}
	m.Request = true
	m.Method = method
	if sp == len(line) {
		return true
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		m.URI = rest
		return true
	}
	// The URI ends at the first space and the version is the rest of the
	// line, as in Wireshark ("GET /a b HTTP/1.0" has URI "/a" and version
	// "b HTTP/1.0").
	m.URI = rest[:sp]
	m.Version = rest[sp+1:]
	// Reject "OPTIONS rtsp://... RTSP/1.0", "INVITE sip:... SIP/2.0" and
	// the like by the last word; a version cut at the segment end is still
	// accepted.
	if v := rest[bytes.LastIndexByte(rest, ' ')+1:]; !(len(v) >= 5 && string(v[:5]) == "HTTP/") && !isPrefix(v, "HTTP/") {
		return false
	}
	return true
}

// isPrefix reports whether b is a prefix of s.
func isPrefix(b []byte, s string) bool {
	return len(b) <= len(s) && string(b) == s[:len(b)]
}

func (m *Message) parseStatusLine(line []byte) bool {
	if hasCtl(line) {
		return false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	version := line[:sp]
	if string(version) != "ICY" {
		// "HTTP/" DIGIT "." DIGIT
		if len(version) != 8 || !isDigit(version[5]) || version[6] != '.' || !isDigit(version[7]) {
			return false
		}
	}
	rest := line[sp+1:]
	if len(rest) < 3 || !isDigit(rest[0]) || !isDigit(rest[1]) || !isDigit(rest[2]) || len(rest) > 3 && rest[3] != ' ' {
		return false
	}
	m.Response = true
	m.ResponseVersion = version
	m.StatusCode = int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
	if len(rest) > 4 {
		m.Phrase = rest[4:]
	} else {
		m.Phrase = rest[3:]
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isMethod reports whether tok is a request method Wireshark recognises.
func isMethod(tok []byte) bool {
	if len(tok) >= 2 && tok[0] == 'M' && tok[1] == '-' {
		tok = tok[2:] // RFC 2774 mandatory extension prefix, as in M-SEARCH
	}
	switch string(tok) { // compiled to a length/byte switch; no allocation
	case "GET", "PUT",
		"COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST",
		"BCOPY", "BMOVE", "MKCOL", "TRACE", "PATCH", "LABEL", "MERGE",
		"DELETE", "SEARCH", "UNLOCK", "REPORT", "UPDATE", "NOTIFY",
		"BDELETE", "CONNECT", "OPTIONS", "CHECKIN",
		"PROPFIND", "CHECKOUT", "CCM_POST",
		"SUBSCRIBE", "PROPPATCH", "BPROPFIND",
		"BPROPPATCH", "UNCHECKOUT", "MKACTIVITY",
		"MKWORKSPACE", "RPC_CONNECT", "RPC_IN_DATA", "UNSUBSCRIBE",
		"RPC_OUT_DATA",
		"VERSION-CONTROL",
		"BASELINE-CONTROL", "SSTP_DUPLEX_POST":
		return true
	}
	return false
}

// isTokenChar reports whether c is an RFC 7230 tchar.
func isTokenChar(c byte) bool {
	return tokenTable[c]
}

var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// header records one header line.
func (m *Message) header(line []byte) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return
	}
	name := line[:colon]
	for _, c := range name {
		if !isTokenChar(c) {
			return
		}
	}
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	m.Headers = append(m.Headers, Header{Name: name, Value: v})
	if p := m.known(name); p != nil && *p == nil {
		*p = v
		if p == &m.ContentLengthHeader {
			m.ContentLength, m.HasContentLength = parseLength(v)
		}
	}
}

// parseLength parses a Content-Length value: decimal digits, optionally
// followed by white space.
func parseLength(v []byte) (int64, bool) {
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// known returns the field of m that holds the value of the header called
// name, or nil if it is not one of the well-known headers.
func (m *Message) known(name []byte) *[]byte {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			return &m.Host
		}
		if equalFold(name, "date") {
			return &m.Date
		}
	case 6:
		if equalFold(name, "accept") {
			return &m.Accept
		}
		if equalFold(name, "cookie") {
			return &m.Cookie
		}
		if equalFold(name, "server") {
			return &m.Server
		}
	case 7:
		if equalFold(name, "referer") {
			return &m.Referer
		}
		if equalFold(name, "upgrade") {
			return &m.Upgrade
		}
	case 8:
		if equalFold(name, "location") {
			return &m.Location
		}
	case 10:
		if equalFold(name, "user-agent") {
			return &m.UserAgent
		}
		if equalFold(name, "connection") {
			return &m.Connection
		}
		if equalFold(name, "set-cookie") {
			return &m.SetCookie
		}
	case 12:
		if equalFold(name, "content-type") {
			return &m.ContentType
		}
	case 13:
		if equalFold(name, "authorization") {
			return &m.Authorization
		}
		if equalFold(name, "cache-control") {
			return &m.CacheControl
		}
		if equalFold(name, "last-modified") {
			return &m.LastModified
		}
	case 14:
		if equalFold(name, "content-length") {
			return &m.ContentLengthHeader
		}
	case 15:
		if equalFold(name, "accept-language") {
			return &m.AcceptLanguage
		}
		if equalFold(name, "accept-encoding") {
			return &m.AcceptEncoding
		}
		if equalFold(name, "x-forwarded-for") {
			return &m.XForwardedFor
		}
	case 16:
		if equalFold(name, "content-encoding") {
			return &m.ContentEncoding
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return &m.TransferEncoding
		}
	case 19:
		if equalFold(name, "proxy-authorization") {
			return &m.ProxyAuthorization
		}
	}
	return nil
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case. len(b) must equal len(s).
func equalFold(b []byte, s string) bool {
	for i := 0; i < len(s); i++ {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

// Get returns the value of the first header called name (ASCII
// case-insensitive), or nil if there is none.
func (m *Message) Get(name string) []byte {
	for i := range m.Headers {
		h := &m.Headers[i]
		if len(h.Name) == len(name) && asciiEqualFold(h.Name, name) {
			return h.Value
		}
	}
	return nil
}

func asciiEqualFold(b []byte, s string) bool {
	for i := 0; i < len(s); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
