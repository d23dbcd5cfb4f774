// Package tlshello parses the TLS records of a TCP payload and,
// when it carries a ClientHello or ServerHello, the hello message, and
// computes the JA3, JA3S and JA4 fingerprints, without allocating.
//
// It is meant for packet decoders that see one segment at a time. The header
// of the first record of the payload and the first handshake message of the
// first clear-text handshake record (which may follow an Alert or a
// ChangeCipherSpec record) are decoded; an encrypted handshake record is
// recognised and passed over. A hello cut at the end of the segment (or
// continued in a further record) is decoded as far as it goes and reported
// as incomplete; the fingerprints, which need the whole extension list, are
// then not computed.
//
// JA3 and JA3S are computed as Wireshark computes tls.handshake.ja3_full and
// tls.handshake.ja3s_full: GREASE values (RFC 8701) are removed from the
// cipher suite, extension and supported group lists. JA4 follows FoxIO's
// specification (https://github.com/FoxIO-LLC/ja4, technical_details/JA4.md)
// for TLS over TCP.
//
// All byte slices in a Hello point into the payload passed to Parse and are
// valid only as long as it is; the slices are reused by the next Parse.
package tlshello

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"
)

// TLS record content types.
const (
	RecordTypeChangeCipherSpec = 20
	RecordTypeAlert            = 21
	RecordTypeHandshake        = 22
	RecordTypeApplicationData  = 23
	RecordTypeHeartbeat        = 24

	// RecordTypeSSLv2 is reported for an SSL 2.0 format ClientHello
	// record (a two byte header with the high bit set), as still sent by
	// some old clients to negotiate SSL 3.0 or TLS. It is not a value that
	// appears on the wire.
	RecordTypeSSLv2 = 128
)

// Handshake message types.
const (
	HandshakeTypeClientHello = 1
	HandshakeTypeServerHello = 2
	HandshakeTypeCertificate = 11
)

// Extension types used by the parser.
const (
	ExtServerName          = 0
	ExtSupportedGroups     = 10
	ExtECPointFormats      = 11
	ExtSignatureAlgorithms = 13
	ExtALPN                = 16
	ExtSupportedVersions   = 43
)

// maxRecordLen is the largest record length accepted: 2^14 plus the 2048
// bytes of expansion TLS 1.2 allows for ciphertext.
const maxRecordLen = 1<<14 + 2048

// Hello holds the decoded TLS record header and hello message.
//
// A Hello may be reused: Parse resets every field and reuses the backing
// arrays of the slices, so parsing does not allocate once they have grown to
// the largest lists seen.
type Hello struct {
	// RecordType and RecordVersion are the content type and version of
	// the first record; RecordLen is its declared length.
	RecordType    uint8
	RecordVersion uint16
	RecordLen     int

	// Handshake reports that a handshake record in clear text was found
	// (in any record of the payload, not only the first): the handshake
	// fields below are its first message.
	Handshake bool
	// Cut reports that the handshake record runs past the end of the
	// payload; FirstCut that the first record does. Wireshark, which
	// dissects no record it does not hold whole (without reassembly),
	// then shows nothing of it.
	Cut, FirstCut bool

	// HandshakeType is the type of the first handshake message of a
	// handshake record (1 ClientHello, 2 ServerHello, 11 Certificate, ...),
	// 0 for other records. Only hellos are decoded further.
	HandshakeType uint8
	// HandshakeLen is the declared length of the handshake message body.
	HandshakeLen int

	// Version is the legacy_version of the hello.
	Version uint16
	// Random is the 32 byte hello random (for SSL 2.0, the challenge).
	Random []byte
	// SessionID is the legacy session id.
	SessionID    []byte
	SessionIDLen int

	// CipherSuites lists all offered cipher suites of a ClientHello,
	// including GREASE values, or the one chosen by a ServerHello.
	CipherSuites []uint16
	// Compression lists the compression methods (one for a ServerHello).
	Compression []uint8
	// Extensions lists the extension types in order, including GREASE.
	Extensions []uint16

	// SNI is the first host_name of the server_name extension.
	SNI []byte
	// ALPN lists the protocol names of the ALPN extension.
	ALPN [][]byte
	// SupportedVersions lists the supported_versions extension of a
	// ClientHello, or holds the selected version of a ServerHello.
	SupportedVersions []uint16
	// Groups lists the supported_groups extension (including GREASE).
	Groups []uint16
	// PointFormats lists the ec_point_formats extension.
	PointFormats []uint8
	// SignatureAlgorithms lists the signature_algorithms extension.
	SignatureAlgorithms []uint16

	// QUIC reports that the hello came in QUIC CRYPTO frames (ParseQUIC)
	// rather than in a TLS record: it has no record header of its own, and
	// its JA4 fingerprint starts with "q" instead of "t".
	QUIC bool

	// Complete reports whether the whole hello message was present and
	// decoded, so that the fingerprints can be computed.
	Complete bool
	// Malformed reports that the data of some extension the parser
	// decodes (server_name, ALPN, ...) did not match its format. The
	// hello may still be Complete: the extension list itself was intact.
	Malformed bool

	scratch []uint16 // sorting buffer for JA4
	buf     []byte   // string buffer for the hashed fingerprints
	cache   *Cache   // see SetCache
	// the cache slot of the hello's fingerprints, valid while the slot's
	// gen is slotGen (see cached)
	slot    *cacheSlot
	slotGen uint64
}

