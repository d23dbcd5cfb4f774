package tlshello

import (
	"bytes"
	"encoding/binary"
	"testing"
)

type ext struct {
	typ  uint16
	data []byte
}

func u16s(v ...uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func vec16(b []byte) []byte { return append(u16s(uint16(len(b))), b...) }
func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }

// clientHello builds a TLS record holding a ClientHello.
func clientHello(ver uint16, ciphers []uint16, exts []ext) []byte {
	var body []byte
	body = append(body, u16s(ver)...)
	body = append(body, bytes.Repeat([]byte{0x11}, 32)...)
	body = append(body, vec8(bytes.Repeat([]byte{0x22}, 32))...)
	body = append(body, vec16(u16s(ciphers...))...)
	body = append(body, 1, 0)
	var eb []byte
	for _, e := range exts {
		eb = append(eb, u16s(e.typ)...)
		eb = append(eb, vec16(e.data)...)
	}
	body = append(body, vec16(eb)...)
	hs := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{22, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

func sni(name string) []byte { return vec16(append([]byte{0}, vec16([]byte(name))...)) }

func alpn(protos ...string) []byte {
	var l []byte
	for _, p := range protos {
		l = append(l, vec8([]byte(p))...)
	}
	return vec16(l)
}

// specHello is the example ClientHello of FoxIO's JA4 technical details:
// ciphers 1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,
// 002f,0035 and extensions 001b,0000,0033,0010,4469,0017,002d,000d,0005,
// 0023,0012,002b,ff01,000b,000a,0015, plus GREASE values that must be
// ignored.
func specHello(sigs []uint16) []byte {
	sigExt := vec16(u16s(sigs...))
	return clientHello(0x0303,
		[]uint16{0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		[]ext{
			{0x2a2a, nil},
			{0x001b, []byte{2, 0, 2}},
			{0x0000, sni("example.com")},
			{0x0033, nil},
			{0x0010, alpn("h2", "http/1.1")},
			{0x4469, nil},
			{0x0017, nil},
			{0x002d, []byte{1, 1}},
			{0x000d, sigExt},
			{0x0005, nil},
			{0x0023, nil},
			{0x0012, nil},
			{0x002b, vec8(u16s(0x7a7a, 0x0304, 0x0303))},
			{0xff01, []byte{0}},
			{0x000b, vec8([]byte{0})},
			{0x000a, vec16(u16s(0x4a4a, 0x001d, 0x0017, 0x0018))},
			{0x0015, nil},
			{0xfafa, []byte{0}},
		})
}

var specSigs = []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}

func TestJA4Spec(t *testing.T) {
	var h Hello
	if !h.Parse(specHello(specSigs)) || !h.Complete || h.Malformed {
		t.Fatalf("parse: %+v", h)
	}
	for _, c := range []struct{ name, got, want string }{
		{"JA4", string(h.AppendJA4(nil)), "t13d1516h2_8daaf6152771_e5627efa2ab1"},
		{"JA4_r", string(h.AppendJA4R(nil)), "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"},
		{"JA4_o", string(h.AppendJA4O(nil)), "t13d1516h2_acb858a92679_18f69afefd3d"},
		{"SNI", string(h.SNI), "example.com"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	// Without signature algorithms the list ends without "_" (spec value).
	h.Parse(specHello(nil))
	if got := string(h.AppendJA4(nil)); got != "t13d1516h2_8daaf6152771_6d807ffa2a79" {
		t.Errorf("JA4 without signature algorithms = %s", got)
	}
}

func TestJA4Corners(t *testing.T) {
	var h Hello
	for _, c := range []struct {
		in   []byte
		want string
	}{
		// sha256("1301")[:12] = 0f2cb44170f4 (sha256sum).
		// No ciphers, no extensions, no ALPN, TLS 1.0, no SNI.
		{clientHello(0x0301, nil, nil), "t10i000000_000000000000_000000000000"},
		// Only SNI and ALPN: the extension list is empty.
		{clientHello(0x0303, []uint16{0x1301}, []ext{{0, sni("a")}, {16, alpn("http/1.1")}}), "t12d0102h1_0f2cb44170f4_000000000000"},
		// Non-alphanumeric ALPN ends use hex; single character ALPN.
		{clientHello(0x0303, []uint16{0x1301}, []ext{{16, alpn("\xab\xcd")}}), "t12i0101ad_0f2cb44170f4_000000000000"},
		{clientHello(0x0303, []uint16{0x1301}, []ext{{16, alpn("0\xab\xcd1")}}), "t12i010101_0f2cb44170f4_000000000000"},
		{clientHello(0x0303, []uint16{0x1301}, []ext{{16, alpn("x")}}), "t12i0101xx_0f2cb44170f4_000000000000"},
		// Unknown version (TLS 1.3 draft 18 in supported_versions).
		{clientHello(0x0303, []uint16{0x1301}, []ext{{43, vec8(u16s(0x7f12))}}), "t00i0101"},
	} {
		h.Parse(c.in)
		got := string(h.AppendJA4(nil))
		if len(c.want) < 36 {
			got = got[:len(c.want)]
		}
		if got != c.want {
			t.Errorf("JA4 = %s, want %s", got, c.want)
		}
	}
}

func TestTruncated(t *testing.T) {
	full := specHello(specSigs)
	var h Hello
	for i := 0; i < len(full); i++ {
		ok := h.Parse(full[:i])
		if i >= 5 && !ok {
			t.Fatalf("prefix %d rejected", i)
		}
		if h.Complete || len(h.AppendJA3(nil)) != 0 || len(h.AppendJA4(nil)) != 0 {
			t.Fatalf("prefix %d: fingerprint of a truncated hello", i)
		}
	}
	// Cut within the extensions: the SNI before the cut is still decoded.
	h.Parse(full[:bytes.Index(full, []byte("example.com"))+11+4])
	if string(h.SNI) != "example.com" || h.Complete || len(h.CipherSuites) != 16 {
		t.Errorf("cut hello: sni %q complete %v", h.SNI, h.Complete)
	}
}

func TestServerHello(t *testing.T) {
	// TLS 1.3 ServerHello: 0x0303, TLS_AES_128_GCM_SHA256, supported_versions + key_share.
	var body []byte
	body = append(body, 3, 3)
	body = append(body, make([]byte, 32)...)
	body = append(body, 0)          // session id
	body = append(body, 0x13, 0x01) // cipher
	body = append(body, 0)          // compression
	exts := append(u16s(43, 2, 0x0304), u16s(51, 0)...)
	body = append(body, vec16(exts)...)
	hs := append([]byte{2, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	rec := append([]byte{22, 3, 3, 0, byte(len(hs))}, hs...)
	var h Hello
	if !h.Parse(rec) || !h.Complete || h.HandshakeType != 2 {
		t.Fatalf("parse %+v", h)
	}
	if got := string(h.AppendJA3S(nil)); got != "771,4865,43-51" {
		t.Errorf("JA3S %s", got)
	}
	// tshark 4.0 on zeek/tls/tls13-ech.pcap frame 9 shows this JA3S hash.
	if got := string(h.AppendJA3SHash(nil)); got != "f4febc55ea12b31ae17cfb7e614afda8" {
		t.Errorf("JA3S hash %s", got)
	}
	if len(h.AppendJA3(nil)) != 0 || len(h.AppendJA4(nil)) != 0 || h.SupportedVersions[0] != 0x0304 {
		t.Errorf("client fingerprints of a ServerHello")
	}
}

func TestReject(t *testing.T) {
	var h Hello
	for _, in := range []string{
		"", "\x16\x03\x01", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n",
		"\x16\x02\x00\x00\x10", "\x16\x03\x05\x00\x10", "\x19\x03\x03\x00\x10",
		"\x16\x03\x01\x00\x00", "\x17\x03\x03\xff\xff", "SSH-2.0-OpenSSH\r\n",
		"\x80\x10\x02\x03\x01", "\x00\x00\x00\x00\x00\x00",
	} {
		if h.Parse([]byte(in)) {
			t.Errorf("%q accepted: %+v", in, h)
		}
	}
	if !h.Parse([]byte("\x17\x03\x03\x00\x20abc")) || h.RecordType != RecordTypeApplicationData || h.HandshakeType != 0 {
		t.Errorf("application data record: %+v", h)
	}
}

func TestGREASE(t *testing.T) {
	n := 0
	for v := 0; v < 1<<16; v++ {
		if IsGREASE(uint16(v)) {
			n++
			if v&0xff != v>>8 || v&0x0f != 0x0a {
				t.Errorf("%#x", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values", n)
	}
}

func TestZeroAlloc(t *testing.T) {
	var h Hello
	in := specHello(specSigs)
	buf := make([]byte, 0, 512)
	f := func() {
		h.Parse(in)
		buf = h.AppendJA3(buf[:0])
		buf = h.AppendJA3Hash(buf[:0])
		buf = h.AppendJA4(buf[:0])
		buf = h.AppendJA4R(buf[:0])
	}
	f()
	if n := testing.AllocsPerRun(100, f); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkParseClientHello(b *testing.B) {
	var h Hello
	in := specHello(specSigs)
	h.Parse(in)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		h.Parse(in)
	}
}

func BenchmarkJA3Hash(b *testing.B) {
	var h Hello
	h.Parse(specHello(specSigs))
	buf := h.AppendJA3Hash(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = h.AppendJA3Hash(buf[:0])
	}
}

func BenchmarkJA4(b *testing.B) {
	var h Hello
	h.Parse(specHello(specSigs))
	buf := h.AppendJA4(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = h.AppendJA4(buf[:0])
	}
}

func BenchmarkParseRejectHTTP(b *testing.B) {
	var h Hello
	in := []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		h.Parse(in)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(specHello(specSigs))
	f.Add(specHello(nil))
	f.Add(clientHello(0x0301, nil, nil))
	f.Add([]byte("\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10\x00\x00\x39\x00\x00\x38\x00\x00\x35\x00\x00\x33\x00\x00\x32\x00\x00\x04\x00\x00\x05\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11"))
	f.Add([]byte("\x14\x03\x03\x00\x01\x01\x16\x03\x03\x00\x04\x02\x00\x00\x00"))
	var cache Cache // shared by the inputs, as a decoder's is by its packets
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Hello
		if !h.Parse(b) {
			if h.RecordType != 0 || len(h.CipherSuites) != 0 {
				t.Fatal("rejected but not reset")
			}
			return
		}
		ja3 := h.AppendJA3(nil)
		h.AppendJA3Hash(nil)
		h.AppendJA3S(nil)
		h.AppendJA3SHash(nil)
		ja4 := h.AppendJA4(nil)
		h.AppendJA4R(nil)
		h.AppendJA4O(nil)
		if !h.Complete && (len(ja3) != 0 || len(ja4) != 0) {
			t.Fatal("fingerprint of an incomplete hello")
		}
		if len(ja4) != 0 && len(ja4) != 36 {
			t.Fatalf("JA4 %q", ja4)
		}
		// the cache gives what is computed afresh
		ja3h, ja3sh := h.AppendJA3Hash(nil), h.AppendJA3SHash(nil)
		h.SetCache(&cache)
		if got := h.AppendJA3Hash(nil); !bytes.Equal(got, ja3h) {
			t.Fatalf("JA3 %s from the cache, %s computed", got, ja3h)
		}
		if got := h.AppendJA4(nil); !bytes.Equal(got, ja4) {
			t.Fatalf("JA4 %s from the cache, %s computed", got, ja4)
		}
		if got := h.AppendJA3SHash(nil); !bytes.Equal(got, ja3sh) {
			t.Fatalf("JA3S %s from the cache, %s computed", got, ja3sh)
		}
	})
}

// TestParseQUIC: the same ClientHello without its record header, as QUIC
// carries it, gives the same hello and fingerprints but for the q of JA4,
// and no record version or length.
func TestParseQUIC(t *testing.T) {
	rec := specHello(specSigs)
	var h Hello
	if h.ParseQUIC(nil) {
		t.Error("ParseQUIC accepted an empty message")
	}
	if !h.ParseQUIC(rec[5:]) || !h.Complete || !h.QUIC || h.RecordType != RecordTypeHandshake || h.RecordVersion != 0 || h.RecordLen != 0 {
		t.Fatalf("parse: %+v", h)
	}
	if got, want := string(h.AppendJA4(nil)), "q13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
		t.Errorf("JA4 = %s, want %s", got, want)
	}
	var r Hello
	r.Parse(rec)
	if string(h.AppendJA3(nil)) != string(r.AppendJA3(nil)) || string(h.SNI) != string(r.SNI) {
		t.Errorf("JA3 %s, SNI %s; from the record %s, %s", h.AppendJA3(nil), h.SNI, r.AppendJA3(nil), r.SNI)
	}
}

// TestRecords checks which record of a segment the handshake fields come
// from: the first clear-text handshake record, whole.
func TestRecords(t *testing.T) {
	hello := specHello(specSigs)
	alert := []byte{21, 3, 3, 0, 2, 1, 112} // warning unrecognized_name
	ccs := []byte{20, 3, 3, 0, 1, 1}
	finished := append([]byte{22, 3, 3, 0, 40}, bytes.Repeat([]byte{0xa7, 0x3c, 0x91, 0x05}, 10)...)
	cat := func(b ...[]byte) []byte { return bytes.Join(b, nil) }
	// the hello and, in the same record, a Certificate whose length runs
	// past the record (suricata's tls_DER-incomplete-header.pcap frame 6,
	// where tshark shows handshake types 2,11)
	damaged := cat(hello, []byte{11, 0, 0x40, 0, 1, 2, 3})
	n := len(damaged) - 5
	damaged[3], damaged[4] = byte(n>>8), byte(n)
	// a TLS 1.2 AES-GCM Finished: its explicit nonce (sequence 0) reads
	// as a HelloRequest of length 0
	gcm := append([]byte{22, 3, 3, 0, 40}, make([]byte, 8)...)
	gcm = append(gcm, bytes.Repeat([]byte{0x5e, 0x91}, 16)...)
	for _, c := range []struct {
		name             string
		in               []byte
		record, hs       uint8
		handshake, cut   bool
		firstCut, finger bool
	}{
		{"hello", hello, 22, 1, true, false, false, true},
		{"alert then hello", cat(alert, hello), 21, 1, true, false, false, true},
		{"ccs then hello", cat(ccs, hello), 20, 1, true, false, false, true},
		{"ccs then encrypted finished", cat(ccs, finished), 20, 0, false, false, false, false},
		{"encrypted finished", finished, 22, 0, false, false, false, false},
		{"hello cut", hello[:100], 22, 1, true, true, true, false},
		{"alert then hello cut", cat(alert, hello[:100]), 21, 1, true, true, false, false},
		{"hello then cut record", cat(hello, finished[:20]), 22, 1, true, false, false, true},
		{"encrypted then hello", cat(finished, hello), 22, 1, true, false, false, true},
		{"hello then damaged message", damaged, 22, 1, true, false, false, true},
		{"gcm finished", gcm, 22, 0, false, false, false, false},
	} {
		var h Hello
		if !h.Parse(c.in) {
			t.Errorf("%s: rejected", c.name)
			continue
		}
		if h.RecordType != c.record || h.HandshakeType != c.hs || h.Handshake != c.handshake ||
			h.Cut != c.cut || h.FirstCut != c.firstCut || (len(h.AppendJA3(nil)) > 0) != c.finger {
			t.Errorf("%s: record %d type %d handshake %v cut %v/%v ja3 %q", c.name, h.RecordType,
				h.HandshakeType, h.Handshake, h.Cut, h.FirstCut, h.AppendJA3(nil))
		}
	}
}
