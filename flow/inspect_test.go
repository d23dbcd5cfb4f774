package flow

import (
	"testing"
	"time"

	"github.com/espcap/espcap-fast/decode"
)

var (
	httpReq  = []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n\r\n")
	httpReq2 = []byte("POST /form HTTP/1.1\r\nHost: other.example\r\nUser-Agent: wget\r\n\r\n")
	httpNoUA = []byte("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n")
	httpResp = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	junk     = []byte("\x00\x01 not the start of an HTTP message")
)

// TestInspect: a flow's application layers are read in its first
// Config.Inspect packets with a payload, or until its application has said
// all a flow keeps; later packets are counted only.
func TestInspect(t *testing.T) {
	cd := func(b []byte) seg { return seg{fromClient: true, flags: "PA", data: b} }
	sd := func(b []byte) seg { return seg{flags: "PA", data: b} }
	ack := seg{fromClient: true, flags: "A"}
	junks := func(n int) []seg {
		var s []seg
		for range n {
			s = append(s, cd(junk), ack)
		}
		return s
	}
	tests := []struct {
		name    string
		inspect int
		segs    []seg
		method  string
		status  int
	}{
		{"request and response within the limit", 4, append(junks(2), cd(httpReq), sd(httpResp)), "GET", 200},
		{"response past the limit", 4, append(junks(3), cd(httpReq), sd(httpResp)), "GET", 0},
		{"request past the limit", 4, append(junks(4), cd(httpReq), sd(httpResp)), "", 0},
		{"packets without payload do not count", 4, append(append(junks(3), ack, ack, ack), cd(httpReq)), "GET", 0},
		{"every packet", -1, append(junks(40), cd(httpReq), sd(httpResp)), "GET", 200},
		{"default", 0, append(junks(DefaultInspect-1), cd(httpReq)), "GET", 0},
		{"default, past it", 0, append(junks(DefaultInspect), cd(httpReq)), "", 0},
		{"complete HTTP: the second request is not read", 4, []seg{cd(httpReq), sd(httpResp), cd(httpReq2)}, "GET", 200},
		{"a request without user agent is not complete: the next one gives it", 4, []seg{cd(httpNoUA), sd(httpResp), cd(httpReq2)}, "GET", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := run(t, Config{Inspect: tc.inspect}, tc.segs, true)
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			a := &recs[0].Summary
			if got := string(a.HTTPMethod()); got != tc.method {
				t.Errorf("method %q, want %q", got, tc.method)
			}
			if int(a.HTTPStatus) != tc.status {
				t.Errorf("status %d, want %d", a.HTTPStatus, tc.status)
			}
		})
	}
	// the user agent of the incomplete first request comes from the second
	recs := run(t, Config{Inspect: 4}, []seg{cd(httpNoUA), sd(httpResp), cd(httpReq2)}, true)
	if ua, uri := string(recs[0].Summary.HTTPUserAgent()), string(recs[0].Summary.HTTPURI()); ua != "wget" || uri != "/a" {
		t.Errorf("user agent %q, URI %q: want wget (second request), /a (first)", ua, uri)
	}
}

// TestWants: Wants says whether Observe would read a packet's application
// layers, for a caller that has parsed only its headers.
func TestWants(t *testing.T) {
	dec := decode.NewDecoder()
	packet := func(s seg) *Packet {
		fp := &Packet{}
		if !Extract(dec.Decode(tcpFrame(t, s), decode.LinkTypeEthernet, 0), fp) {
			t.Fatal("no flow key")
		}
		return fp
	}
	sec := int64(time.Second)
	tab := NewTable(Config{Inspect: 2})
	data := seg{fromClient: true, flags: "PA", data: junk}
	if tab.Wants(packet(seg{fromClient: true, flags: "A"}), 0) {
		t.Error("Wants a packet without payload")
	}
	if !tab.Wants(packet(data), 0) {
		t.Error("does not want the first packet of a new flow")
	}
	for i := range 2 {
		if !tab.Wants(packet(data), int64(i)*sec) {
			t.Errorf("does not want payload packet %d of 2", i+1)
		}
		tab.Observe(packet(data), int64(i)*sec, 100)
	}
	if tab.Wants(packet(data), 2*sec) {
		t.Error("wants a packet of a settled flow")
	}
	if !tab.Wants(packet(seg{fromClient: true, flags: "S", data: junk}), 2*sec) {
		t.Error("does not want a SYN, which may start a new flow")
	}
	if !tab.Wants(packet(data), sec+int64(DefaultTCPTimeout)+1) {
		t.Error("does not want a packet past the idle timeout, which starts a new flow")
	}
	if NewTable(Config{Inspect: -1}).Wants(packet(data), 0) != true {
		t.Error("Inspect -1 does not want every packet with a payload")
	}
}
