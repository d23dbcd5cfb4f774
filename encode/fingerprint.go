package encode

import (
	"bytes"
	"crypto/md5"
	"hash/maphash"

	"github.com/espcap/espcap-fast/decode/tlshello"
)

// The hashed TLS fingerprints (JA3 and JA3S are MD5 sums, JA4 sorts two
// lists and takes two SHA-256 sums) cost more than the rest of a hello's
// document, and a capture sees the same few client and server stacks again
// and again. fpCache remembers them by everything they are computed from.

// fpKeyBytes bounds the key of a cached fingerprint; longer hellos (over a
// hundred cipher suites) are fingerprinted every time.
const fpKeyBytes = 768

type fpSlot struct {
	n    int // key length; 0: empty
	key  [fpKeyBytes]byte
	ja3  [32]byte // JA3 or JA3S, hex
	ja4  [36]byte // JA4 (ClientHello only)
	ja4n int
}

type fpCache struct {
	seed  maphash.Seed
	key   []byte // the key being looked up
	slots [64]fpSlot
}

// clientKey returns the key of a ClientHello: its JA3 string (version,
// cipher suites, extensions, groups and point formats, GREASE left out),
// which must be what AppendJA3 wrote, and what JA4 adds to it: the
// supported_versions and signature_algorithms lists, the first ALPN value
// and whether the hello came over QUIC.
func (c *fpCache) clientKey(h *tlshello.Hello, ja3 []byte) []byte {
	k := append(c.key[:0], 'c')
	if h.QUIC {
		k[0] = 'q'
	}
	k = append(k, ja3...)
	k = append(k, 0)
	k = appendU16s(k, h.SupportedVersions)
	k = append(k, 0)
	k = appendU16s(k, h.SignatureAlgorithms)
	if len(h.ALPN) > 0 {
		k = append(k, byte(len(h.ALPN[0])))
		k = append(k, h.ALPN[0]...)
	}
	c.key = k
	return k
}

// serverKey returns the key of a ServerHello: its JA3S string.
func (c *fpCache) serverKey(ja3s []byte) []byte {
	c.key = append(append(c.key[:0], 's'), ja3s...)
	return c.key
}

func appendU16s(dst []byte, l []uint16) []byte {
	for _, v := range l {
		dst = append(dst, byte(v>>8), byte(v))
	}
	return dst
}

// lookup returns the slot for key and whether it holds key's fingerprints.
// A slot that does not must be filled with fill before use; nil means the
// key is too long to cache.
func (c *fpCache) lookup(key []byte) (*fpSlot, bool) {
	if len(key) > fpKeyBytes {
		return nil, false
	}
	if c.seed == (maphash.Seed{}) {
		c.seed = maphash.MakeSeed()
	}
	s := &c.slots[maphash.Bytes(c.seed, key)%uint64(len(c.slots))]
	return s, s.n == len(key) && bytes.Equal(s.key[:s.n], key)
}

// fill computes the fingerprints of h into s under key: ja3 is the JA3 (or
// JA3S) string, whose MD5 is the first.
func (s *fpSlot) fill(key []byte, h *tlshello.Hello, ja3 []byte) {
	sum := md5.Sum(ja3)
	for i, b := range sum {
		s.ja3[2*i], s.ja3[2*i+1] = hexDigits[b>>4], hexDigits[b&0xf]
	}
	s.ja4n = 0
	if h.HandshakeType == tlshello.HandshakeTypeClientHello {
		s.ja4n = copy(s.ja4[:], h.AppendJA4(s.ja4[:0]))
	}
	s.n = copy(s.key[:], key)
}
