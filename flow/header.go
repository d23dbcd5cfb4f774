package flow

import "github.com/espcap/espcap-fast/decode"

// FromHeader fills fp from the headers of a plain packet, as Extract fills
// it from the same packet fully decoded (decode.ParseFlowHeader says which
// packets are plain): key, side, TCP flags, payload length and hash. A
// plain packet is looked at below its application layers, so fp.App is ""
// and fp.Fields are empty.
func FromHeader(h *decode.FlowHeader, fp *Packet) {
	k := &fp.Key
	*k = Key{}
	k.VLAN, k.Proto, k.IPv6, k.HasPorts = h.VLAN, h.Proto, h.IPv6, true
	fp.FromB, fp.Flags, fp.Payload, fp.App = false, h.Flags, h.Payload, ""
	fp.fragID, fp.fragFirst, fp.fragLater = 0, false, false
	fp.hashed = false
	if fp.Fields.set {
		fp.Fields.reset()
	}
	n := 4
	if h.IPv6 {
		n = 16
	}
	fp.order(h.Src[:n], h.Dst[:n], h.SrcPort, h.DstPort, true)
}
