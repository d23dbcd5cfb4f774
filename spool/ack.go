package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
)

// The ack file holds two 32-byte slots: u64 generation, u64 segment
// sequence, u64 offset, u32 CRC-32C of those 24 bytes, 4 bytes of padding.
// Generation g is written to slot g%2 with pwrite and fsync, so a torn
// write damages only the slot being written and the other one still holds
// the previous position.
const ackSlot = 32

type ackPos struct {
	gen, seg uint64
	off      int64
}

// readAck returns the valid slot with the highest generation (zero when
// none is valid: a new spool).
func readAck(f *os.File) ackPos {
	var b [2 * ackSlot]byte
	n, _ := f.ReadAt(b[:], 0)
	var best ackPos
	for i := 0; i+ackSlot <= n; i += ackSlot {
		s := b[i : i+ackSlot]
		if crc32.Checksum(s[:24], castagnoli) != binary.LittleEndian.Uint32(s[24:]) {
			continue
		}
		p := ackPos{binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:]), int64(binary.LittleEndian.Uint64(s[16:]))}
		if p.gen > best.gen {
			best = p
		}
	}
	return best
}

// writeAck persists p (with the next generation) and syncs it.
func writeAck(f *os.File, p *ackPos) error {
	p.gen++
	var s [ackSlot]byte
	binary.LittleEndian.PutUint64(s[:], p.gen)
	binary.LittleEndian.PutUint64(s[8:], p.seg)
	binary.LittleEndian.PutUint64(s[16:], uint64(p.off))
	binary.LittleEndian.PutUint32(s[24:], crc32.Checksum(s[:24], castagnoli))
	if _, err := f.WriteAt(s[:], int64(p.gen%2)*ackSlot); err != nil {
		return fmt.Errorf("spool: writing %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool: syncing %s: %w", f.Name(), err)
	}
	return nil
}
