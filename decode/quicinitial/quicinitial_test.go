package quicinitial

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refKeys derives the client Initial key, iv and hp with crypto/hkdf, as an
// independent reference for the parser's allocation-free HKDF.
func refKeys(t testing.TB, vi *versionInfo, dcid []byte) (key, iv, hp []byte) {
	t.Helper()
	label := func(l string, n int) string {
		b := binary.BigEndian.AppendUint16(nil, uint16(n))
		b = append(b, byte(6+len(l)))
		b = append(b, "tls13 "+l...)
		return string(append(b, 0))
	}
	prk, err := hkdf.Extract(sha256.New, dcid, vi.salt)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := hkdf.Expand(sha256.New, prk, label("client in", 32), 32)
	if err != nil {
		t.Fatal(err)
	}
	exp := func(l string, n int) []byte {
		b, err := hkdf.Expand(sha256.New, secret, label(l, n), n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return exp(vi.keyLabel, 16), exp(vi.ivLabel, 12), exp(vi.hpLabel, 16)
}

func TestKeysRFC(t *testing.T) {
	dcid := unhex(t, rfcDCID)
	for _, tc := range []struct {
		name        string
		vi          *versionInfo
		key, iv, hp string
	}{
		{"v1 RFC 9001 A.1", &infoV1, v1ClientKey, v1ClientIV, v1ClientHP},
		{"v2 RFC 9369 A.1", &infoV2, v2ClientKey, v2ClientIV, v2ClientHP},
	} {
		var k kdf
		var key, hp [16]byte
		var iv [12]byte
		k.initial(tc.vi, dcid, "client in", &key, &iv, &hp)
		if got := hex.EncodeToString(key[:]); got != tc.key {
			t.Errorf("%s: key %s, want %s", tc.name, got, tc.key)
		}
		if got := hex.EncodeToString(iv[:]); got != tc.iv {
			t.Errorf("%s: iv %s, want %s", tc.name, got, tc.iv)
		}
		if got := hex.EncodeToString(hp[:]); got != tc.hp {
			t.Errorf("%s: hp %s, want %s", tc.name, got, tc.hp)
		}
		rk, riv, rhp := refKeys(t, tc.vi, dcid)
		if hex.EncodeToString(rk) != tc.key || hex.EncodeToString(riv) != tc.iv || hex.EncodeToString(rhp) != tc.hp {
			t.Errorf("%s: crypto/hkdf reference disagrees with the RFC", tc.name)
		}
	}
}

// TestKeysMatchHKDF compares the allocation-free HKDF with crypto/hkdf for
// every version and connection ID lengths 0 to 20.
func TestKeysMatchHKDF(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, vi := range []*versionInfo{&infoV1, &infoV2, &infoDraft29} {
		for n := 0; n <= 20; n++ {
			dcid := make([]byte, n)
			for i := range dcid {
				dcid[i] = byte(r.Uint32())
			}
			var k kdf
			var key, hp [16]byte
			var iv [12]byte
			k.initial(vi, dcid, "client in", &key, &iv, &hp)
			rk, riv, rhp := refKeys(t, vi, dcid)
			if !bytes.Equal(key[:], rk) || !bytes.Equal(iv[:], riv) || !bytes.Equal(hp[:], rhp) {
				t.Fatalf("%s dcid %x: keys differ from crypto/hkdf", vi.keyLabel, dcid)
			}
		}
	}
}

func TestRFCClientInitial(t *testing.T) {
	frame := unhex(t, rfcCryptoFrame)
	hello := frame[4:] // 06 00 40f1: CRYPTO, offset 0, length 241
	for _, tc := range []struct {
		name    string
		pkt     string
		version uint32
	}{
		{"RFC 9001 A.2 (v1)", rfc9001ClientInitial, Version1},
		{"RFC 9369 A.2 (v2)", rfc9369ClientInitial, Version2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := unhex(t, tc.pkt)
			orig := bytes.Clone(pkt)
			if !IsLongHeaderInitial(pkt) {
				t.Fatal("IsLongHeaderInitial = false")
			}
			var p Parser
			var in Initial
			if err := p.Parse(pkt, &in); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pkt, orig) {
				t.Error("Parse modified its input")
			}
			// The decrypted payload: the CRYPTO frame, then PADDING.
			if len(p.plain) != 1162 || !bytes.Equal(p.plain[:len(frame)], frame) {
				t.Fatalf("payload %d bytes, starts %x, want the RFC CRYPTO frame", len(p.plain), p.plain[:min(len(p.plain), 16)])
			}
			if bytes.ContainsFunc(p.plain[len(frame):], func(r rune) bool { return r != 0 }) {
				t.Error("padding is not all zero")
			}
			if in.Version != tc.version || hex.EncodeToString(in.DCID) != rfcDCID || len(in.SCID) != 0 || in.Packets != 1 {
				t.Errorf("header: version %#x dcid %x scid %x packets %d", in.Version, in.DCID, in.SCID, in.Packets)
			}
			if !in.Complete || !bytes.Equal(in.ClientHello, hello) {
				t.Errorf("ClientHello complete=%v %x, want %x", in.Complete, in.ClientHello, hello)
			}
			if sni, _ := serverName(in.ClientHello); sni != "example.com" {
				t.Errorf("SNI %q, want example.com", sni)
			}
		})
	}
}

