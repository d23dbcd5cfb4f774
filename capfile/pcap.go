package capfile

import "io"

const pcapHeaderLen = 24

// readPcapHeader parses the 24-byte pcap file header; r.be is already set
// from the magic number.
func (r *Reader) readPcapHeader() error {
	if err := r.need(pcapHeaderLen, 0, "pcap file header"); err != nil {
		return err
	}
	h := r.buf[r.r : r.r+pcapHeaderLen]
	r.format = Pcap
	r.recHdr = 16
	switch {
	case h[0] == 0x4d || h[3] == 0x4d: // a1b23c4d
		r.nano = true
	case h[0] == 0x34 || h[3] == 0x34: // a1b2cd34, Kuznetzov's modified pcap
		r.recHdr = 24
	}
	major := r.u16(h[4:])
	if major != 2 {
		return r.errAt(0, errorf(ErrUnsupported, "pcap major version %d, want 2", major))
	}
	snap := r.u32(h[16:])
	field := r.u32(h[20:])
	iface := Interface{
		LinkType:         uint16(field),
		SnapLen:          snap,
		TSResol:          6,
		TSUnitsPerSecond: 1e6,
		FCSLen:           -1,
	}
	if r.nano {
		iface.TSResol, iface.TSUnitsPerSecond = 9, 1e9
	}
	// Link-type field: bits 0-15 link type, bit 28 "FCS length valid",
	// bits 29-31 FCS length in 16-bit words.
	if field&0x10000000 != 0 {
		iface.FCSLen = int(field>>29) * 2
	}
	r.ifaces = []Interface{iface}
	r.st = []ifState{{linkType: iface.LinkType, snapLen: snap, limit: recordLimit(snap), units: iface.TSUnitsPerSecond}}
	r.r += pcapHeaderLen
	return nil
}

// nextPcap reads one pcap record.
func (r *Reader) nextPcap(rec *Record) error {
	hl := r.recHdr
	if r.w-r.r < hl {
		if err := r.fill(hl); err != nil {
			if err == io.EOF && r.w == r.r {
				return io.EOF
			}
			return r.need(hl, r.pos(), "record header")
		}
	}
	h := r.buf[r.r : r.r+hl]
	capLen := r.u32(h[8:])
	st := &r.st[0]
	if int64(capLen) > int64(st.limit) {
		return r.errAt(r.pos(), errorf(ErrTooLarge, "record claims %d bytes, more than the %d-byte limit", capLen, st.limit))
	}
	total := hl + int(capLen)
	if r.w-r.r < total {
		if err := r.need(total, r.pos(), "record"); err != nil {
			return err
		}
		h = r.buf[r.r : r.r+hl]
	}
	secs := int64(r.u32(h[0:]))
	frac := r.u32(h[4:])
	// Like wiretap: nsecs = (int)(usec * 1000) or (int)nsec, no range check.
	var nsec int64
	if r.nano {
		nsec = int64(int32(frac))
	} else {
		nsec = int64(int32(frac * 1000))
	}
	start := r.r + hl
	rec.Data = r.buf[start : start+int(capLen) : start+int(capLen)]
	rec.CapLen = int(capLen)
	rec.OrigLen = int(r.u32(h[12:]))
	rec.Timestamp, rec.TimestampSaturated = secs*1e9+nsec, false
	rec.LinkType = st.linkType
	rec.Interface = 0
	rec.Offset = r.pos()
	r.r += total
	return nil
}
