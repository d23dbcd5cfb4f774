package encode

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendUint(t *testing.T) {
	buf := make([]byte, 0, 32)
	for v := uint64(0); v < 2_000_000; v++ {
		if got := appendUint(buf[:0], v); string(got) != strconv.FormatUint(v, 10) {
			t.Fatalf("appendUint(%d) = %s", v, got)
		}
	}
	for _, v := range []uint32{0, 9, 99999999, 1e8, 999999999, 1e9, 4294967295} {
		if got := appendUint32(buf[:0], v); string(got) != strconv.FormatUint(uint64(v), 10) {
			t.Fatalf("appendUint32(%d) = %s", v, got)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2_000_000; i++ {
		v := r.Uint64() >> r.UintN(64)
		if got := appendUint(buf[:0], v); string(got) != strconv.FormatUint(v, 10) {
			t.Fatalf("appendUint(%d) = %s", v, got)
		}
		if got := appendUint32(buf[:0], uint32(v)); string(got) != strconv.FormatUint(uint64(uint32(v)), 10) {
			t.Fatalf("appendUint32(%d) = %s", uint32(v), got)
		}
	}
	for n := 1; n < 64; n++ { // appends at every offset, growing from no room
		b := make([]byte, n, n)
		if got := appendUint(b, 12345678901); string(got[n:]) != "12345678901" || len(got) != n+11 {
			t.Fatalf("after %d bytes: %q", n, got)
		}
	}
	vals := []uint64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10000, 65535, 99999999, 1e8, 4294967295, 1e12, 1e16 - 1, 1e16, math.MaxUint64}
	for v := uint64(1); v < math.MaxUint64/7; v *= 7 {
		vals = append(vals, v, v-1, v+1)
	}
	for _, v := range vals {
		if got, want := string(appendUint(nil, v)), strconv.FormatUint(v, 10); got != want {
			t.Errorf("appendUint(%d) = %s", v, got)
		}
		if v <= math.MaxInt64 {
			if got, want := string(appendInt(nil, -int64(v))), strconv.FormatInt(-int64(v), 10); got != want {
				t.Errorf("appendInt(-%d) = %s", v, got)
			}
		}
	}
	for _, v := range []uint32{0, 7, 120, 483728, 1000000, 12345678, 100000000, 999999999} {
		if got, want := nineDigits(v), fmt.Sprintf("%09d", v); string(got[:]) != want {
			t.Errorf("nineDigits(%d) = %s, want %s", v, got[:], want)
		}
	}
	for v := uint32(0); v < 1e9; v += 999983 {
		if got, want := nineDigits(v), fmt.Sprintf("%09d", v); string(got[:]) != want {
			t.Fatalf("nineDigits(%d) = %s, want %s", v, got[:], want)
		}
	}
}
