// Package quicinitial extracts the TLS ClientHello from a QUIC client
// Initial packet, as a passive observer sees it: one UDP datagram at a time.
//
// QUIC Initial packets are encrypted, but with keys anyone can compute
// from the packet's Destination Connection ID (RFC 9001 §5.2). For a UDP
// payload starting with a long-header Initial packet of QUIC version 1
// (RFC 9000), version 2 (RFC 9369) or draft-29, a Parser derives the client
// Initial keys, removes header protection, decrypts the payload with
// AES-128-GCM, walks the frames (PADDING, PING, ACK and CRYPTO; any other
// frame ends the walk) of every coalesced Initial packet of the datagram and
// reassembles the CRYPTO data from stream offset 0. The result is the
// ClientHello handshake message (type 1, 3-byte length, body), not a TLS
// record.
//
// The parser keeps no state between datagrams. A ClientHello larger than
// one datagram (Chrome's hellos with post-quantum key shares span two
// Initial packets) is returned as far as it goes and reported incomplete;
// the continuation, whose CRYPTO data does not start at offset 0, yields an
// empty ClientHello. Client Initial packets sent after the server answered
// carry the server's connection ID as Destination Connection ID, while the
// keys stay derived from the first one, so they fail to decrypt
// (ErrDecrypt), as do server Initial packets.
//
// A Parser reuses its buffers and caches the ciphers of the last few
// connection IDs, so that Parse does not allocate once warmed up when the
// keys are cached. Creating the AES and AES-GCM cipher objects for a
// connection ID not in the cache allocates (a handful of small objects per
// new connection; the key derivation itself does not allocate).
package quicinitial

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// QUIC versions understood by the parser.
const (
	Version1       = 0x00000001 // RFC 9000
	Version2       = 0x6b3343cf // RFC 9369
	VersionDraft29 = 0xff00001d // draft-ietf-quic-transport-29
)

// Errors returned by Parse, possibly wrapped.
var (
	// ErrNotInitial: the payload does not start with a long-header
	// Initial packet of a supported version.
	ErrNotInitial = errors.New("quicinitial: not a QUIC Initial packet")
	// ErrTruncated: a header field or the packet runs past the end of
	// the datagram.
	ErrTruncated = errors.New("quicinitial: truncated packet")
	// ErrDecrypt: the payload failed AEAD authentication with the client
	// Initial keys of its Destination Connection ID (a server Initial, a
	// later client Initial, or a damaged packet).
	ErrDecrypt = errors.New("quicinitial: payload authentication failed")
	// ErrMalformed: the decrypted frames or the CRYPTO data are not
	// well formed.
	ErrMalformed = errors.New("quicinitial: malformed frames")
)

// Wrapped errors, built once so that returning them does not allocate.
var (
	errShortHeader   = fmt.Errorf("%w: long header", ErrTruncated)
	errShortCID      = fmt.Errorf("%w: connection ID", ErrTruncated)
	errLongCID       = fmt.Errorf("%w: connection ID longer than 20 bytes", ErrNotInitial)
	errShortToken    = fmt.Errorf("%w: token", ErrTruncated)
	errShortLength   = fmt.Errorf("%w: length field", ErrTruncated)
	errShortPayload  = fmt.Errorf("%w: packet longer than datagram", ErrTruncated)
	errShortSample   = fmt.Errorf("%w: no room for header protection sample", ErrTruncated)
	errBadFrame      = fmt.Errorf("%w: frame runs past packet end", ErrMalformed)
	errCryptoRange   = fmt.Errorf("%w: CRYPTO frame offset out of range", ErrMalformed)
	errNotHello      = fmt.Errorf("%w: CRYPTO data is not a ClientHello", ErrMalformed)
	errNotServer     = fmt.Errorf("%w: CRYPTO data is not a ServerHello", ErrMalformed)
	errNoCipher      = fmt.Errorf("quicinitial: cipher setup failed")
	errVersionChange = fmt.Errorf("%w: coalesced packet of another version", ErrMalformed)
)

