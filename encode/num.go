package encode

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendUint appends v in decimal. It is strconv.AppendUint for base 10,
// faster for the numbers packet fields hold: up to four digits come from a
// table of digit pairs, longer numbers in fixed groups of four and eight
// digits, without a loop.
func appendUint(dst []byte, v uint64) []byte {
	if v < 10000 { // ports, lengths, most counters
		if v < 10 {
			return append(dst, byte('0'+v))
		}
		if v < 100 {
			return append(dst, digitPairs[v*2], digitPairs[v*2+1])
		}
		q, r := v/100, v%100
		if q < 10 {
			return append(dst, byte('0'+q), digitPairs[r*2], digitPairs[r*2+1])
		}
		return append(dst, digitPairs[q*2], digitPairs[q*2+1], digitPairs[r*2], digitPairs[r*2+1])
	}
	if v < 1e8 { // checksums, identifiers, frame numbers
		return append4(appendUint(dst, v/10000), uint32(v%10000))
	}
	return append8(appendUint(dst, v/1e8), uint32(v%1e8)) // sequence numbers, ...
}

// appendUint32 is appendUint for 32-bit values (sequence numbers,
// timestamps), which are mostly ten digits long: no recursion.
func appendUint32(dst []byte, v uint32) []byte {
	if v < 1e8 {
		return appendUint(dst, uint64(v))
	}
	hi := v / 1e8 // 1 to 42
	if hi < 10 {
		dst = append(dst, byte('0'+hi))
	} else {
		dst = append(dst, digitPairs[hi*2], digitPairs[hi*2+1])
	}
	return append8(dst, v%1e8)
}

// append4 appends v (< 10000) as exactly four digits.
func append4(dst []byte, v uint32) []byte {
	q, r := v/100, v%100
	return append(dst, digitPairs[q*2], digitPairs[q*2+1], digitPairs[r*2], digitPairs[r*2+1])
}

// append8 appends v (< 10^8) as exactly eight digits.
func append8(dst []byte, v uint32) []byte {
	hi, lo := v/10000, v%10000
	a, b, c, d := hi/100, hi%100, lo/100, lo%100
	return append(dst, digitPairs[a*2], digitPairs[a*2+1], digitPairs[b*2], digitPairs[b*2+1],
		digitPairs[c*2], digitPairs[c*2+1], digitPairs[d*2], digitPairs[d*2+1])
}

// appendInt appends v in decimal.
func appendInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendUint(append(dst, '-'), uint64(-v))
	}
	return appendUint(dst, uint64(v))
}

// nineDigits returns v (< 10^9) in decimal, zero-padded to nine digits.
func nineDigits(v uint32) (d [9]byte) {
	hi, lo := v/10000, v%10000 // five and four digits
	a, b := hi/100, hi%100     // three and two digits
	d[0] = byte('0' + a/100)
	a %= 100
	d[1], d[2] = digitPairs[a*2], digitPairs[a*2+1]
	d[3], d[4] = digitPairs[b*2], digitPairs[b*2+1]
	c, e := lo/100, lo%100
	d[5], d[6] = digitPairs[c*2], digitPairs[c*2+1]
	d[7], d[8] = digitPairs[e*2], digitPairs[e*2+1]
	return d
}
