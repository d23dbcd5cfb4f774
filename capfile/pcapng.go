package capfile

import (
	"io"
	"math"
	"math/bits"
)

// pcapng block types.
const (
	blockIDB = 0x00000001
	blockPB  = 0x00000002 // obsolete Packet Block
	blockSPB = 0x00000003
	blockEPB = 0x00000006
	// Custom Blocks (copy allowed, and do-not-copy): tshark 4.0 lists each
	// as a frame of its own, so the frames after one are numbered one more
	blockCB  = 0x00000BAD
	blockDCB = 0x40000BAD
	blockSHB = 0x0A0D0D0A
)

// IDB option codes.
const (
	optEndOfOpt = 0
	optIfName   = 2
	optIfDesc   = 3
	optTSResol  = 9
	optFCSLen   = 13
	optTSOffset = 14
)

func pad4(n uint32) uint32 { return (n + 3) &^ 3 }

// nextNG reads blocks until it has a packet.
func (r *Reader) nextNG(rec *Record) error {
	for {
		start := r.pos()
		if r.w-r.r < 8 {
			if err := r.fill(8); err != nil {
				if err == io.EOF && r.w == r.r {
					return io.EOF
				}
				return r.need(8, start, "block header")
			}
		}
		btype := r.u32(r.buf[r.r:])
		if btype == blockSHB {
			if err := r.readSHB(start); err != nil {
				return err
			}
			continue
		}
		blen := r.u32(r.buf[r.r+4:])
		if blen < 12 || blen%4 != 0 {
			return r.errAt(start, errorf(ErrCorrupt, "block type 0x%08x has bad total length %d", btype, blen))
		}
		if blen > maxBlockLen {
			return r.errAt(start, errorf(ErrTooLarge, "block type 0x%08x claims %d bytes, more than the %d-byte limit", btype, blen, maxBlockLen))
		}
		switch btype {
		case blockEPB, blockPB:
			return r.readPacketBlock(rec, btype, blen, start)
		case blockSPB:
			return r.readSPB(rec, blen, start)
		case blockIDB:
			if err := r.readIDB(blen, start); err != nil {
				return err
			}
		default:
			if btype == blockCB || btype == blockDCB {
				r.customBlocks++
			}
			// NRB, ISB, DSB, custom and unknown blocks: skip, but check
			// the trailing length like every other block.
			if err := r.skip(int64(blen-4), start, "block"); err != nil {
				return err
			}
			if err := r.need(4, start, "block trailer"); err != nil {
				return err
			}
			if t := r.u32(r.buf[r.r:]); t != blen {
				return r.errAt(start, errorf(ErrCorrupt, "block type 0x%08x: total lengths disagree (first %d, trailer %d)", btype, blen, t))
			}
			r.r += 4
		}
	}
}

// block buffers a whole block of blen bytes and checks its trailing length.
func (r *Reader) block(btype, blen uint32, start int64) ([]byte, error) {
	if err := r.need(int(blen), start, "block"); err != nil {
		return nil, err
	}
	b := r.buf[r.r : r.r+int(blen)]
	if t := r.u32(b[blen-4:]); t != blen {
		return nil, r.errAt(start, errorf(ErrCorrupt, "block type 0x%08x: total lengths disagree (first %d, trailer %d)", btype, blen, t))
	}
	return b, nil
}

func (r *Reader) readSHB(start int64) error {
	if err := r.need(12, start, "section header block"); err != nil {
		return err
	}
	b := r.buf[r.r:]
	switch {
	case b[8] == 0x4d && b[9] == 0x3c && b[10] == 0x2b && b[11] == 0x1a:
		r.be = false
	case b[8] == 0x1a && b[9] == 0x2b && b[10] == 0x3c && b[11] == 0x4d:
		r.be = true
	default:
		return r.errAt(start, errorf(ErrCorrupt, "section header block has bad byte-order magic %02x%02x%02x%02x", b[8], b[9], b[10], b[11]))
	}
	blen := r.u32(b[4:])
	if blen < 28 || blen%4 != 0 {
		return r.errAt(start, errorf(ErrCorrupt, "section header block has bad total length %d", blen))
	}
	if blen > maxBlockLen {
		return r.errAt(start, errorf(ErrTooLarge, "section header block claims %d bytes, more than the %d-byte limit", blen, maxBlockLen))
	}
	b, err := r.block(blockSHB, blen, start)
	if err != nil {
		return err
	}
	if major := r.u16(b[12:]); major != 1 {
		return r.errAt(start, errorf(ErrUnsupported, "pcapng major version %d, want 1", major))
	}
	if start != 0 {
		r.section++
	}
	r.ifaces = nil
	r.st = r.st[:0]
	r.ifText = 0
	r.r += int(blen)
	return nil
}