func TestRFCErrors(t *testing.T) {
	v1 := unhex(t, rfc9001ClientInitial)
	var p Parser
	var in Initial
	check := func(name string, b []byte, want error) {
		t.Helper()
		if err := p.Parse(b, &in); !errors.Is(err, want) {
			t.Errorf("%s: error %v, want %v", name, err, want)
		}
	}
	// A server Initial is protected with the server keys.
	check("server Initial", unhex(t, rfc9001ServerInitial), ErrDecrypt)
	for _, i := range []int{0, 3, 10, 20, 100, 1199} {
		b := bytes.Clone(v1)
		b[i] ^= 0x40
		want := ErrDecrypt
		switch i {
		case 0: // turns the fixed bit off: still an Initial, fails the AEAD
		case 3: // version 0x00400001: unknown
			want = ErrNotInitial
		}
		check("flipped byte", b, want)
	}
	check("truncated", v1[:1100], ErrTruncated)
	check("header only", v1[:18], ErrTruncated)
	check("empty", nil, ErrNotInitial)
	check("short header", []byte{0x40, 1, 2, 3}, ErrNotInitial)
	hs := bytes.Clone(v1)
	hs[0] = 0xe0 // Handshake
	check("handshake", hs, ErrNotInitial)
	if IsLongHeaderInitial(hs) || IsLongHeaderInitial(v1[:6]) {
		t.Error("IsLongHeaderInitial accepted a Handshake packet or 6 bytes")
	}
}

// seal builds a protected Initial packet of version vi/version carrying
// payload (padded to at least 20 bytes), with keys from crypto/hkdf.
func seal(t testing.TB, version uint32, dcid, scid []byte, pn uint32, payload []byte) []byte {
	t.Helper()
	vi := lookupVersion(version)
	key, iv, hp := refKeys(t, vi, dcid)
	for len(payload) < 20 {
		payload = append(payload, 0)
	}
	hdr := []byte{0xc3 | vi.initialType<<4}
	hdr = binary.BigEndian.AppendUint32(hdr, version)
	hdr = append(hdr, byte(len(dcid)))
	hdr = append(hdr, dcid...)
	hdr = append(hdr, byte(len(scid)))
	hdr = append(hdr, scid...)
	hdr = append(hdr, 0)                                                       // token length
	hdr = binary.BigEndian.AppendUint16(hdr, 0x4000|uint16(4+len(payload)+16)) // length
	pnOff := len(hdr)
	hdr = binary.BigEndian.AppendUint32(hdr, pn)
	blk, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(blk)
	nonce := bytes.Clone(iv)
	for i := 0; i < 4; i++ {
		nonce[8+i] ^= byte(pn >> (24 - 8*i))
	}
	pkt := aead.Seal(hdr, nonce, payload, hdr)
	hpb, _ := aes.NewCipher(hp)
	var mask [16]byte
	hpb.Encrypt(mask[:], pkt[pnOff+4:pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := 0; i < 4; i++ {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pkt
}

func cryptoFrame(off int, data []byte) []byte {
	b := []byte{0x06}
	b = binary.BigEndian.AppendUint32(b, 0x80000000|uint32(off))
	b = binary.BigEndian.AppendUint16(b, 0x4000|uint16(len(data)))
	return append(b, data...)
}

// fakeHello returns a ClientHello handshake message of about n bytes
// naming sni.
func fakeHello(sni string, n int) []byte {
	name := []byte(sni)
	ext := binary.BigEndian.AppendUint16(nil, 0) // server_name
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)+5))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)+3))
	ext = append(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(name)))
	ext = append(ext, name...)
	if pad := n - len(ext) - 50; pad > 4 { // padding extension
		ext = binary.BigEndian.AppendUint16(ext, 21)
		ext = binary.BigEndian.AppendUint16(ext, uint16(pad-4))
		ext = append(ext, make([]byte, pad-4)...)
	}
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...)       // random
	body = append(body, 0, 0, 2, 0x13, 0x01, 1, 0) // session id, ciphers, compression
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

