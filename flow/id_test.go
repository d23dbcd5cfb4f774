package flow

import (
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// TestEncodeID: encodeID writes what base64.RawURLEncoding does, for every
// value of each byte and random sums.
func TestEncodeID(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 4096 {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		b[n%16] = byte(n / 16) // each byte takes each value
		var got, want [22]byte
		encodeID(&got, &b)
		base64.RawURLEncoding.Encode(want[:], b[:])
		if got != want {
			t.Fatalf("encodeID(%x) = %s, want %s", b, got, want)
		}
	}
}
