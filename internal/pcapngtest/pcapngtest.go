// Package pcapngtest builds little-endian pcapng blocks for tests that need a
// file no capture tool writes (many interfaces, odd options, damage). A file
// is the concatenation of a Section, then Interface and Packet blocks in any
// order. It imports nothing of espcap-fast, so the capfile tests use it too.
package pcapngtest

import "encoding/binary"

// Block types and the IDB option codes tests use.
const (
	TypeSection   = 0x0a0d0d0a
	TypeInterface = 1
	TypeEPB       = 6

	OptEnd      = 0
	OptName     = 2
	OptDesc     = 3
	OptTSResol  = 9
	OptTSOffset = 14
)

// Block returns a block of type typ around body (padded to 4 bytes), with
// both total lengths.
func Block(typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

// Option returns one option, padded to 4 bytes.
func Option(code uint16, v []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Section returns a Section Header Block (version 1.0, unknown length).
func Section() []byte {
	body := binary.LittleEndian.AppendUint32(nil, 0x1a2b3c4d)
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, 0xffffffffffffffff)
	return Block(TypeSection, body)
}

// Interface returns an Interface Description Block with the given options
// (and an end-of-options marker when there are any).
func Interface(linkType uint16, snapLen uint32, opts ...[]byte) []byte {
	body := binary.LittleEndian.AppendUint16(nil, linkType)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint32(body, snapLen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, 0, 0, 0, 0)
	}
	return Block(TypeInterface, body)
}

// TSOffset returns the if_tsoffset option for sec seconds.
func TSOffset(sec int64) []byte {
	return Option(OptTSOffset, binary.LittleEndian.AppendUint64(nil, uint64(sec)))
}

// Packet returns an Enhanced Packet Block for interface iface with the
// timestamp ts in the interface's units, data captured and origLen bytes on
// the wire.
func Packet(iface uint32, ts uint64, data []byte, origLen int) []byte {
	body := binary.LittleEndian.AppendUint32(nil, iface)
	body = binary.LittleEndian.AppendUint32(body, uint32(ts>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(ts))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data)))
	body = binary.LittleEndian.AppendUint32(body, uint32(origLen))
	body = append(body, data...)
	return Block(TypeEPB, body)
}