func TestSynthetic(t *testing.T) {
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	scid := []byte{9, 9}
	hello := fakeHello("synthetic.example", 1500)
	var p Parser
	var in Initial
	for _, version := range []uint32{Version1, Version2, VersionDraft29} {
		// Out of order CRYPTO frames with ACK, PING and an overlap.
		// PING; ACK largest 5, delay 0, 1 more range, first range 0,
		// gap 1, range 2.
		payload := []byte{0x01, 0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x02}
		payload = append(payload, cryptoFrame(600, hello[600:900])...)
		payload = append(payload, cryptoFrame(0, hello[:700])...)
		payload = append(payload, 0x00, 0x00)
		payload = append(payload, cryptoFrame(900, hello[900:1000])...)
		pkt1 := seal(t, version, dcid, scid, 0, payload)
		// A second coalesced Initial with the rest, then a Handshake
		// packet and a 1-RTT packet.
		pkt2 := seal(t, version, dcid, scid, 1, cryptoFrame(1000, hello[1000:]))
		vi := lookupVersion(version)
		hs := append([]byte{0xc0 | ((vi.initialType+2)&3)<<4}, pkt2[1:]...)
		dgram := append(append(append(bytes.Clone(pkt1), pkt2...), hs...), 0x40, 1, 2, 3)
		if err := p.Parse(dgram, &in); err != nil {
			t.Fatalf("%#x: %v", version, err)
		}
		if !in.Complete || !bytes.Equal(in.ClientHello, hello) || in.Packets != 2 || in.Version != version {
			t.Fatalf("%#x: complete=%v packets=%d len %d, want %d", version, in.Complete, in.Packets, len(in.ClientHello), len(hello))
		}
		// The first packet alone: incomplete, 1000 bytes.
		if err := p.Parse(pkt1, &in); err != nil || in.Complete || !bytes.Equal(in.ClientHello, hello[:1000]) {
			t.Fatalf("%#x: first packet alone: err %v complete=%v len %d", version, err, in.Complete, len(in.ClientHello))
		}
		if sni, _ := serverName(in.ClientHello); sni != "synthetic.example" {
			t.Errorf("partial hello SNI %q", sni)
		}
		// The second alone: no data at offset 0.
		if err := p.Parse(pkt2, &in); err != nil || in.Complete || len(in.ClientHello) != 0 || in.Packets != 1 {
			t.Fatalf("%#x: second packet alone: err %v complete=%v len %d", version, err, in.Complete, len(in.ClientHello))
		}
	}
	// A frame other than PADDING, PING, ACK and CRYPTO ends the walk.
	payload := append(cryptoFrame(0, hello[:500]), 0x1c, 0, 0, 0)
	payload = append(payload, cryptoFrame(500, hello[500:])...)
	if err := p.Parse(seal(t, Version1, dcid, nil, 7, payload), &in); err != nil || in.Complete || len(in.ClientHello) != 500 {
		t.Errorf("CONNECTION_CLOSE: err %v complete=%v len %d", err, in.Complete, len(in.ClientHello))
	}
	// CRYPTO data that is not a ClientHello.
	if err := p.Parse(seal(t, Version1, dcid, nil, 0, cryptoFrame(0, []byte{2, 0, 0, 1, 0})), &in); !errors.Is(err, ErrMalformed) {
		t.Errorf("ServerHello in CRYPTO: %v", err)
	}
	// A CRYPTO frame running past the payload.
	bad := cryptoFrame(0, hello[:100])
	bad = bad[:50]
	if err := p.Parse(seal(t, Version1, dcid, nil, 0, bad), &in); !errors.Is(err, ErrMalformed) {
		t.Errorf("cut CRYPTO frame: %v", err)
	}
	// The cache holds several connection IDs and evicts the oldest.
	for i := range 3 * cacheSize {
		d := []byte{byte(i), 1, 2, 3, 4, 5, 6, 7}
		pkt := seal(t, Version1, d, nil, 0, cryptoFrame(0, hello))
		for range 2 {
			if err := p.Parse(pkt, &in); err != nil || !in.Complete {
				t.Fatalf("dcid %x: %v", d, err)
			}
		}
	}
}

