package sip

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name                       string
		in                         string
		err                        error
		method, uri, status        string
		code                       uint16
		callID, from, to, cseq, ua string
	}{
		{name: "request", in: "INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com\r\n" +
			"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n" +
			"Call-ID: 3848276298220188511@atlanta.example.com\r\nCSeq: 1 INVITE\r\nUser-Agent: softphone 1.0\r\n\r\nv=0\r\nCall-ID: body\r\n",
			method: "INVITE", uri: "sip:bob@biloxi.example.com", callID: "3848276298220188511@atlanta.example.com",
			from: "Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl", to: "Bob <sip:bob@biloxi.example.com>", cseq: "1 INVITE", ua: "softphone 1.0"},
		{name: "status, compact headers, LF only", in: "SIP/2.0 180 Ringing\ni: abc@host\nf: <sip:a@b>\nt: <sip:c@d>\nCSEQ:  2 INVITE \n",
			status: "SIP/2.0 180 Ringing", code: 180, callID: "abc@host", from: "<sip:a@b>", to: "<sip:c@d>", cseq: "2 INVITE"},
		{name: "status cut after the code", in: "SIP/2.0 200", status: "SIP/2.0 200", code: 200},
		{name: "HTTP", in: "GET / HTTP/1.1\r\n\r\n", err: ErrNoStartLine},
		{name: "bad code", in: "SIP/2.0 2x0 OK\r\n", err: ErrNoStartLine},
		{name: "lower-case method", in: "invite sip:a@b SIP/2.0\r\n", err: ErrNoStartLine},
		{name: "empty", in: "", err: ErrNoStartLine},
	} {
		var m Message
		err := m.Parse([]byte(c.in))
		if !errors.Is(err, c.err) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		for _, f := range []struct{ what, got, want string }{
			{"method", string(m.Method), c.method}, {"uri", string(m.URI), c.uri}, {"status line", string(m.StatusLine), c.status},
			{"Call-ID", string(m.CallID), c.callID}, {"From", string(m.From), c.from}, {"To", string(m.To), c.to},
			{"CSeq", string(m.CSeq), c.cseq}, {"User-Agent", string(m.UserAgent), c.ua},
		} {
			if f.got != f.want {
				t.Errorf("%s: %s %q, want %q", c.name, f.what, f.got, f.want)
			}
		}
		if m.StatusCode != c.code || m.Request != (c.method != "") {
			t.Errorf("%s: code %d request %v", c.name, m.StatusCode, m.Request)
		}
	}
}

func TestProbe(t *testing.T) {
	for in, want := range map[string]bool{
		"SIP/2.0 200 OK": true, "REGISTER sip:x SIP/2.0": true, "MESSAGE tel:+1 SIP/2.0": true, "OPTIONS sips:a@b SIP/2.0": true,
		"GET / HTTP/1.1": false, "SSH-2.0-x": false, "HTTP/1.1 200 OK": false, "": false, "INVITE": false,
	} {
		if got := Probe([]byte(in)); got != want {
			t.Errorf("Probe(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	b := []byte("SIP/2.0 180 Ringing\r\nCall-ID: abc@host\r\nFrom: <sip:a@b>\r\n\r\n")
	var m Message
	if n := testing.AllocsPerRun(100, func() { _ = m.Parse(b) }); n != 0 {
		t.Errorf("Parse allocates %.0f times", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("INVITE sip:bob@biloxi.example.com SIP/2.0\r\nCall-ID: x\r\ni: y\r\n\r\n"))
	f.Add([]byte("SIP/2.0 180 Ringing\nf: <sip:a@b>\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.Parse(b); err != nil {
			return
		}
		if m.Request == (m.StatusLine != nil) {
			t.Fatalf("request %v with status line %q", m.Request, m.StatusLine)
		}
		if m.Request && len(m.Method) == 0 {
			t.Fatal("request without a method")
		}
	})
}
