package encode

import (
	"math"
	"strconv"
	"testing"
)

func TestAppendUint(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, 4294967295, math.MaxUint64}
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
	for _, c := range []struct {
		v      int64
		digits int
		want   string
	}{{0, 6, "000000"}, {483728, 6, "483728"}, {7, 9, "000000007"}, {999999999, 9, "999999999"}, {120, 6, "000120"}} {
		if got := string(appendFrac(nil, c.v, c.digits)); got != c.want {
			t.Errorf("appendFrac(%d, %d) = %s, want %s", c.v, c.digits, got, c.want)
		}
	}
}
