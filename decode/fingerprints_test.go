package decode

import (
	"bytes"
	"testing"

	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// TestFingerprintCache: the JA3, JA4 and JA3S fingerprints a decoder's
// hellos look up in its cache are those computed afresh, for every hello of
// testdata and the shared corpus, decoded twice (the second time every
// stack is in the cache, as far as its slot has kept it).
func TestFingerprintCache(t *testing.T) {
	pk := testpcap.MustLoad(t, "../testdata/pcaps/*", 0)
	for _, f := range testpcap.SharedCaptures(need.Shared(t)) {
		if more, err := testpcap.Load(f, 0); err == nil {
			pk = append(pk, more...)
		}
	}
	d := NewDecoder()
	hellos := 0
	var got, want []byte
	for pass := 0; pass < 2; pass++ {
		for _, p := range pk {
			dp := d.Decode(p.Data, p.LinkType, p.OrigLen)
			for i := range dp.Count(KindTLS) {
				h := &dp.TLS[i]
				fresh := *h
				fresh.SetCache(nil)
				for _, fp := range []struct {
					name string
					get  func(dst []byte) []byte
					want func(dst []byte) []byte
				}{
					{"JA3", h.AppendJA3Hash, fresh.AppendJA3Hash},
					{"JA4", h.AppendJA4, fresh.AppendJA4},
					{"JA3S", h.AppendJA3SHash, fresh.AppendJA3SHash},
				} {
					got, want = fp.get(got[:0]), fp.want(want[:0])
					if !bytes.Equal(got, want) {
						t.Errorf("%s packet %d: %s %s from the cache, %s computed", p.File, p.Number, fp.name, got, want)
					}
					if len(want) > 0 && fp.name != "JA4" {
						hellos++
					}
				}
			}
		}
	}
	if hellos < 100 {
		t.Fatalf("only %d complete hellos", hellos)
	}
	t.Logf("%d hellos checked", hellos)
}