// Initial is the result of Parse.
type Initial struct {
	// Version is the QUIC version of the packet.
	Version uint32
	// DCID and SCID are the connection IDs of the first Initial packet of
	// the datagram. They point into the parsed payload.
	DCID, SCID []byte
	// ClientHello holds the handshake message bytes (type 1, 3-byte
	// length, body) reassembled from offset 0 of the CRYPTO stream, as far
	// as contiguous data reaches and at most the message's length. It
	// points into the Parser and is valid until the next Parse. It is empty
	// when the datagram has no CRYPTO data at offset 0.
	ClientHello []byte
	// ServerHello is, after ParseServer, the ServerHello reassembled as
	// ClientHello is after Parse (and ClientHello is empty).
	ServerHello []byte
	// Complete reports that the whole ClientHello (ServerHello) was in
	// this datagram.
	Complete bool
	// Packets counts the Initial packets decrypted from the datagram.
	Packets int
}

// cryptoFrag is a CRYPTO frame: stream offset and position of its data in
// Parser.plain.
type cryptoFrag struct {
	off        uint64
	start, end int
}

// keyEntry caches the ciphers derived from one version and DCID.
type keyEntry struct {
	version uint32
	server  bool // the server's Initial keys
	dcidLen int
	dcid    [20]byte
	iv      [12]byte
	aead    cipher.AEAD
	hp      cipher.Block
}

// cacheSize is the number of connection IDs whose ciphers are kept.
const cacheSize = 8

// maxCryptoOffset bounds the CRYPTO stream offsets accepted; a ClientHello
// is far shorter.
const maxCryptoOffset = 1 << 24

// Parser decodes client Initial packets. The zero value is ready to use. A
// Parser is not safe for concurrent use.
type Parser struct {
	cache [cacheSize]keyEntry
	next  int // cache slot to replace next

	plain []byte       // decrypted payloads of the datagram's packets
	hdr   []byte       // unprotected header (AEAD associated data)
	frags []cryptoFrag // CRYPTO frames of the datagram
	hello []byte       // reassembled CRYPTO stream from offset 0

	mask  [aes.BlockSize]byte
	nonce [12]byte
	kdf   kdf

	noCache bool // tests: derive ciphers for every packet

	// server is set during ParseServer: the keys are the server's,
	// derived from odcid, the client's original Destination Connection ID
	server bool
	odcid  []byte
}

// versionInfo describes the per-version constants.
type versionInfo struct {
	salt        []byte
	initialType byte // long packet type bits of Initial
	keyLabel    string
	ivLabel     string
	hpLabel     string
}

var (
	saltV1      = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	saltV2      = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
	saltDraft29 = []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99}

	infoV1      = versionInfo{saltV1, 0, "quic key", "quic iv", "quic hp"}
	infoV2      = versionInfo{saltV2, 1, "quicv2 key", "quicv2 iv", "quicv2 hp"}
	infoDraft29 = versionInfo{saltDraft29, 0, "quic key", "quic iv", "quic hp"}
)

func lookupVersion(v uint32) *versionInfo {
	switch v {
	case Version1:
		return &infoV1
	case Version2:
		return &infoV2
	case VersionDraft29:
		return &infoDraft29
	}
	return nil
}

// IsLongHeaderInitial reports whether udpPayload starts with a long-header
// packet of a supported QUIC version whose packet type is Initial and whose
// connection ID lengths are valid. It is a cheap pre-filter for Parse; the
// fixed bit is not checked (RFC 9287 allows greasing it).
func IsLongHeaderInitial(udpPayload []byte) bool {
	b := udpPayload
	if len(b) < 7 || b[0]&0x80 == 0 {
		return false
	}
	vi := lookupVersion(binary.BigEndian.Uint32(b[1:5]))
	if vi == nil || (b[0]>>4)&3 != vi.initialType {
		return false
	}
	dl := int(b[5])
	if dl > 20 || len(b) < 7+dl {
		return false
	}
	sl := int(b[6+dl])
	return sl <= 20 && len(b) >= 7+dl+sl
}

