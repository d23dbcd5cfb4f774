package encode

import (
	"net/netip"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// writer appends JSON to a byte slice.
//
// Keys are passed with their leading comma, quotes and colon (`,"len":`),
// so a field costs one append for its key. An object or array remembers
// where it starts; every member is written with a leading comma, and close
// turns the first member's comma into the opening brace, so no state
// decides whether a comma is needed.
type writer struct {
	b     []byte
	stack [16]int
	depth int
}

// open starts an object (or array: see closeArray) at the current end.
func (w *writer) open() {
	if w.depth < len(w.stack) {
		w.stack[w.depth] = len(w.b)
	}
	w.depth++
}

// push records an object or array that starts at b[at], as open does for
// one that starts at the current end.
func (w *writer) push(at int) {
	if w.depth < len(w.stack) {
		w.stack[w.depth] = at
	}
	w.depth++
}

func (w *writer) closeWith(open, close byte) {
	w.depth--
	at := len(w.b)
	if w.depth < len(w.stack) {
		at = w.stack[w.depth]
	}
	if at == len(w.b) {
		w.b = append(w.b, open, close)
		return
	}
	w.b[at] = open
	w.b = append(w.b, close)
}

// close ends the object opened last.
func (w *writer) close() { w.closeWith('{', '}') }

// openArray starts an array; write each element after elem.
func (w *writer) openArray() { w.open() }

// closeArray ends the array opened last.
func (w *writer) closeArray() { w.closeWith('[', ']') }

// elem starts an array element.
func (w *writer) elem() { w.b = append(w.b, ',') }

// key writes a key given as `,"name":`.
func (w *writer) key(k string) { w.b = append(w.b, k...) }

// object writes a key and opens its object value.
func (w *writer) object(k string) {
	w.b = append(w.b, k...)
	w.open()
}

// fieldUint appends a key given as `,"name":` and v in decimal.
// Keys longer than 16 bytes go through appendKey instead.
func fieldUint(b []byte, k string, v uint64) []byte {
	return appendUint(append(b, k...), v)
}

// appendKey appends a constant key. The compiler writes constants of up
// to 16 bytes with immediate stores, and calls memmove for longer ones:
// keys of up to 32 bytes are appended in two halves.
func appendKey(b []byte, k string) []byte {
	if len(k) > 16 && len(k) <= 32 {
		return append(append(b, k[:16]...), k[16:]...)
	}
	return append(b, k...)
}

func (w *writer) uint(k string, v uint64) { w.b = fieldUint(w.b, k, v) }

func (w *writer) int(k string, v int64) {
	w.b = append(w.b, k...)
	w.b = appendInt(w.b, v)
}

func (w *writer) bool(k string, v bool) {
	w.b = append(w.b, k...)
	if v {
		w.b = append(w.b, "true"...)
	} else {
		w.b = append(w.b, "false"...)
	}
}

func (w *writer) float(k string, v float64) {
	w.b = append(w.b, k...)
	w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64)
}

// str writes a string field from bytes, escaped.
func (w *writer) str(k string, v []byte) {
	w.b = append(w.b, k...)
	w.b = appendString(w.b, v)
}

// strs writes a string field from a Go string, escaped.
func (w *writer) strs(k string, v string) {
	w.b = append(w.b, k...)
	w.b = appendStringS(w.b, v)
}

// raw writes a field whose string value needs no escaping.
func (w *writer) raw(k string, v string) {
	w.b = append(w.b, k...)
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
}

func (w *writer) ip(k string, ip []byte) {
	w.b = append(w.b, k...)
	w.b = appendIP(w.b, ip)
}

func (w *writer) mac(k string, m []byte) {
	w.b = append(w.b, k...)
	w.b = appendMAC(w.b, m)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Bytes that are not valid UTF-8
// become U+FFFD, so the document is valid UTF-8 JSON whatever the packet
// holds.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends the JSON-escaped content of s, without quotes.
func appendEscaped(dst, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			dst = appendEscapedByte(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 || r == 0x2028 || r == 0x2029 {
			dst = append(dst, s[start:i]...)
			if r == utf8.RuneError {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, `\u202`...)
				dst = append(dst, hexDigits[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// appendStringS is appendString for a Go string.
func appendStringS(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscapedS(dst, s)
	return append(dst, '"')
}

// appendEscapedS is appendEscaped for a Go string (read in place, not
// copied).
func appendEscapedS(dst []byte, s string) []byte {
	return appendEscaped(dst, unsafe.Slice(unsafe.StringData(s), len(s)))
}

func appendEscapedByte(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendIP appends a 4- or 16-byte address as a JSON string, IPv6 in the
// RFC 5952 form that Wireshark also prints.
func appendIP(dst, ip []byte) []byte {
	dst = append(dst, '"')
	switch len(ip) {
	case 4:
		dst = appendUint(dst, uint64(ip[0]))
		dst = append(dst, '.')
		dst = appendUint(dst, uint64(ip[1]))
		dst = append(dst, '.')
		dst = appendUint(dst, uint64(ip[2]))
		dst = append(dst, '.')
		dst = appendUint(dst, uint64(ip[3]))
	case 16:
		dst = netip.AddrFrom16([16]byte(ip)).AppendTo(dst)
	}
	return append(dst, '"')
}

// appendMAC appends a hardware address as a JSON string, lowercase hex bytes
// joined by colons.
func appendMAC(dst, m []byte) []byte {
	dst = append(dst, '"')
	for i, c := range m {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(dst, '"')
}
