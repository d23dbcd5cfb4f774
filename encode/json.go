package encode

import (
	"net/netip"
	"strconv"
	"unicode/utf8"
)

// writer appends JSON to a byte slice. It tracks only whether the next key
// needs a comma, which is all that objects written strictly in order need.
type writer struct {
	b     []byte
	comma bool
}

func (w *writer) open() {
	w.b = append(w.b, '{')
	w.comma = false
}

func (w *writer) close() {
	w.b = append(w.b, '}')
	w.comma = true
}

func (w *writer) openArray() {
	w.b = append(w.b, '[')
	w.comma = false
}

func (w *writer) closeArray() {
	w.b = append(w.b, ']')
	w.comma = true
}

// elem starts an array element.
func (w *writer) elem() {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.comma = true
}

// key writes a key (which must need no escaping) and its colon.
func (w *writer) key(k string) {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
	w.comma = true
}

// object writes a key and opens its object value.
func (w *writer) object(k string) {
	w.key(k)
	w.open()
}

func (w *writer) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *writer) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *writer) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *writer) float(k string, v float64) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64)
}

// str writes a string field from bytes, escaped.
func (w *writer) str(k string, v []byte) {
	w.key(k)
	w.b = appendString(w.b, v)
}

// strs writes a string field from a Go string, escaped.
func (w *writer) strs(k string, v string) {
	w.key(k)
	w.b = appendStringS(w.b, v)
}

// raw writes a field whose value needs no escaping.
func (w *writer) raw(k string, v string) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
}

func (w *writer) ip(k string, ip []byte) {
	w.key(k)
	w.b = appendIP(w.b, ip)
}

func (w *writer) mac(k string, m []byte) {
	w.key(k)
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

// appendEscapedS is appendEscaped for a Go string.
func appendEscapedS(dst []byte, s string) []byte {
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
		r, size := utf8.DecodeRuneInString(s[i:])
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
		dst = strconv.AppendUint(dst, uint64(ip[0]), 10)
		dst = append(dst, '.')
		dst = strconv.AppendUint(dst, uint64(ip[1]), 10)
		dst = append(dst, '.')
		dst = strconv.AppendUint(dst, uint64(ip[2]), 10)
		dst = append(dst, '.')
		dst = strconv.AppendUint(dst, uint64(ip[3]), 10)
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