// Parse decodes the client Initial packets of a UDP datagram and
// reassembles the ClientHello from their CRYPTO frames into out. Packets
// after the first Initial of the datagram that are not Initial packets are
// skipped using their Length field; a short-header packet ends the
// datagram. udpPayload is not modified; out's DCID and SCID point into it.
//
// An error is returned when the first packet is not a decryptable Initial
// packet; damage in a later coalesced packet ends the walk and keeps what
// was found before it.
func (p *Parser) Parse(udpPayload []byte, out *Initial) error {
	p.server, p.odcid = false, nil
	return p.parse(udpPayload, out)
}

// ParseServer decodes the server Initial packets of a UDP datagram, whose
// keys derive from odcid, the Destination Connection ID of the client's
// first Initial (RFC 9001 5.2), and reassembles the ServerHello from their
// CRYPTO frames into out.ServerHello, as Parse does for a client's.
func (p *Parser) ParseServer(udpPayload, odcid []byte, out *Initial) error {
	p.server, p.odcid = true, odcid
	err := p.parse(udpPayload, out)
	p.odcid = nil
	return err
}

func (p *Parser) parse(udpPayload []byte, out *Initial) error {
	*out = Initial{}
	p.plain = p.plain[:0]
	p.frags = p.frags[:0]
	b := udpPayload
	if len(b) == 0 {
		return ErrNotInitial
	}
	first := true
	for len(b) > 0 {
		n, err := p.packet(b, out, first)
		if err != nil {
			if first {
				return err
			}
			break
		}
		first = false
		b = b[n:]
	}
	return p.reassemble(out)
}

// packet decodes the long-header packet at the start of b and returns its
// length. n == len(b) ends the walk.
func (p *Parser) packet(b []byte, out *Initial, first bool) (int, error) {
	if b[0]&0x80 == 0 {
		if first {
			return 0, ErrNotInitial
		}
		return len(b), nil // short header: the rest is one 1-RTT packet
	}
	if len(b) < 7 {
		return 0, errShortHeader
	}
	version := binary.BigEndian.Uint32(b[1:5])
	vi := lookupVersion(version)
	if vi == nil {
		if first {
			return 0, ErrNotInitial
		}
		return len(b), nil // unknown version or padding: stop
	}
	if !first && version != out.Version {
		return 0, errVersionChange
	}
	pos := 5
	dl := int(b[pos])
	pos++
	if dl > 20 {
		return 0, errLongCID
	}
	if len(b) < pos+dl+1 {
		return 0, errShortCID
	}
	dcid := b[pos : pos+dl]
	pos += dl
	sl := int(b[pos])
	pos++
	if sl > 20 {
		return 0, errLongCID
	}
	if len(b) < pos+sl {
		return 0, errShortCID
	}
	scid := b[pos : pos+sl]
	pos += sl

	typ := (b[0] >> 4) & 3
	isInitial := typ == vi.initialType
	if !isInitial {
		if first {
			return 0, ErrNotInitial
		}
		if typ == (vi.initialType+3)&3 { // Retry (0b11 in v1, 0b00 in v2): no length
			return len(b), nil
		}
	} else {
		tl, n := varint(b[pos:])
		if n == 0 {
			return 0, errShortToken
		}
		pos += n
		if tl > uint64(len(b)-pos) {
			return 0, errShortToken
		}
		pos += int(tl)
	}
	length, n := varint(b[pos:])
	if n == 0 {
		return 0, errShortLength
	}
	pos += n
	if length > uint64(len(b)-pos) {
		return 0, errShortPayload
	}
	end := pos + int(length)
	if !isInitial {
		return end, nil // 0-RTT or Handshake: skip
	}
	if first {
		out.Version, out.DCID, out.SCID = version, dcid, scid
	}
	if p.server {
		dcid = p.odcid
	}
	if err := p.decrypt(b[:end], pos, version, vi, dcid, out); err != nil {
		return 0, err
	}
	return end, nil
}

