package decode

// DecodePayload decodes the application layers of the plain packet that h
// describes (ParseFlowHeader returned true for data): the layers Decode
// would decode after the TCP or UDP header, without decoding the headers
// again. The Packet returned holds those layers only (none when the
// payload is no application's). A packet for which KeepsState is true
// must go through Decode, which has its IP header at hand.
func (d *Decoder) DecodePayload(h *FlowHeader, data []byte, linkType uint16, origLen int) *Packet {
	p := &d.pkt
	if origLen == 0 {
		origLen = len(data)
	}
	p.reset(data, linkType, origLen)
	d.walk = walk{ipPayload: -1, sport: h.SrcPort, dport: h.DstPort}
	d.df.truncated = false
	payload := data[h.PayloadAt:h.PayloadEnd]
	nx := nTCPApp
	if h.Proto == 17 {
		nx = nUDPApp
		// as udp: the payload the UDP length gives, when it is shorter
		if n := h.Payload; n < len(payload) {
			payload = payload[:n]
		}
	}
	d.loop(nx, payload)
	return p
}