func TestAllocs(t *testing.T) {
	pkt := unhex(t, rfc9001ClientInitial)
	var p Parser
	var in Initial
	if err := p.Parse(pkt, &in); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Parse(pkt, &in) }); n != 0 {
		t.Errorf("Parse with cached keys: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = IsLongHeaderInitial(pkt) }); n != 0 {
		t.Errorf("IsLongHeaderInitial: %v allocs", n)
	}
	// Several out-of-order CRYPTO frames in two coalesced packets.
	hello := fakeHello("allocs.example", 1500)
	var payload []byte
	for off := 1400; off >= 0; off -= 100 {
		payload = append(payload, cryptoFrame(off, hello[off:min(off+100, 1400)])...)
	}
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	multi := append(seal(t, Version1, dcid, nil, 0, payload), seal(t, Version1, dcid, nil, 1, cryptoFrame(1400, hello[1400:]))...)
	if err := p.Parse(multi, &in); err != nil || !in.Complete || in.Packets != 2 {
		t.Fatalf("multi: %v complete %v", err, in.Complete)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Parse(multi, &in) }); n != 0 {
		t.Errorf("Parse of 16 CRYPTO frames in 2 packets: %v allocs, want 0", n)
	}
	srv := unhex(t, rfc9001ServerInitial)
	_ = p.Parse(srv, &in)
	if n := testing.AllocsPerRun(100, func() { _ = p.Parse(srv, &in) }); n != 0 {
		t.Errorf("Parse failing authentication: %v allocs, want 0", n)
	}
	// A new connection ID: the cipher objects are created.
	p.noCache = true
	n := testing.AllocsPerRun(100, func() { _ = p.Parse(pkt, &in) })
	t.Logf("Parse with key derivation and cipher creation: %v allocs", n)
	if n > 8 {
		t.Errorf("Parse with a new connection ID: %v allocs, want at most 8", n)
	}
}

// serverName returns the host_name of the server_name extension of a
// ClientHello handshake message, parsing as far as msg goes; found reports
// that the extension was reached.
func serverName(msg []byte) (name string, found bool) {
	if len(msg) < 4 || msg[0] != 1 {
		return "", false
	}
	b := msg[4:]
	skip := func(n int) bool {
		if len(b) < n {
			return false
		}
		b = b[n:]
		return true
	}
	vec := func(lenBytes int) bool {
		if len(b) < lenBytes {
			return false
		}
		n := 0
		for i := 0; i < lenBytes; i++ {
			n = n<<8 | int(b[i])
		}
		return skip(lenBytes + n)
	}
	if !skip(2+32) || !vec(1) || !vec(2) || !vec(1) || !skip(2) {
		return "", false
	}
	for len(b) >= 4 {
		typ, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		b = b[4:]
		if len(b) < n {
			return "", false
		}
		if typ == 0 {
			e := b[:n]
			if len(e) < 5 || e[2] != 0 {
				return "", true
			}
			l := int(binary.BigEndian.Uint16(e[3:]))
			if len(e) < 5+l {
				return "", true
			}
			return string(e[5 : 5+l]), true
		}
		b = b[n:]
	}
	return "", false
}

// TestServerKeysRFC checks the server's Initial keys against RFC 9001 A.1.
func TestServerKeysRFC(t *testing.T) {
	var k kdf
	var key, hp [16]byte
	var iv [12]byte
	k.initial(&infoV1, unhex(t, rfcDCID), "server in", &key, &iv, &hp)
	for _, c := range []struct{ name, got, want string }{
		{"key", hex.EncodeToString(key[:]), "cf3a5331653c364c88f0f379b6067e37"},
		{"iv", hex.EncodeToString(iv[:]), "0ac1493ca1905853b0bba03e"},
		{"hp", hex.EncodeToString(hp[:]), "c206b8d9b9f0f37644430b490eeaa314"},
	} {
		if c.got != c.want {
			t.Errorf("server %s %s, want %s", c.name, c.got, c.want)
		}
	}
}

// TestParseServerRFC decrypts the server Initial of RFC 9001 A.3 with the
// client's Destination Connection ID of A.2: its CRYPTO frame holds the
// ServerHello (legacy version 0x0303, cipher suite 0x1301).
func TestParseServerRFC(t *testing.T) {
	var p Parser
	var in Initial
	if err := p.ParseServer(unhex(t, rfc9001ServerInitial), unhex(t, rfcDCID), &in); err != nil {
		t.Fatal(err)
	}
	h := in.ServerHello
	if len(h) < 4+2+32+1 || h[0] != 2 || !in.Complete || len(in.ClientHello) != 0 {
		t.Fatalf("ServerHello %x (complete %v, ClientHello %d bytes)", h[:min(len(h), 8)], in.Complete, len(in.ClientHello))
	}
	if h[4] != 3 || h[5] != 3 {
		t.Errorf("legacy version %x%x, want 0303", h[4], h[5])
	}
	sid := int(h[4+2+32])
	if o := 4 + 2 + 32 + 1 + sid; len(h) < o+2 || h[o] != 0x13 || h[o+1] != 0x01 {
		t.Errorf("cipher suite not 1301: %x", h)
	}
	if err := p.Parse(unhex(t, rfc9001ServerInitial), &in); err == nil && len(in.ClientHello) > 0 {
		t.Error("the server Initial decrypted with the client's keys")
	}
}