// decrypt removes header protection from pkt (whose packet number starts
// at pnOff), decrypts its payload, counts it in out.Packets and records its
// CRYPTO frames. Malformed frames end the walk with an error, keeping the
// CRYPTO frames before them.
func (p *Parser) decrypt(pkt []byte, pnOff int, version uint32, vi *versionInfo, dcid []byte, out *Initial) error {
	if len(pkt) < pnOff+4+aes.BlockSize {
		return errShortSample
	}
	k, err := p.keys(version, vi, dcid)
	if err != nil {
		return err
	}
	k.hp.Encrypt(p.mask[:], pkt[pnOff+4:pnOff+4+aes.BlockSize])
	first := pkt[0] ^ p.mask[0]&0x0f
	pnLen := int(first&3) + 1
	p.hdr = append(p.hdr[:0], pkt[:pnOff+pnLen]...)
	p.hdr[0] = first
	var pn uint64
	for i := 0; i < pnLen; i++ {
		p.hdr[pnOff+i] ^= p.mask[1+i]
		pn = pn<<8 | uint64(p.hdr[pnOff+i])
	}
	// Without state the expected packet number is 0, so the truncated
	// packet number is the full one (RFC 9000 Appendix A.3).
	p.nonce = k.iv
	for i := 0; i < 8; i++ {
		p.nonce[4+i] ^= byte(pn >> (56 - 8*i))
	}
	ct := pkt[pnOff+pnLen:]
	start := len(p.plain)
	p.plain = slices.Grow(p.plain, len(ct))
	plain, err := k.aead.Open(p.plain[start:start], p.nonce[:], ct, p.hdr)
	if err != nil {
		return ErrDecrypt // GCM's error carries nothing more
	}
	p.plain = p.plain[:start+len(plain)]
	out.Packets++
	return p.frames(start)
}

// frames walks the frames of the payload at p.plain[start:] and records
// the CRYPTO frames. It stops at the first frame type other than PADDING,
// PING, ACK and CRYPTO.
func (p *Parser) frames(start int) error {
	f := p.plain
	i := start
	for i < len(f) {
		switch f[i] {
		case 0x00: // PADDING
			i++
		case 0x01: // PING
			i++
		case 0x02, 0x03: // ACK, ACK with ECN counts
			ecn := f[i] == 0x03
			i++
			var count uint64
			for j := 0; j < 4; j++ { // largest, delay, range count, first range
				v, n := varint(f[i:])
				if n == 0 {
					return errBadFrame
				}
				i += n
				if j == 2 {
					count = v
				}
			}
			if count > uint64(len(f)-i) { // each range takes at least 2 bytes
				return errBadFrame
			}
			extra := 2 * int(count)
			if ecn {
				extra += 3
			}
			for j := 0; j < extra; j++ {
				_, n := varint(f[i:])
				if n == 0 {
					return errBadFrame
				}
				i += n
			}
		case 0x06: // CRYPTO
			i++
			off, n := varint(f[i:])
			if n == 0 {
				return errBadFrame
			}
			i += n
			l, n := varint(f[i:])
			if n == 0 {
				return errBadFrame
			}
			i += n
			if l > uint64(len(f)-i) {
				return errBadFrame
			}
			if off > maxCryptoOffset || off+l > maxCryptoOffset {
				return errCryptoRange
			}
			p.frags = append(p.frags, cryptoFrag{off: off, start: i, end: i + int(l)})
			i += int(l)
		default:
			return nil
		}
	}
	return nil
}

// reassemble concatenates the CRYPTO data from offset 0 into p.hello and
// fills out's ClientHello and Complete.
func (p *Parser) reassemble(out *Initial) error {
	slices.SortStableFunc(p.frags, func(a, b cryptoFrag) int {
		switch {
		case a.off < b.off:
			return -1
		case a.off > b.off:
			return 1
		}
		return 0
	})
	p.hello = p.hello[:0]
	var next uint64
	for _, fr := range p.frags {
		end := fr.off + uint64(fr.end-fr.start)
		if fr.off > next {
			break // gap
		}
		if end <= next {
			continue // duplicate
		}
		p.hello = append(p.hello, p.plain[fr.start+int(next-fr.off):fr.end]...)
		next = end
	}
	h := p.hello
	if len(h) == 0 {
		return nil
	}
	switch {
	case p.server && h[0] != 2:
		return errNotServer
	case !p.server && h[0] != 1:
		return errNotHello
	}
	if len(h) >= 4 {
		need := 4 + (int(h[1])<<16 | int(h[2])<<8 | int(h[3]))
		if len(h) >= need {
			h = h[:need]
			out.Complete = true
		}
	}
	if p.server {
		out.ServerHello = h
	} else {
		out.ClientHello = h
	}
	return nil
}