func (r *Reader) readIDB(blen uint32, start int64) error {
	if blen < 20 {
		return r.errAt(start, errorf(ErrCorrupt, "interface description block too short (%d bytes)", blen))
	}
	if len(r.ifaces) >= MaxInterfaces {
		return r.errAt(start, errorf(ErrTooLarge, "section has more than %d interface description blocks", MaxInterfaces))
	}
	b, err := r.block(blockIDB, blen, start)
	if err != nil {
		return err
	}
	iface := Interface{
		LinkType:         r.u16(b[8:]),
		SnapLen:          r.u32(b[12:]),
		TSResol:          6,
		TSUnitsPerSecond: 1e6,
		FCSLen:           -1,
		Section:          r.section,
	}
	opts := b[16 : blen-4]
	for len(opts) >= 4 {
		code, olen := r.u16(opts), uint32(r.u16(opts[2:]))
		if code == optEndOfOpt {
			break
		}
		if 4+pad4(olen) > uint32(len(opts)) {
			return r.errAt(start, errorf(ErrCorrupt, "interface description block: option %d length %d overruns the block", code, olen))
		}
		v := opts[4 : 4+olen]
		switch code {
		case optIfName, optIfDesc:
			v = trimNUL(v)
			if r.ifText += len(v); r.ifText > MaxInterfaceText {
				return r.errAt(start, errorf(ErrTooLarge, "interface names and descriptions of the section exceed the %d-byte limit", MaxInterfaceText))
			}
			if code == optIfName {
				iface.Name = string(v)
			} else {
				iface.Description = string(v)
			}
		case optTSResol:
			if olen >= 1 {
				iface.TSResol = v[0]
			}
		case optFCSLen:
			if olen >= 1 {
				iface.FCSLen = int(v[0])
			}
		case optTSOffset:
			if olen == 8 {
				iface.TSOffset = int64(r.u64(v))
			}
		}
		opts = opts[4+pad4(olen):]
	}
	units, ok := tsUnits(iface.TSResol)
	if !ok {
		return r.errAt(start, errorf(ErrUnsupported, "interface description block: if_tsresol 0x%02x is too fine", iface.TSResol))
	}
	iface.TSUnitsPerSecond = units
	r.ifaces = append(r.ifaces, iface)
	r.st = append(r.st, ifState{
		linkType: iface.LinkType,
		snapLen:  iface.SnapLen,
		limit:    recordLimit(iface.SnapLen),
		units:    units,
		offSec:   iface.TSOffset,
	})
	r.r += int(blen)
	return nil
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// tsUnits converts if_tsresol into timestamp units per second.
func tsUnits(v uint8) (uint64, bool) {
	if v&0x80 != 0 {
		e := v & 0x7f
		if e > 63 {
			return 0, false
		}
		return 1 << e, true
	}
	if v > 19 {
		return 0, false
	}
	u := uint64(1)
	for range v {
		u *= 10
	}
	return u, true
}

// timestamp converts a pcapng timestamp to Unix nanoseconds, adding
// if_tsoffset. The sum is computed exactly (in 128 bits) and saturated to
// the int64 range; saturated reports that it had to be.
func (st *ifState) timestamp(hi, lo uint32) (ns int64, saturated bool) {
	t := uint64(hi)<<32 | uint64(lo)
	// the timestamp in nanoseconds, as a 128-bit value th:tl
	var th, tl uint64
	switch st.units {
	case 1e9:
		tl = t
	case 1e6:
		th, tl = bits.Mul64(t, 1e3)
	default:
		sec, rem := t/st.units, t%st.units
		h, l := bits.Mul64(rem, 1e9)
		frac, _ := bits.Div64(h, l, st.units) // rem < units, so no overflow
		th, tl = bits.Mul64(sec, 1e9)
		var c uint64
		tl, c = bits.Add64(tl, frac, 0)
		th += c
	}
	if st.offSec == 0 && th == 0 && tl <= math.MaxInt64 {
		return int64(tl), false
	}
	// plus the offset in nanoseconds, in two's complement
	mag := uint64(st.offSec)
	if st.offSec < 0 {
		mag = -mag
	}
	oh, ol := bits.Mul64(mag, 1e9)
	if st.offSec < 0 {
		var b uint64
		ol, b = bits.Sub64(0, ol, 0)
		oh, _ = bits.Sub64(0, oh, b)
	}
	sl, c := bits.Add64(tl, ol, 0)
	sh, _ := bits.Add64(th, oh, c)
	switch {
	case sh == 0 && sl <= math.MaxInt64, sh == math.MaxUint64 && sl > math.MaxInt64:
		return int64(sl), false
	case int64(sh) < 0:
		return math.MinInt64, true
	}
	return math.MaxInt64, true
}

// readPacketBlock reads an Enhanced Packet Block or an obsolete Packet Block.
func (r *Reader) readPacketBlock(rec *Record, btype, blen uint32, start int64) error {
	const fixed = 28 // header 8 + interface 4 + timestamp 8 + lengths 8
	if blen < fixed+4 {
		return r.errAt(start, errorf(ErrCorrupt, "packet block too short (%d bytes)", blen))
	}
	if err := r.need(fixed, start, "packet block"); err != nil {
		return err
	}
	b := r.buf[r.r:]
	var ifid uint32
	if btype == blockEPB {
		ifid = r.u32(b[8:])
	} else {
		ifid = uint32(r.u16(b[8:]))
	}
	if ifid >= uint32(len(r.st)) {
		return r.errAt(start, errorf(ErrCorrupt, "packet block refers to interface %d, but the section has %d", ifid, len(r.st)))
	}
	st := &r.st[ifid]
	capLen := r.u32(b[20:])
	if int64(capLen) > int64(st.limit) {
		return r.errAt(start, errorf(ErrTooLarge, "record claims %d bytes, more than the %d-byte limit", capLen, st.limit))
	}
	if fixed+pad4(capLen)+4 > blen {
		return r.errAt(start, errorf(ErrCorrupt, "packet block of %d bytes cannot hold %d captured bytes", blen, capLen))
	}
	b, err := r.block(btype, blen, start)
	if err != nil {
		return err
	}
	rec.Data = b[fixed : fixed+capLen : fixed+capLen]
	rec.CapLen = int(capLen)
	rec.OrigLen = int(r.u32(b[24:]))
	rec.Timestamp, rec.TimestampSaturated = st.timestamp(r.u32(b[12:]), r.u32(b[16:]))
	rec.LinkType = st.linkType
	rec.Interface = int(ifid)
	rec.Offset = start
	r.r += int(blen)
	return nil
}

// readSPB reads a Simple Packet Block: interface 0, no timestamp, captured
// length = original length cut to the interface's snapshot length.
func (r *Reader) readSPB(rec *Record, blen uint32, start int64) error {
	const fixed = 12
	if blen < fixed+4 {
		return r.errAt(start, errorf(ErrCorrupt, "simple packet block too short (%d bytes)", blen))
	}
	if len(r.st) == 0 {
		return r.errAt(start, errorf(ErrCorrupt, "simple packet block before any interface description block"))
	}
	st := &r.st[0]
	if err := r.need(fixed, start, "simple packet block"); err != nil {
		return err
	}
	origLen := r.u32(r.buf[r.r+8:])
	capLen := origLen
	if st.snapLen != 0 && capLen > st.snapLen {
		capLen = st.snapLen
	}
	if room := blen - fixed - 4; capLen > room {
		capLen = room
	}
	if int64(capLen) > int64(st.limit) {
		return r.errAt(start, errorf(ErrTooLarge, "record claims %d bytes, more than the %d-byte limit", capLen, st.limit))
	}
	b, err := r.block(blockSPB, blen, start)
	if err != nil {
		return err
	}
	rec.Data = b[fixed : fixed+capLen : fixed+capLen]
	rec.CapLen = int(capLen)
	rec.OrigLen = int(origLen)
	rec.Timestamp, rec.TimestampSaturated = 0, false
	rec.LinkType = st.linkType
	rec.Interface = 0
	rec.Offset = start
	r.r += int(blen)
	return nil
}
