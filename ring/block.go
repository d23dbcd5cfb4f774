package ring

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Packet is one packet of a Block. Data points into the ring: it is valid
// until the block is released.
type Packet struct {
	// Data is the captured bytes, from the link-layer header on. A VLAN
	// tag the kernel took out of the frame is put back in place.
	Data []byte
	// Len is the packet's length on the wire.
	Len int
	// Timestamp is the capture time in nanoseconds since the Unix epoch.
	Timestamp int64
	// TagRestored tells that the kernel had taken a VLAN tag out of the
	// frame and Next put it back: the kernel filter did not judge this
	// packet (see Group.TaggedFilter).
	TagRestored bool
}

// Block is a ring block the kernel has filled and handed over: a run of
// packets to read with Next, then to give back with Release.
type Block struct {
	ring *Ring
	buf  []byte // the whole block
	num  int    // packets in it
	i    int    // packets read
	off  int    // offset of the next packet's header
	end  int    // end of the block's used bytes
}

// set points b at a filled block.
func (b *Block) set(buf []byte) {
	b.buf = buf
	b.num = int(binary.NativeEndian.Uint32(buf[offNumPkts:]))
	b.off = int(binary.NativeEndian.Uint32(buf[offFirstPkt:]))
	b.end = int(binary.NativeEndian.Uint32(buf[offBlockLen:]))
	if b.end > len(buf) || b.end <= 0 {
		b.end = len(buf)
	}
	b.i = 0
}

// Len returns the number of packets in the block.
func (b *Block) Len() int { return b.num }

// Remaining returns the number of packets Next has not returned yet.
func (b *Block) Remaining() int { return b.num - b.i }

// Next reads the block's next packet into p and reports whether there was
// one. p.Data points into the ring.
func (b *Block) Next(p *Packet) bool {
	if b.i >= b.num {
		return false
	}
	off := b.off
	if off < 0 || off+hdrLen > b.end {
		b.i = b.num // damaged block: stop here rather than read garbage
		return false
	}
	h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&b.buf[off]))
	start := off + int(h.Mac)
	stop := start + int(h.Snaplen)
	if int(h.Mac) < hdrLen || stop > b.end {
		b.i = b.num
		return false
	}
	p.Len = int(h.Len)
	p.Timestamp = int64(h.Sec)*1e9 + int64(h.Nsec)
	p.TagRestored = false
	if (h.Status&unix.TP_STATUS_VLAN_VALID != 0 || h.Hv1.Vlan_tci != 0) && h.Snaplen >= 12 && int(h.Mac) >= hdrLen+vlanTagLen {
		// put the tag back between the MAC addresses and the EtherType,
		// in the room PACKET_RESERVE left before the frame
		tpid := uint16(unix.ETH_P_8021Q)
		if h.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && h.Hv1.Vlan_tpid != 0 {
			tpid = h.Hv1.Vlan_tpid
		}
		start -= vlanTagLen
		copy(b.buf[start:start+12], b.buf[start+vlanTagLen:start+vlanTagLen+12])
		binary.BigEndian.PutUint16(b.buf[start+12:], tpid)
		binary.BigEndian.PutUint16(b.buf[start+14:], uint16(h.Hv1.Vlan_tci))
		p.Len += vlanTagLen
		p.TagRestored = true
	}
	p.Data = b.buf[start:stop:stop]
	b.i++
	b.off = off + int(h.Next_offset)
	if h.Next_offset == 0 {
		b.off = -1 // the last packet: any further count is damage
	}
	return true
}

// Release gives the block back to the kernel. The packets read from it must
// not be used any more.
func (b *Block) Release() {
	if b.buf == nil {
		return
	}
	atomic.StoreUint32(blockStatus(b.buf), unix.TP_STATUS_KERNEL)
	b.buf = nil
	if r := b.ring; r != nil {
		r.cur = (r.cur + 1) % r.blockCount
	}
}