// Reset clears h, keeping the backing arrays of its slices for reuse.
func (h *Hello) Reset() {
	*h = Hello{
		CipherSuites:        h.CipherSuites[:0],
		Compression:         h.Compression[:0],
		Extensions:          h.Extensions[:0],
		ALPN:                h.ALPN[:0],
		SupportedVersions:   h.SupportedVersions[:0],
		Groups:              h.Groups[:0],
		PointFormats:        h.PointFormats[:0],
		SignatureAlgorithms: h.SignatureAlgorithms[:0],
		scratch:             h.scratch[:0],
		buf:                 h.buf[:0],
		cache:               h.cache,
	}
}

// IsGREASE reports whether v is a GREASE value (RFC 8701): 0x0a0a, 0x1a1a,
// ..., 0xfafa.
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// reader is a bounds-checked big-endian reader over a byte slice.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.ok = false
		r.b = nil
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.ok = false
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

// bytes returns the next n bytes; if fewer remain it returns them all and
// marks the reader as short.
func (r *reader) bytes(n int) []byte {
	if n > len(r.b) {
		v := r.b
		r.ok = false
		r.b = nil
		return v
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// Parse decodes the TLS records of payload, the payload of one TCP segment,
// into h. It returns false, leaving h reset, if payload does not start with
// a plausible TLS (SSL 3.0 to TLS 1.3) record header or SSL 2.0 ClientHello.
//
// As Wireshark does for a segment on its own, the record fields are those of
// the first record, and the handshake fields those of the first handshake
// record in clear text: one after an Alert or ChangeCipherSpec record is
// found too, and an encrypted handshake record (a Finished, a renegotiation),
// whose bytes do not split into handshake messages, is passed over. A
// handshake record that runs past the end of the payload is decoded as far
// as it goes and flagged Cut: Wireshark does not dissect it at all.
func (h *Hello) Parse(payload []byte) bool {
	h.Reset()
	if len(payload) < 5 {
		return false
	}
	if payload[0]&0x80 != 0 {
		return h.parseSSLv2(payload)
	}
	for off, first := 0, true; len(payload)-off >= 5; first = false {
		b := payload[off:]
		typ, ver := b[0], binary.BigEndian.Uint16(b[1:])
		n := int(binary.BigEndian.Uint16(b[3:]))
		if typ < RecordTypeChangeCipherSpec || typ > RecordTypeHeartbeat || ver>>8 != 3 || ver&0xff > 4 || n == 0 || n > maxRecordLen {
			if first {
				return false
			}
			break
		}
		if first {
			h.RecordType, h.RecordVersion, h.RecordLen = typ, ver, n
		}
		rec := b[5:]
		cut := len(rec) < n
		if !cut {
			rec = rec[:n]
		}
		if typ == RecordTypeHandshake && len(rec) > 0 && plaintext(rec, cut) {
			h.Handshake, h.Cut, h.FirstCut = true, cut, cut && first
			h.handshake(rec)
			break
		}
		if cut {
			h.FirstCut = first
			break
		}
		off += 5 + n
	}
	return true
}

// plaintext reports whether rec, the body of a handshake record (cut short
// at the end of the segment if cut), is in clear text: it splits into
// handshake messages of known types, each a type byte and a 3-byte length,
// what an encrypted handshake record (Finished, a renegotiation) almost
// never does. A record starting with a whole ClientHello or ServerHello
// counts even if a damaged message follows, which tshark dissects too.
func plaintext(rec []byte, cut bool) bool {
	for first := true; len(rec) > 0; first = false {
		if len(rec) < 4 {
			return cut
		}
		switch rec[0] {
		case 0, 1, 2, 3, 4, 5, 6, 8, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 254:
		default:
			return false
		}
		n := 4 + (int(rec[1])<<16 | int(rec[2])<<8 | int(rec[3]))
		if n > len(rec) {
			return cut
		}
		if first && (rec[0] == HandshakeTypeClientHello || rec[0] == HandshakeTypeServerHello) {
			return true
		}
		rec = rec[n:]
	}
	return true
}

// ParseQUIC decodes a handshake message carried in QUIC CRYPTO frames (RFC
// 9001), such as the ClientHello of a QUIC Initial: no TLS record is around
// it, so RecordVersion and RecordLen stay 0 (RecordType says handshake). It
// returns false, leaving h reset, for an empty message.
func (h *Hello) ParseQUIC(msg []byte) bool {
	h.Reset()
	if len(msg) == 0 {
		return false
	}
	h.QUIC, h.RecordType, h.Handshake = true, RecordTypeHandshake, true
	h.handshake(msg)
	return true
}

// handshake decodes the handshake message at the start of rec (at least
// one byte): its type and length, and the hello it holds.
func (h *Hello) handshake(rec []byte) {
	h.HandshakeType = rec[0]
	if len(rec) < 4 {
		return
	}
	h.HandshakeLen = int(rec[1])<<16 | int(rec[2])<<8 | int(rec[3])
	body := rec[4:]
	whole := len(body) >= h.HandshakeLen
	if whole {
		body = body[:h.HandshakeLen]
	}
	var ok bool
	switch h.HandshakeType {
	case HandshakeTypeClientHello:
		ok = h.parseHello(body, true)
	case HandshakeTypeServerHello:
		ok = h.parseHello(body, false)
	default:
		return
	}
	h.Complete = ok && whole
}

// parseSSLv2 decodes an SSL 2.0 format ClientHello (RFC 6101 appendix E).
func (h *Hello) parseSSLv2(p []byte) bool {
	n := int(binary.BigEndian.Uint16(p)&0x7fff) + 2
	if p[2] != HandshakeTypeClientHello || n < 11 {
		return false
	}
	ver := binary.BigEndian.Uint16(p[3:])
	if ver != 0x0002 && (ver>>8 != 3 || ver&0xff > 4) {
		return false
	}
	h.RecordType, h.RecordVersion, h.RecordLen = RecordTypeSSLv2, 0x0002, n-2
	h.Handshake, h.Cut, h.FirstCut = true, len(p) < n, len(p) < n
	h.HandshakeType, h.HandshakeLen, h.Version = HandshakeTypeClientHello, n-3, ver
	if len(p) < 11 {
		return true
	}
	csLen := int(binary.BigEndian.Uint16(p[5:]))
	sidLen := int(binary.BigEndian.Uint16(p[7:]))
	chLen := int(binary.BigEndian.Uint16(p[9:]))
	if csLen%3 != 0 || 11+csLen+sidLen+chLen != n {
		h.Reset()
		return false
	}
	r := reader{b: p[11:min(len(p), n)], ok: true}
	cs := r.bytes(csLen)
	for i := 0; i+3 <= len(cs); i += 3 {
		if cs[i] == 0 { // SSL 3.0/TLS suites in SSL 2.0 cipher spec form
			h.CipherSuites = append(h.CipherSuites, uint16(cs[i+1])<<8|uint16(cs[i+2]))
		}
	}
	h.SessionID = r.bytes(sidLen)
	h.SessionIDLen = sidLen
	h.Random = r.bytes(chLen)
	h.Complete = r.ok
	return true
}

// parseHello decodes a ClientHello or ServerHello body. It returns whether
// the body was well formed up to its end.
func (h *Hello) parseHello(body []byte, client bool) bool {
	r := reader{b: body, ok: true}
	h.Version = r.u16()
	h.Random = r.bytes(32)
	// ServerHellos of TLS 1.3 drafts before 22 have neither a session id
	// nor a compression method.
	draft := !client && h.Version>>8 == 0x7f && h.Version&0xff < 22
	if !draft {
		sid := int(r.u8())
		h.SessionIDLen = sid
		h.SessionID = r.bytes(sid)
	}
	if !r.ok {
		return false
	}
	if client {
		n := int(r.u16())
		cs := r.bytes(n)
		for i := 0; i+2 <= len(cs); i += 2 {
			h.CipherSuites = append(h.CipherSuites, binary.BigEndian.Uint16(cs[i:]))
		}
		if !r.ok || n%2 != 0 {
			return false
		}
		h.Compression = append(h.Compression, r.bytes(int(r.u8()))...)
	} else {
		cs := r.u16()
		if !r.ok {
			return false
		}
		h.CipherSuites = append(h.CipherSuites, cs)
		if !draft {
			h.Compression = append(h.Compression, r.u8())
		}
	}
	if !r.ok {
		return false
	}
	if len(r.b) == 0 {
		return true // no extensions
	}
	exts := r.bytes(int(r.u16()))
	ok := r.ok
	er := reader{b: exts, ok: true}
	for len(er.b) > 0 {
		if len(er.b) < 4 {
			return false
		}
		typ := er.u16()
		n := int(er.u16())
		// Record the type even if the data is cut short.
		h.Extensions = append(h.Extensions, typ)
		if n > len(er.b) {
			return false
		}
		if !h.extension(typ, er.bytes(n), client) {
			h.Malformed = true
		}
	}
	return ok
}

// extension decodes the data of one extension. It returns false if the data
// is malformed.
func (h *Hello) extension(typ uint16, data []byte, client bool) bool {
	r := reader{b: data, ok: true}
	switch typ {
	case ExtServerName:
		if !client {
			return true // empty in a ServerHello
		}
		list := reader{b: r.bytes(int(r.u16())), ok: true}
		for len(list.b) > 0 {
			nt := list.u8()
			name := list.bytes(int(list.u16()))
			if !list.ok {
				return false
			}
			if nt == 0 && h.SNI == nil {
				h.SNI = name
			}
		}
	case ExtALPN:
		list := reader{b: r.bytes(int(r.u16())), ok: true}
		for len(list.b) > 0 {
			p := list.bytes(int(list.u8()))
			if !list.ok {
				return false
			}
			h.ALPN = append(h.ALPN, p)
		}
	case ExtSupportedVersions:
		if !client {
			h.SupportedVersions = append(h.SupportedVersions, r.u16())
			break
		}
		l := r.bytes(int(r.u8()))
		for i := 0; i+2 <= len(l); i += 2 {
			h.SupportedVersions = append(h.SupportedVersions, binary.BigEndian.Uint16(l[i:]))
		}
	case ExtSupportedGroups:
		l := r.bytes(int(r.u16()))
		for i := 0; i+2 <= len(l); i += 2 {
			h.Groups = append(h.Groups, binary.BigEndian.Uint16(l[i:]))
		}
	case ExtECPointFormats:
		h.PointFormats = append(h.PointFormats, r.bytes(int(r.u8()))...)
	case ExtSignatureAlgorithms:
		if !client {
			return true
		}
		l := r.bytes(int(r.u16()))
		for i := 0; i+2 <= len(l); i += 2 {
			h.SignatureAlgorithms = append(h.SignatureAlgorithms, binary.BigEndian.Uint16(l[i:]))
		}
	default:
		return true
	}
	return r.ok
}

// fingerprintable reports whether h holds a complete hello of the given type
// in TLS record format.
func (h *Hello) fingerprintable(typ uint8) bool {
	return h.Complete && h.Handshake && h.HandshakeType == typ && h.RecordType != RecordTypeSSLv2
}

// appendDecList appends the non-GREASE values of l in decimal, separated by
// dashes.
func appendDecList(dst []byte, l []uint16) []byte {
	first := true
	for _, v := range l {
		if IsGREASE(v) {
			continue
		}
		if !first {
			dst = append(dst, '-')
		}
		first = false
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	return dst
}

// AppendJA3 appends the JA3 string of a complete ClientHello to dst
// ("771,4865-4866-...,0-23-...,29-23-24,0"), as Wireshark's
// tls.handshake.ja3_full. It returns dst unchanged if h is not a complete
// ClientHello.
func (h *Hello) AppendJA3(dst []byte) []byte {
	if !h.fingerprintable(HandshakeTypeClientHello) {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(h.Version), 10)
	dst = append(dst, ',')
	dst = appendDecList(dst, h.CipherSuites)
	dst = append(dst, ',')
	dst = appendDecList(dst, h.Extensions)
	dst = append(dst, ',')
	dst = appendDecList(dst, h.Groups)
	dst = append(dst, ',')
	for i, v := range h.PointFormats {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	return dst
}

// AppendJA3S appends the JA3S string of a complete ServerHello to dst
// ("771,4865,43-51"), as Wireshark's tls.handshake.ja3s_full. It returns dst
// unchanged if h is not a complete ServerHello.
func (h *Hello) AppendJA3S(dst []byte) []byte {
	if !h.fingerprintable(HandshakeTypeServerHello) {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(h.Version), 10)
	dst = append(dst, ',')
	dst = appendDecList(dst, h.CipherSuites)
	dst = append(dst, ',')
	return appendDecList(dst, h.Extensions)
}

const hexDigits = "0123456789abcdef"

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// AppendJA3Hash appends the JA3 fingerprint (the lower-case hex MD5 of the
// JA3 string, Wireshark's tls.handshake.ja3) to dst. It returns dst
// unchanged if h is not a complete ClientHello.
func (h *Hello) AppendJA3Hash(dst []byte) []byte {
	if !h.fingerprintable(HandshakeTypeClientHello) {
		return dst
	}
	if s := h.cached(); s != nil {
		return append(dst, s.ja3[:]...)
	}
	return h.appendJA3Hash(dst)
}

func (h *Hello) appendJA3Hash(dst []byte) []byte {
	h.buf = h.AppendJA3(h.buf[:0])
	sum := md5.Sum(h.buf)
	return appendHex(dst, sum[:])
}

// AppendJA3SHash appends the JA3S fingerprint (the lower-case hex MD5 of the
// JA3S string, Wireshark's tls.handshake.ja3s) to dst. It returns dst
// unchanged if h is not a complete ServerHello.
func (h *Hello) AppendJA3SHash(dst []byte) []byte {
	if !h.fingerprintable(HandshakeTypeServerHello) {
		return dst
	}
	if s := h.cached(); s != nil {
		return append(dst, s.ja3[:]...)
	}
	return h.appendJA3SHash(dst)
}

func (h *Hello) appendJA3SHash(dst []byte) []byte {
	h.buf = h.AppendJA3S(h.buf[:0])
	sum := md5.Sum(h.buf)
	return appendHex(dst, sum[:])
}

// ja4Version maps a protocol version to its JA4 code.
func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func appendCount(dst []byte, n int) []byte {
	n = min(n, 99)
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

func appendHex16(dst []byte, v uint16) []byte {
	return append(dst, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
}

// appendHexList appends the non-GREASE values of l as comma separated
// 4-digit lower-case hex values.
func appendHexList(dst []byte, l []uint16) []byte {
	first := true
	for _, v := range l {
		if IsGREASE(v) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendHex16(dst, v)
	}
	return dst
}

// hasNonGREASE reports whether l holds a value that is not GREASE.
func hasNonGREASE(l []uint16) bool {
	for _, v := range l {
		if !IsGREASE(v) {
			return true
		}
	}
	return false
}

// JA4 output forms.
const (
	ja4Hashed   = iota // JA4: sorted lists, hashed
	ja4Raw             // JA4_r: sorted lists, not hashed
	ja4Original        // JA4_o: original order, hashed
)

// AppendJA4 appends the JA4 fingerprint of a complete ClientHello to dst
// ("t13d1516h2_8daaf6152771_b186095e22b6"; "q13..." for a hello carried
// by QUIC). It returns dst
// unchanged if h is not a complete ClientHello.
func (h *Hello) AppendJA4(dst []byte) []byte {
	if h.fingerprintable(HandshakeTypeClientHello) {
		if s := h.cached(); s != nil {
			return append(dst, s.ja4[:s.ja4n]...)
		}
	}
	return h.appendJA4(dst, ja4Hashed)
}

// AppendJA4R appends the raw JA4 fingerprint (JA4_r: the sorted cipher and
// extension lists and the signature algorithms in hex instead of their
// hashes) to dst. It returns dst unchanged if h is not a complete
// ClientHello.
func (h *Hello) AppendJA4R(dst []byte) []byte { return h.appendJA4(dst, ja4Raw) }

// AppendJA4O appends the JA4_o fingerprint (ciphers and extensions hashed
// in their original order, SNI and ALPN extensions included) to dst. It
// returns dst unchanged if h is not a complete ClientHello.
func (h *Hello) AppendJA4O(dst []byte) []byte { return h.appendJA4(dst, ja4Original) }

func (h *Hello) appendJA4(dst []byte, form int) []byte {
	if !h.fingerprintable(HandshakeTypeClientHello) {
		return dst
	}
	// Part a.
	ver := h.Version
	if len(h.SupportedVersions) > 0 {
		ver = 0
		for _, v := range h.SupportedVersions {
			if !IsGREASE(v) && v > ver {
				ver = v
			}
		}
	}
	hasSNI := false
	nExt := 0
	for _, e := range h.Extensions {
		if IsGREASE(e) {
			continue
		}
		nExt++
		if e == ExtServerName {
			hasSNI = true
		}
	}
	nCS := 0
	for _, c := range h.CipherSuites {
		if !IsGREASE(c) {
			nCS++
		}
	}
	if h.QUIC {
		dst = append(dst, 'q')
	} else {
		dst = append(dst, 't')
	}
	dst = append(dst, ja4Version(ver)...)
	if hasSNI {
		dst = append(dst, 'd')
	} else {
		dst = append(dst, 'i')
	}
	dst = appendCount(dst, nCS)
	dst = appendCount(dst, nExt)
	if len(h.ALPN) == 0 || len(h.ALPN[0]) == 0 {
		dst = append(dst, '0', '0')
	} else if a := h.ALPN[0]; isAlnum(a[0]) && isAlnum(a[len(a)-1]) {
		dst = append(dst, a[0], a[len(a)-1])
	} else {
		dst = append(dst, hexDigits[a[0]>>4], hexDigits[a[len(a)-1]&0xf])
	}

	// Part b: cipher suites.
	dst = append(dst, '_')
	s := h.scratch[:0]
	for _, c := range h.CipherSuites {
		if !IsGREASE(c) {
			s = append(s, c)
		}
	}
	if form != ja4Original {
		slices.Sort(s)
	}
	if form == ja4Raw {
		dst = appendHexList(dst, s)
	} else {
		dst = h.appendTruncSHA256(dst, s, nil)
	}

	// Part c: extensions and signature algorithms.
	dst = append(dst, '_')
	s = s[:0]
	for _, e := range h.Extensions {
		if IsGREASE(e) || form != ja4Original && (e == ExtServerName || e == ExtALPN) {
			continue
		}
		s = append(s, e)
	}
	if form != ja4Original {
		slices.Sort(s)
	}
	if form == ja4Raw {
		dst = appendHexList(dst, s)
		if hasNonGREASE(h.SignatureAlgorithms) {
			dst = append(dst, '_')
			dst = appendHexList(dst, h.SignatureAlgorithms)
		}
	} else {
		dst = h.appendTruncSHA256(dst, s, h.SignatureAlgorithms)
	}
	h.scratch = s
	return dst
}

// appendTruncSHA256 appends the first 12 hex digits of the SHA-256 of the
// comma separated hex list l, followed by "_" and the list sig if sig is not
// empty; or "000000000000" if l is empty.
func (h *Hello) appendTruncSHA256(dst []byte, l, sig []uint16) []byte {
	if len(l) == 0 {
		return append(dst, "000000000000"...)
	}
	b := appendHexList(h.buf[:0], l)
	if hasNonGREASE(sig) {
		b = append(b, '_')
		b = appendHexList(b, sig)
	}
	h.buf = b
	sum := sha256.Sum256(b)
	return appendHex(dst, sum[:6])
}
