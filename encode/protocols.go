package encode

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Protocols is the set of Wireshark protocol names that count as a packet's
// "protocol" (its highest protocol), read from protocols.list.
type Protocols struct {
	names map[string]struct{}
}

// ParseProtocols reads a protocols.list: one Wireshark protocol name per
// line; blank lines and everything after a '#' are ignored, so "# data"
// leaves the pseudo-protocol data out.
func ParseProtocols(list []byte) (*Protocols, error) {
	p := &Protocols{names: make(map[string]struct{})}
	sc := bufio.NewScanner(bytes.NewReader(list))
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.ContainsAny(s, " \t:") {
			return nil, fmt.Errorf("protocols list line %d: %q is not one protocol name", line, s)
		}
		p.names[s] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading protocols list: %w", err)
	}
	if len(p.names) == 0 {
		return nil, fmt.Errorf("protocols list names no protocol")
	}
	return p, nil
}

// Contains reports whether name is in the list. A nil list contains no
// name.
func (p *Protocols) Contains(name string) bool {
	if p == nil {
		return false
	}
	_, ok := p.names[name]
	return ok
}

// Highest returns the last name of the colon-separated chain (as in
// Wireshark's frame.protocols) that is in the list, or "". The layers an
// ICMP or ICMPv6 error quotes do not count (see [OwnChain]).
func (p *Protocols) Highest(chain string) string {
	chain = OwnChain(chain)
	for chain != "" {
		i := strings.LastIndexByte(chain, ':')
		name := chain[i+1:]
		if p.Contains(name) {
			return name
		}
		if i < 0 {
			break
		}
		chain = chain[:i]
	}
	return ""
}

// OwnChain returns the part of a frame.protocols chain that describes the
// packet itself: all of it, except that an ICMP or ICMPv6 message ends it,
// since what follows is the datagram an error message quotes
// ("eth:ethertype:ip:icmp:ip:udp:dns" is an ICMP packet, as Wireshark's
// Protocol column says, not a DNS one).
func OwnChain(chain string) string {
	for i := 0; i < len(chain); {
		j := strings.IndexByte(chain[i:], ':')
		if j < 0 {
			return chain
		}
		if name := chain[i : i+j]; name == "icmp" || name == "icmpv6" {
			return chain[:i+j]
		}
		i += j + 1
	}
	return chain
}