// keys returns the cached ciphers for version and dcid, deriving them on a
// miss.
func (p *Parser) keys(version uint32, vi *versionInfo, dcid []byte) (*keyEntry, error) {
	if !p.noCache {
		for i := range p.cache {
			e := &p.cache[i]
			if e.aead != nil && e.version == version && e.server == p.server && e.dcidLen == len(dcid) && string(e.dcid[:e.dcidLen]) == string(dcid) {
				return e, nil
			}
		}
	}
	e := &p.cache[p.next]
	p.next = (p.next + 1) % cacheSize
	e.aead = nil
	var key, hp [16]byte
	label := "client in"
	if p.server {
		label = "server in"
	}
	p.kdf.initial(vi, dcid, label, &key, &e.iv, &hp)
	blk, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoCipher, err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoCipher, err)
	}
	hpb, err := aes.NewCipher(hp[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoCipher, err)
	}
	e.version, e.server, e.dcidLen, e.aead, e.hp = version, p.server, len(dcid), aead, hpb
	copy(e.dcid[:], dcid)
	return e, nil
}

// varint decodes a QUIC variable-length integer (RFC 9000 §16), returning
// its value and length, or n == 0 if b is too short.
func varint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0
	}
	v = uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n
}

// kdf computes HKDF-SHA256 (RFC 5869) for outputs of at most one hash
// length, with HMAC built on sha256.Sum256 over a reused buffer so that it
// does not allocate. It is checked against crypto/hkdf in the tests.
type kdf struct {
	buf [64 + 64]byte // HMAC pad block + message
	prk [sha256.Size]byte
	out [sha256.Size]byte
}

// hmac sets k.out to HMAC-SHA256(key, msg1 || msg2). len(key) <= 64 and
// len(msg1)+len(msg2) <= 64.
func (k *kdf) hmac(key, msg1, msg2 []byte) {
	var pad [64]byte
	copy(pad[:], key)
	for i := range 64 {
		k.buf[i] = pad[i] ^ 0x36
	}
	n := 64 + copy(k.buf[64:], msg1)
	n += copy(k.buf[n:], msg2)
	inner := sha256.Sum256(k.buf[:n])
	for i := range 64 {
		k.buf[i] = pad[i] ^ 0x5c
	}
	copy(k.buf[64:], inner[:])
	k.out = sha256.Sum256(k.buf[:64+sha256.Size])
}

// expandLabel sets dst to HKDF-Expand-Label(secret, label, "", len(dst))
// (RFC 8446 §7.1), for len(dst) <= 32.
func (k *kdf) expandLabel(dst, secret []byte, label string) {
	var info [2 + 1 + 6 + 20 + 1 + 1]byte // length, label vector, empty context, counter
	binary.BigEndian.PutUint16(info[:], uint16(len(dst)))
	info[2] = byte(6 + len(label))
	n := 3 + copy(info[3:], "tls13 ")
	n += copy(info[n:], label)
	info[n] = 0   // context length
	info[n+1] = 1 // HKDF-Expand block counter T(1)
	k.hmac(secret, info[:n+2], nil)
	copy(dst, k.out[:])
}

// initial derives the client's ("client in") or the server's ("server
// in") Initial key, iv and header protection key of vi for the connection
// ID dcid (RFC 9001 §5.2, RFC 9369 §3.3).
func (k *kdf) initial(vi *versionInfo, dcid []byte, side string, key *[16]byte, iv *[12]byte, hp *[16]byte) {
	k.hmac(vi.salt, dcid, nil) // HKDF-Extract(salt, dcid)
	k.prk = k.out
	var secret [sha256.Size]byte
	k.expandLabel(secret[:], k.prk[:], side)
	k.expandLabel(key[:], secret[:], vi.keyLabel)
	k.expandLabel(iv[:], secret[:], vi.ivLabel)
	k.expandLabel(hp[:], secret[:], vi.hpLabel)
}
