package tlshello

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"
)

// The hashed fingerprints cost more than the rest of a hello (JA3 and JA3S
// are MD5 sums of decimal lists; JA4 sorts two lists and takes two SHA-256
// sums), and a capture sees the same few client and server stacks again and
// again. A Cache remembers them by everything they are computed from; a
// Hello given one (SetCache) looks its fingerprints up there.

// cacheKeyBytes bounds the key of a cached hello; longer hellos (over a
// hundred cipher suites) are fingerprinted every time.
const cacheKeyBytes = 512

// cacheSlots is the number of hellos a Cache remembers.
const cacheSlots = 64

// Cache remembers the hashed fingerprints of the last hellos seen (JA3 and
// JA4 of a ClientHello, JA3S of a ServerHello), one slot per key hash. It
// is not safe for concurrent use: give each decoder its own.
type Cache struct {
	seed  maphash.Seed
	key   []byte // the key being looked up
	gen   uint64 // slots filled so far
	slots [cacheSlots]cacheSlot
}

type cacheSlot struct {
	n    int    // key length; 0: empty
	gen  uint64 // Cache.gen when the slot was filled
	key  [cacheKeyBytes]byte
	ja3  [32]byte // JA3 or JA3S, hex
	ja4  [36]byte // JA4 (ClientHello only)
	ja4n int
}

// SetCache makes h look its hashed fingerprints up in c (nil: compute
// them every time). Reset keeps it.
func (h *Hello) SetCache(c *Cache) { h.cache = c }

// appendKeyList appends the number of non-GREASE values of l and the
// values.
func appendKeyList(k []byte, l []uint16) []byte {
	at := len(k)
	k = slices.Grow(k, 2+2*len(l))
	b := k[at+2 : at+2+2*len(l)]
	n := 0
	for _, v := range l {
		if !IsGREASE(v) {
			binary.BigEndian.PutUint16(b[n:], v)
			n += 2
		}
	}
	binary.BigEndian.PutUint16(k[at:at+2], uint16(n/2))
	return k[:at+2+n]
}

// cacheKey returns the key of a fingerprintable hello: the values its
// fingerprints are computed from, GREASE left out (a client picks new
// GREASE values for each connection, and no fingerprint depends on them).
func (h *Hello) cacheKey(k []byte) []byte {
	k = append(k, h.HandshakeType, byte(h.Version>>8), byte(h.Version))
	k = appendKeyList(k, h.CipherSuites)
	k = appendKeyList(k, h.Extensions)
	if h.HandshakeType != HandshakeTypeClientHello {
		return k
	}
	k = appendKeyList(k, h.Groups)
	k = append(k, byte(len(h.PointFormats)))
	k = append(k, h.PointFormats...)
	// JA4: the transport, the highest supported version (whether the
	// extension is there at all counts), the signature algorithms, and
	// the first and last character of the first ALPN value
	quic := byte(0)
	if h.QUIC {
		quic = 1
	}
	k = append(k, quic, byte(min(len(h.SupportedVersions), 1)))
	k = appendKeyList(k, h.SupportedVersions)
	k = appendKeyList(k, h.SignatureAlgorithms)
	if len(h.ALPN) == 0 || len(h.ALPN[0]) == 0 {
		return append(k, 0)
	}
	a := h.ALPN[0]
	return append(k, 1, a[0], a[len(a)-1])
}

// cached returns the cache slot holding h's fingerprints, computing them on
// a miss, or nil when h has no cache or its key is too long.
func (h *Hello) cached() *cacheSlot {
	c := h.cache
	if c == nil {
		return nil
	}
	if s := h.slot; s != nil && s.gen == h.slotGen {
		return s // looked up since Parse, and not filled again since
	}
	k := h.cacheKey(c.key[:0])
	c.key = k
	if len(k) > cacheKeyBytes {
		return nil
	}
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	s := &c.slots[maphash.Bytes(c.seed, k)%cacheSlots]
	if s.n == len(k) && bytes.Equal(s.key[:s.n], k) {
		h.slot, h.slotGen = s, s.gen
		return s
	}
	s.n = 0
	if h.HandshakeType == HandshakeTypeClientHello {
		s.ja3 = [32]byte(h.appendJA3Hash(s.ja3[:0]))
		s.ja4n = len(h.appendJA4(s.ja4[:0], ja4Hashed))
		if s.ja4n > len(s.ja4) {
			return nil // (not for a valid JA4: 36 characters)
		}
	} else {
		s.ja3 = [32]byte(h.appendJA3SHash(s.ja3[:0]))
	}
	s.n = copy(s.key[:], k)
	c.gen++
	s.gen = c.gen
	h.slot, h.slotGen = s, s.gen
	return s
}
