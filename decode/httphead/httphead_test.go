package httphead

import (
	"bytes"
	"testing"
)

const getReq = "GET /index.html?q=1 HTTP/1.1\r\n" +
	"host: www.example.com\r\n" +
	"User-Agent: curl/8.0 \r\n" +
	"Accept: */*\r\n" +
	"X-Forwarded-For: 10.0.0.1\r\n" +
	"Cookie: a=b\r\n" +
	"\r\n"

const resp = "HTTP/1.1 301 Moved Permanently\r\n" +
	"Location: https://example.com/\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"CONTENT-LENGTH: 220\r\n" +
	"Server: gws\r\n" +
	"\r\n<html>"

func TestRequest(t *testing.T) {
	var m Message
	if !m.Parse([]byte(getReq)) {
		t.Fatal("rejected")
	}
	eq := func(field string, got []byte, want string) {
		t.Helper()
		if string(got) != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if !m.Request || m.Response || !m.Complete || m.HeadLen != len(getReq) {
		t.Errorf("flags %+v", m)
	}
	eq("Method", m.Method, "GET")
	eq("URI", m.URI, "/index.html?q=1")
	eq("Version", m.Version, "HTTP/1.1")
	eq("Host", m.Host, "www.example.com")
	eq("UserAgent", m.UserAgent, "curl/8.0 ")
	eq("Accept", m.Accept, "*/*")
	eq("XForwardedFor", m.XForwardedFor, "10.0.0.1")
	eq("Cookie", m.Cookie, "a=b")
	eq("Get", m.Get("USER-agent"), "curl/8.0 ")
	if len(m.Headers) != 5 || m.Get("nope") != nil || m.HasContentLength {
		t.Errorf("headers %d", len(m.Headers))
	}
}

func TestResponse(t *testing.T) {
	var m Message
	if !m.Parse([]byte(resp)) || !m.Response || m.Request || !m.Complete {
		t.Fatalf("parse %+v", m)
	}
	if m.StatusCode != 301 || string(m.Phrase) != "Moved Permanently" || string(m.ResponseVersion) != "HTTP/1.1" {
		t.Errorf("status line %d %q %q", m.StatusCode, m.Phrase, m.ResponseVersion)
	}
	if !m.HasContentLength || m.ContentLength != 220 || string(m.ContentLengthHeader) != "220" {
		t.Errorf("content length %v %d", m.HasContentLength, m.ContentLength)
	}
	if string(m.Location) != "https://example.com/" || string(m.Server) != "gws" || string(resp[m.HeadLen:]) != "<html>" {
		t.Errorf("fields %q %q %q", m.Location, m.Server, resp[m.HeadLen:])
	}
}

func TestTruncated(t *testing.T) {
	var m Message
	for i := 1; i < len(getReq); i++ {
		p := []byte(getReq[:i])
		ok := m.Parse(p)
		if i >= 3 && !ok {
			t.Fatalf("prefix %d rejected", i)
		}
		if ok && m.Complete {
			t.Fatalf("prefix %d complete", i)
		}
		if ok && m.HeadLen != i {
			t.Fatalf("prefix %d HeadLen %d", i, m.HeadLen)
		}
	}
	// A line without a colon is not a header; a cut value is kept cut.
	m.Parse([]byte(getReq[:bytes.Index([]byte(getReq), []byte("Accept"))+4]))
	if string(m.Host) != "www.example.com" || m.Accept != nil || m.Get("Acce") != nil || m.Complete {
		t.Errorf("cut head: host %q accept %q", m.Host, m.Accept)
	}
	m.Parse([]byte(getReq[:bytes.Index([]byte(getReq), []byte("*/*"))+2]))
	if string(m.Accept) != "*/" || m.Complete {
		t.Errorf("cut value: accept %q", m.Accept)
	}
}

func TestHTTP09AndOddLines(t *testing.T) {
	var m Message
	for _, c := range []struct{ in, method, uri, version string }{
		{"GET /zeek.html\n", "GET", "/zeek.html", ""},
		{"GET \n", "GET", "", ""},
		{"OPTIONS\nHost: x\n\n", "OPTIONS", "", ""},
		{"OPTIONS HTTP/1.1\n", "OPTIONS", "HTTP/1.1", ""},
		{"GET / HTTP/1.\n", "GET", "/", "HTTP/1."},
		{"M-SEARCH * HTTP/1.1\r\n", "M-SEARCH", "*", "HTTP/1.1"},
		{"PROPFIND /dav/ HTTP/1.1\r\n", "PROPFIND", "/dav/", "HTTP/1.1"},
		{"PATCH /x HTT", "PATCH", "/x", "HTT"},
		// a space in the URI: tshark 4.0 on arkime/gre-erspan-vxlan.pcap
		// frame 4 shows URI "/Hello", version "Arkime HTTP/1.0"
		{"GET /Hello Arkime HTTP/1.0\r\n", "GET", "/Hello", "Arkime HTTP/1.0"},
	} {
		if !m.Parse([]byte(c.in)) || !m.Request {
			t.Errorf("%q rejected", c.in)
			continue
		}
		if string(m.Method) != c.method || string(m.URI) != c.uri || string(m.Version) != c.version {
			t.Errorf("%q: %q %q %q", c.in, m.Method, m.URI, m.Version)
		}
	}
}

func TestReject(t *testing.T) {
	var m Message
	for _, in := range []string{
		"",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",    // TLS ClientHello
		"\x17\x03\x03\x00\x20GET / HTTP/1.1\r\n",          // TLS application data
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",                // HTTP/2 preface
		"OPTIONS rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", // RTSP
		"INVITE sip:bob@example.com SIP/2.0\r\n",          // SIP
		"SSH-2.0-OpenSSH_9.0\r\n",
		"get / HTTP/1.1\r\n",
		"GET/ HTTP/1.1\r\n",
		"OPTIONSHTTP/1.1\n",
		"GET /\x00\x01\x02 HTTP/1.1\r\n",
		"bad method\n",
		"HTTP/1.1 2xx OK\r\n",
		"HTTP/1.1 20",
		"HTTP/1.1200 OK\r\n",
		"HTTP/11 200 OK\r\n",
		"220 smtp.example.com ESMTP\r\n",
		"\x00\x00\x00\x00GET",
	} {
		if m.Parse([]byte(in)) {
			t.Errorf("%q accepted: %+v", in, m)
		}
		if m.Request || m.Response || m.Method != nil {
			t.Errorf("%q: message not reset", in)
		}
	}
}

func TestReuse(t *testing.T) {
	var m Message
	m.Parse([]byte(getReq))
	m.Parse([]byte(resp))
	if m.Host != nil || m.Method != nil || m.Request || len(m.Headers) != 4 {
		t.Errorf("stale fields after reuse: %+v", m)
	}
}

func TestZeroAlloc(t *testing.T) {
	var m Message
	req, rsp, tls := []byte(getReq), []byte(resp), []byte("\x16\x03\x01")
	n := testing.AllocsPerRun(100, func() {
		m.Parse(req)
		m.Parse(rsp)
		m.Parse(tls)
	})
	if n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func benchParse(b *testing.B, in string) {
	var m Message
	p := []byte(in)
	m.Parse(p)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		m.Parse(p)
	}
}

func BenchmarkParseRequest(b *testing.B)  { benchParse(b, browserReq) }
func BenchmarkParseResponse(b *testing.B) { benchParse(b, resp) }
func BenchmarkParseRejectTLS(b *testing.B) {
	benchParse(b, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
}
func BenchmarkParseRejectText(b *testing.B) {
	benchParse(b, "220 smtp.example.com ESMTP Postfix\r\n")
}

const browserReq = "GET /search?q=gopacket&ie=UTF-8 HTTP/1.1\r\n" +
	"Host: www.google.com\r\n" +
	"Connection: keep-alive\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Referer: http://www.google.com/\r\n" +
	"Cookie: NID=511=abcdefghijklmnopqrstuvwxyz0123456789; 1P_JAR=2024-06-01-12\r\n" +
	"\r\n"

func FuzzParse(f *testing.F) {
	for _, s := range []string{getReq, resp, browserReq, "GET /x\n", "HTTP/1.0 200\n\n", "ICY 200 OK\r\n", "M-SEARCH * HTTP/1.1\r\nST: x\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		ok := m.Parse(b)
		if !ok {
			if m.Request || m.Response || len(m.Headers) != 0 {
				t.Fatal("rejected but not reset")
			}
			return
		}
		if m.Request == m.Response {
			t.Fatal("request and response")
		}
		if m.HeadLen < 0 || m.HeadLen > len(b) || (!m.Complete && m.HeadLen != len(b)) {
			t.Fatalf("HeadLen %d of %d", m.HeadLen, len(b))
		}
		if m.Response && (m.StatusCode < 0 || m.StatusCode > 999) {
			t.Fatalf("status %d", m.StatusCode)
		}
		if m.HasContentLength && m.ContentLength < 0 {
			t.Fatalf("content length %d", m.ContentLength)
		}
		for _, h := range m.Headers {
			if len(h.Name) == 0 || bytes.IndexByte(h.Name, ':') >= 0 {
				t.Fatalf("bad header name %q", h.Name)
			}
		}
	})
}
