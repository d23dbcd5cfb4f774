package flow

import "github.com/espcap/espcap-fast/decode"

// AddApp adds to fp, filled by FromHeader, the application protocol and
// fields that Extract would take from the same packet: p holds its
// application layers alone (decode.Decoder.DecodePayload).
func AddApp(p *decode.Packet, fp *Packet) {
	ls := p.Layers
	for i := len(ls) - 1; i >= 0; i-- {
		if l := &ls[i]; appKind(l.Kind) && l.Proto != "" {
			fp.App = l.Proto
			break
		}
	}
	if fp.App != "" {
		fp.Fields.extract(p, 0, len(ls))
	}
}
