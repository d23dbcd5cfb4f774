package flow

// Flow packets from field values, for an engine that has no decoded packet
// (the tshark engine reads them from tshark's EK fields).

// Transport says what follows a Header's IP header.
type Transport uint8

// Transports of a Header.
const (
	// NoTransport: none the key knows (a later IP fragment, GRE, ESP, ...).
	NoTransport Transport = iota
	// Ports: TCP, UDP or SCTP, with SrcPort and DstPort.
	Ports
	// ICMPv4 and ICMPv6, with ICMPType, ICMPCode and ICMPID.
	ICMPv4
	ICMPv6
)

// Header is what Extract reads of a decoded packet, given by values: the
// innermost IP header that an ICMP error does not quote, the transport
// header right after it and the VLAN ids before the first IP header.
type Header struct {
	// Src and Dst are the IP addresses, 4 or 16 bytes each.
	Src, Dst []byte
	// Proto is the IP protocol (an IPv6 header's last next header).
	Proto uint8
	// VLAN are the outer and inner 802.1Q/802.1ad ids (0: none).
	VLAN      [2]uint16
	Transport Transport
	// SrcPort and DstPort: TCP, UDP, SCTP.
	SrcPort, DstPort uint16
	// ICMPType and ICMPCode of an ICMP message; ICMPID is its identifier:
	// bytes 4–5 of an ICMPv4 header, the first two bytes after the 4-byte
	// ICMPv6 header.
	ICMPType, ICMPCode uint8
	ICMPID             uint16
	// TCPFlags are the TCP flag bits (FIN ... CWR).
	TCPFlags uint8
	// Payload is the transport payload length (TCP segment data, UDP
	// data, the ICMP message after its header).
	Payload int
	// FragID, FragMore and FragOffset describe an IP fragment: the
	// datagram's identification, the more-fragments flag and the fragment
	// offset (a later fragment when not 0).
	FragID     uint32
	FragMore   bool
	FragOffset uint16
	// App is the application protocol, as Packet.App.
	App string
}

// Fill makes fp the flow packet of h, as Extract does from a decoded
// packet, and empties fp.Fields (the caller fills them with the Set
// methods). It returns false when h has no usable addresses.
func (fp *Packet) Fill(h *Header) bool {
	fp.Key, fp.FromB, fp.Flags, fp.Payload, fp.App = Key{}, false, 0, 0, h.App
	fp.hashed = false
	if fp.Fields.set {
		fp.Fields.reset()
	}
	if (len(h.Src) != 4 && len(h.Src) != 16) || len(h.Src) != len(h.Dst) {
		return false
	}
	k := &fp.Key
	k.VLAN, k.Proto, k.IPv6 = h.VLAN, h.Proto, len(h.Src) == 16
	fp.fragID, fp.fragFirst, fp.fragLater = h.FragID, h.FragMore && h.FragOffset == 0, h.FragOffset != 0
	var sport, dport uint16
	swapOK := true
	switch h.Transport {
	case Ports:
		sport, dport, k.HasPorts = h.SrcPort, h.DstPort, true
		fp.Flags = h.TCPFlags
		fp.Payload = h.Payload
	case ICMPv4, ICMPv6:
		k.ICMP = true
		sport, dport, k.ICMPPair = icmpPorts(h.ICMPType, h.ICMPCode, h.ICMPID, h.Transport == ICMPv6)
		swapOK = false
		fp.Payload = h.Payload
	}
	fp.order(h.Src, h.Dst, sport, dport, swapOK)
	return true
}

// SetHTTPRequest sets the fields of an HTTP request. The slices are kept,
// not copied: they must stay valid while the packet is tracked.
func (a *AppFields) SetHTTPRequest(method, host, uri, userAgent []byte) {
	a.set = true
	a.HTTPMethod, a.HTTPHost, a.HTTPURI, a.HTTPUA = method, host, uri, userAgent
}

// SetHTTPStatus sets the status code of an HTTP response.
func (a *AppFields) SetHTTPStatus(code int) {
	a.set = true
	a.HTTPStatus = code
}

// SetTLSClientHello sets what a ClientHello said: SNI and first ALPN
// protocol (copied, cut at the flow summary's field size, as a decoded
// ClientHello's are), and its JA3 hash and JA4 fingerprint (copied; nil or
// too long: none).
func (a *AppFields) SetTLSClientHello(sni, alpn, ja3, ja4 []byte) {
	a.set = true
	a.sniLen = uint8(copy(a.sni[:], sni))
	a.alpnLen = uint8(copy(a.alpn[:], alpn))
	a.ja3n, a.ja4n = 0, 0
	if len(ja3) <= len(a.ja3) {
		a.ja3n = uint8(copy(a.ja3[:], ja3))
	}
	if len(ja4) <= len(a.ja4) {
		a.ja4n = uint8(copy(a.ja4[:], ja4))
	}
}

// SetTLSServerHello sets what a ServerHello said: the version it chose and
// its JA3S hash (copied).
func (a *AppFields) SetTLSServerHello(version uint16, ja3s []byte) {
	a.set = true
	a.TLSVersion = version
	a.ja3sn = 0
	if len(ja3s) <= len(a.ja3s) {
		a.ja3sn = uint8(copy(a.ja3s[:], ja3s))
	}
}

// SetDNS sets what a DNS message said: its first question name (copied,
// cut at 128 bytes) and, for a response, its response code.
func (a *AppFields) SetDNS(question []byte, response bool, rcode int) {
	a.set = true
	a.dnsLen = uint8(copy(a.dnsName[:], question))
	if response {
		a.DNSRCode = rcode + 1
	}
}

// AddDNSAnswer adds an A (4 bytes) or AAAA (16 bytes) address of a DNS
// response's answer section, up to MaxAnswers.
func (a *AppFields) AddDNSAnswer(ip []byte) {
	if a.nAnswers == MaxAnswers || (len(ip) != 4 && len(ip) != 16) {
		return
	}
	a.set = true
	a.answers[a.nAnswers] = [16]byte{}
	copy(a.answers[a.nAnswers][:], ip)
	if len(ip) == 4 {
		a.answer4 |= 1 << a.nAnswers
	}
	a.nAnswers++
}

// SetDHCPHostName sets a DHCPv4 host name (option 12; kept, as
// SetHTTPRequest's).
func (a *AppFields) SetDHCPHostName(name []byte) {
	if len(name) == 0 {
		return
	}
	a.set = true
	a.DHCPHostName = name
}

// MaxField is the most bytes a flow keeps of one application text (HTTP
// host, URI, user agent, TLS SNI, ...): a caller that copies the slices it
// gives the Set methods need not copy more.
const MaxField = maxField

// TLSServerName returns the SNI a ClientHello set (its copy).
func (a *AppFields) TLSServerName() []byte { return a.sni[:a.sniLen] }

// TLSALPN returns the first ALPN protocol a ClientHello set (its copy).
func (a *AppFields) TLSALPN() []byte { return a.alpn[:a.alpnLen] }
