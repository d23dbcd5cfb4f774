package encode

import (
	"strconv"

	"github.com/espcap/espcap-fast/decode"
)

// This file holds what the encoder takes from decode's protocol registry.

// ekApp is the ECS network.protocol of the layers the native engine names
// there (see appProtocol): the registry's application protocols.
var ekApp = decode.AppNames()

// fieldWriter lets the protocols added through decode's registry write
// their fields (decode.FieldWriter) into the document.
type fieldWriter struct{ w *writer }

var _ decode.FieldWriter = fieldWriter{}

// String writes a string field.
func (f fieldWriter) String(name string, v []byte) {
	f.w.b = appendName(f.w.b, name)
	f.w.b = appendString(f.w.b, v)
}

// Uint writes an unsigned number field.
func (f fieldWriter) Uint(name string, v uint64) {
	f.w.b = appendName(f.w.b, name)
	f.w.b = strconv.AppendUint(f.w.b, v, 10)
}

// Bool writes a boolean field.
func (f fieldWriter) Bool(name string, v bool) {
	f.w.b = appendName(f.w.b, name)
	f.w.b = strconv.AppendBool(f.w.b, v)
}

// appLayer writes the fields of a layer of a protocol added through the
// registry.
func (e *Encoder) appLayer(p *decode.Packet, l decode.Layer) {
	if a := p.App(l.Kind); a != nil {
		a.Write(int(l.Index), fieldWriter{&e.w})
	}
}

// appendName appends a key given as a bare name: `,"name":`.
func appendName(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}
