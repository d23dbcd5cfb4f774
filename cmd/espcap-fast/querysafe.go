package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// termSafe returns s with everything a terminal could act on escaped as
// \xNN: C0 controls (ESC, BEL, CR, ...), DEL, C1 controls (U+0080–U+009F,
// written as their code point) and each byte of invalid UTF-8. Packet
// strings come from the network: raw, an OSC or CSI sequence in an HTTP
// Host header would retitle or recolour the terminal of whoever reads the
// table.
func termSafe(s string) string {
	var b []byte // nil while nothing needed escaping
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		esc := -1
		switch {
		case r == utf8.RuneError && n == 1: // invalid UTF-8
			esc = int(s[i])
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
			esc = int(r)
		}
		if esc >= 0 {
			if b == nil {
				b = append(make([]byte, 0, len(s)+8), s[:i]...)
			}
			b = fmt.Appendf(b, `\x%02x`, esc)
		} else if b != nil {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	if b == nil {
		return s
	}
	return string(b)
}

// checkIndexPattern rejects a --index value that is not a list of index
// names or patterns as Elasticsearch accepts them. The value becomes part of
// the request path, so "/", "..", "?" and "#" could otherwise leave a path
// prefix of --node (a proxy's) or change the request.
func checkIndexPattern(index string) error {
	for _, part := range strings.Split(index, ",") {
		name := strings.TrimPrefix(part, "-") // -pattern excludes
		switch {
		case name == "":
			return fmt.Errorf("--index %q: empty index name", index)
		case name == "." || strings.Contains(name, ".."):
			return fmt.Errorf("--index %q: %q is not an index name", index, part)
		case name == "_all": // every index
		case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "+"):
			return fmt.Errorf("--index %q: an index name cannot start with %q", index, name[:1])
		}
		for _, r := range name {
			switch {
			case r < 0x20 || r == 0x7f || strings.ContainsRune(`/\?#"<>| `, r):
				return fmt.Errorf("--index %q: index names cannot contain %q", index, r)
			case r >= 'A' && r <= 'Z':
				return fmt.Errorf("--index %q: index names are lowercase", index)
			}
		}
	}
	return nil
}
