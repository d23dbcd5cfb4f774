package encode

import (
	"math/bits"
	"slices"
)

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendUint appends v in decimal. It is strconv.AppendUint for base 10,
// faster for the small numbers that most packet fields hold.
func appendUint(dst []byte, v uint64) []byte {
	if v < 10 {
		return append(dst, byte('0'+v))
	}
	if v < 100 {
		return append(dst, digitPairs[v*2], digitPairs[v*2+1])
	}
	if v < 10000 { // ports, lengths, most counters
		q, r := v/100, v%100
		if q < 10 {
			return append(dst, byte('0'+q), digitPairs[r*2], digitPairs[r*2+1])
		}
		return append(dst, digitPairs[q*2], digitPairs[q*2+1], digitPairs[r*2], digitPairs[r*2+1])
	}
	// write the digits in place, from the end: no temporary buffer to copy
	n := decimalLen(v)
	l := len(dst)
	if cap(dst)-l < n {
		dst = slices.Grow(dst, n)
	}
	dst = dst[:l+n]
	d := dst[l:]
	i := n
	for v >= 100 {
		q := v / 100
		r := v - q*100
		i -= 2
		d[i], d[i+1] = digitPairs[r*2], digitPairs[r*2+1]
		v = q
	}
	if v < 10 {
		d[i-1] = byte('0' + v)
	} else {
		d[i-2], d[i-1] = digitPairs[v*2], digitPairs[v*2+1]
	}
	return dst
}

// powers10 are the powers of ten that fit a uint64.
var powers10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// decimalLen returns the number of decimal digits of v (v >= 1).
func decimalLen(v uint64) int {
	n := (bits.Len64(v) * 1233) >> 12 // about log10(2^bits)
	if n < len(powers10) && v >= powers10[n] {
		n++
	}
	return n
}

// appendInt appends v in decimal.
func appendInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendUint(append(dst, '-'), uint64(-v))
	}
	return appendUint(dst, uint64(v))
}

// appendFrac appends v (< 10^digits) zero-padded to digits digits (at most 9).
func appendFrac(dst []byte, v int64, digits int) []byte {
	var buf [10]byte
	i := 10
	for n := 0; n < digits; n += 2 {
		q := v / 100
		r := v - q*100
		i -= 2
		buf[i], buf[i+1] = digitPairs[r*2], digitPairs[r*2+1]
		v = q
	}
	return append(dst, buf[10-digits:]...)
}
