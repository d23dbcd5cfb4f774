package sip

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     Message // Truncated and the parsed fields; slices compared as strings
		err      bool
	}{
		{name: "register", in: "REGISTER sip:csp.noklab.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.100:5060\r\nFrom: sip:34903@csp.noklab.net\r\nTo: sip:34903@csp.noklab.net\r\nCall-ID: abc@192.168.1.100\r\nCSeq: 144 REGISTER\r\nUser-Agent: CSCO/7\r\nContent-Length: 0\r\n\r\n",
			want: Message{Request: true, RequestLine: []byte("REGISTER sip:csp.noklab.net SIP/2.0"), Method: []byte("REGISTER"), RequestURI: []byte("sip:csp.noklab.net"),
				CallID: []byte("abc@192.168.1.100"), From: []byte("sip:34903@csp.noklab.net"), FromAddr: []byte("sip:34903@csp.noklab.net"),
				To: []byte("sip:34903@csp.noklab.net"), ToAddr: []byte("sip:34903@csp.noklab.net"), CSeq: []byte("144 REGISTER"), CSeqSeq: 144, CSeqMethod: []byte("REGISTER"),
				UserAgent: []byte("CSCO/7"), ContentLength: 0}},
		{name: "status with name-addr and compact forms", in: "SIP/2.0 180 Ringing\r\nf: \"Alice\" <sip:alice@a.example>;tag=1\r\nt: <sip:bob@b.example>\r\ni: x1\r\nl: 12\r\nCSeq: 2 INVITE\r\n\r\nbody",
			want: Message{StatusLine: []byte("SIP/2.0 180 Ringing"), StatusCode: 180, From: []byte("\"Alice\" <sip:alice@a.example>;tag=1"), FromAddr: []byte("sip:alice@a.example"),
				To: []byte("<sip:bob@b.example>"), ToAddr: []byte("sip:bob@b.example"), CallID: []byte("x1"), ContentLength: 12, CSeq: []byte("2 INVITE"), CSeqSeq: 2, CSeqMethod: []byte("INVITE")}},
		{name: "first header wins, case-insensitive names, bare LF, folded value", in: "OPTIONS sip:x SIP/2.0\nCALL-ID: one\n\tfolded\ncall-id: two\nTo: sip:y;tag=9\n\n",
			want: Message{Request: true, RequestLine: []byte("OPTIONS sip:x SIP/2.0"), Method: []byte("OPTIONS"), RequestURI: []byte("sip:x"), CallID: []byte("one"),
				To: []byte("sip:y;tag=9"), ToAddr: []byte("sip:y"), CSeqSeq: -1, ContentLength: -1}},
		{name: "head cut short", in: "INVITE sip:b@c SIP/2.0\r\nCall-ID: z\r\nCSeq: 1",
			want: Message{Request: true, RequestLine: []byte("INVITE sip:b@c SIP/2.0"), Method: []byte("INVITE"), RequestURI: []byte("sip:b@c"), CallID: []byte("z"),
				CSeq: []byte("1"), CSeqSeq: 1, ContentLength: -1, Truncated: true}},
		{name: "status line only", in: "SIP/2.0 200 OK",
			want: Message{StatusLine: []byte("SIP/2.0 200 OK"), StatusCode: 200, CSeqSeq: -1, ContentLength: -1, Truncated: true}},
		{name: "http is not sip", in: "GET / HTTP/1.1\r\n\r\n", err: true},
		{name: "rtsp is not sip", in: "OPTIONS rtsp://x RTSP/1.0\r\n\r\n", err: true},
		{name: "bad status code", in: "SIP/2.0 2x0 OK\r\n\r\n", err: true},
		{name: "status below 100", in: "SIP/2.0 099 X\r\n\r\n", err: true},
		{name: "control characters", in: "INVITE sip:\x01 SIP/2.0\r\n\r\n", err: true},
		{name: "method not a token", in: "IN(VITE sip:x SIP/2.0\r\n\r\n", err: true},
		{name: "binary", in: "\x00\x01\x02\x03", err: true},
		{name: "empty", in: "", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := m.Parse([]byte(tc.in))
			if tc.err {
				if err == nil {
					t.Fatalf("accepted: %+v", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := show(&m), show(&tc.want); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// show renders a Message with its slices as strings.
func show(m *Message) string {
	var b strings.Builder
	for _, f := range []struct {
		k string
		v []byte
	}{{"RequestLine", m.RequestLine}, {"StatusLine", m.StatusLine}, {"Method", m.Method}, {"RequestURI", m.RequestURI},
		{"CallID", m.CallID}, {"From", m.From}, {"FromAddr", m.FromAddr}, {"To", m.To}, {"ToAddr", m.ToAddr},
		{"CSeq", m.CSeq}, {"CSeqMethod", m.CSeqMethod}, {"UserAgent", m.UserAgent}, {"Contact", m.Contact}} {
		if f.v != nil {
			b.WriteString(f.k + "=" + string(f.v) + " ")
		}
	}
	b.WriteString(strings.Join([]string{
		"request=" + map[bool]string{true: "y", false: "n"}[m.Request],
		"truncated=" + map[bool]string{true: "y", false: "n"}[m.Truncated],
	}, " "))
	return b.String() + " " + itoa(int64(m.StatusCode)) + " " + itoa(m.CSeqSeq) + " " + itoa(m.ContentLength)
}

func itoa(n int64) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestParseAllocatesNothing(t *testing.T) {
	in := []byte("INVITE sip:bob@b.example SIP/2.0\r\nFrom: \"A\" <sip:a@a>;tag=1\r\nTo: <sip:bob@b.example>\r\nCall-ID: 1@a\r\nCSeq: 1 INVITE\r\nUser-Agent: x\r\nContent-Length: 0\r\n\r\n")
	var m Message
	if n := testing.AllocsPerRun(100, func() { _ = m.Parse(in) }); n != 0 {
		t.Errorf("%.1f allocations per Parse", n)
	}
}

func BenchmarkParse(b *testing.B) {
	in := []byte("INVITE sip:bob@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\nFrom: \"A\" <sip:a@a>;tag=1\r\nTo: <sip:bob@b.example>\r\nCall-ID: 1@a\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.1>\r\nUser-Agent: x\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n")
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_ = m.Parse(in)
	}
}

// FuzzParse: Parse never panics, every slice it returns lies within the
// input, and a message it accepts starts with its start line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"REGISTER sip:csp.noklab.net SIP/2.0\r\nFrom: sip:1@x\r\nCSeq: 1 REGISTER\r\n\r\n",
		"SIP/2.0 180 Ringing\r\nf: <sip:a@b>;tag=1\r\nl: 12\r\n\r\nbody",
		"INVITE sip:b SIP/2.0\r\nTo: \"x\" <sip:y\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var m Message
		if m.Parse(in) != nil {
			return
		}
		start := m.RequestLine
		if !m.Request {
			start = m.StatusLine
		}
		if len(start) == 0 || !strings.HasPrefix(string(in), string(start)) {
			t.Fatalf("start line %q is not the start of %q", start, in)
		}
		for _, s := range [][]byte{m.Method, m.RequestURI, m.CallID, m.From, m.FromAddr, m.To, m.ToAddr, m.CSeq, m.CSeqMethod, m.UserAgent, m.Contact} {
			if len(s) > 0 && !strings.Contains(string(in), string(s)) {
				t.Fatalf("field %q not in the input", s)
			}
		}
	})
}
