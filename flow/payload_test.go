package flow

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// checkPayload checks, for a plain packet (ParseFlowHeader) that the fast
// path may decode on its own (not KeepsState), that FromHeader,
// DecodePayload and AddApp give the application protocol and fields that
// Decode and Extract give. It reports whether the packet has an
// application protocol.
func checkPayload(t testing.TB, full, payload *decode.Decoder, data []byte, lt uint16, origLen int, what string) bool {
	t.Helper()
	var h decode.FlowHeader
	if !decode.ParseFlowHeader(data, lt, &h) || decode.KeepsState(&h, data) {
		return false
	}
	var want, got Packet
	Extract(full.Decode(data, lt, origLen), &want)
	FromHeader(&h, &got)
	AddApp(payload.DecodePayload(&h, data, lt, origLen), &got)
	if got.App != want.App || !reflect.DeepEqual(got.Fields, want.Fields) {
		t.Errorf("%s: DecodePayload gives app %q fields %+v\nDecode gives app %q fields %+v", what, got.App, got.Fields, want.App, want.Fields)
	}
	return want.App != ""
}

// TestDecodePayloadMatchesExtract runs checkPayload on every packet of the
// bundled captures and the shared corpus.
func TestDecodePayloadMatchesExtract(t *testing.T) {
	for _, dir := range []string{"../testdata/pcaps", "../testdata/malformed", ""} {
		name := dir
		if dir == "" {
			name = "shared"
		}
		t.Run(name, func(t *testing.T) {
			if dir == "" {
				dir = need.Shared(t)
			}
			full, payload := decode.NewDecoder(), decode.NewDecoder()
			apps := 0
			for _, f := range testpcap.AllCaptures(dir) {
				pk, _ := testpcap.Load(f, 0)
				for _, p := range pk {
					if checkPayload(t, full, payload, p.Data, p.LinkType, p.OrigLen, f+" #"+strconv.Itoa(p.Number)) {
						apps++
					}
				}
			}
			t.Logf("%s: %d plain packets with an application protocol", name, apps)
			if apps == 0 {
				t.Error("no plain packet with an application protocol")
			}
		})
	}
}

// FuzzDecodePayload runs checkPayload on arbitrary frames.
func FuzzDecodePayload(f *testing.F) {
	for _, p := range testpcap.FuzzSeeds("../testdata") {
		f.Add(p.Data, p.LinkType)
	}
	full, payload := decode.NewDecoder(), decode.NewDecoder()
	f.Fuzz(func(t *testing.T, data []byte, lt uint16) {
		checkPayload(t, full, payload, data, lt, 0, "fuzz")
	})
}
