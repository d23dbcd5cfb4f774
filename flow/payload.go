package flow

import "github.com/espcap/espcap-fast/decode"

// AddApp adds to fp, filled by FromHeader, the application protocol and
// fields that Extract would take from the same packet: p holds its
// application layers alone (decode.Decoder.DecodePayload).
func AddApp(p *decode.Packet, fp *Packet) { fp.app(p, 0, len(p.Layers)) }
