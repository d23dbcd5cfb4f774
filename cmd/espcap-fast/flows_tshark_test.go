package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/espcap/espcap-fast/internal/need"
)

// flowView is what the engines' flow documents are compared on.
type flowView struct {
	core string // addresses, ports, packets and bytes per direction, start, end, conn_state
	rest map[string]string
}

// flowFields are the flow document fields compared beside the core ones.
var flowFields = []string{"flow.history", "flow.end_reason", "flow.source_tcp_flags", "flow.destination_tcp_flags",
	"network.protocol", "network.community_id", "network.vlan.id", "network.inner.vlan.id",
	"dns.question.name", "dns.response_code", "dns.resolved_ip", "http.request.method", "http.response.status_code",
	"url.domain", "url.original", "user_agent.original", "tls.version", "tls.next_protocol", "tls.client.server_name",
	"tls.client.ja3", "tls.client.ja4", "tls.server.ja3s", "dhcpv4.option.hostname", "pcap.file", "pcap.packets"}

// engineRecords runs one engine with --records both and returns its flow
// documents by flow.id and the flow.id of each packet document by file
// and frame number ("" for a packet without one).
func engineRecords(t *testing.T, args ...string) (flows map[string]flowView, packets map[string]string) {
	t.Helper()
	out, errs, code := espcap(t, append([]string{"-q", "--records", "both"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	flows, packets = map[string]flowView{}, map[string]string{}
	for _, d := range docs(t, out) {
		ids := get(d, "flow.id")
		if !isFlowDoc(d) {
			k := fmt.Sprintf("%v#%v", d["file_name"], get(d, "frame.number"))
			packets[k] = ""
			if len(ids) > 0 {
				packets[k] = fmt.Sprint(ids[0])
			}
			continue
		}
		id := fmt.Sprint(ids[0])
		if _, dup := flows[id]; dup {
			t.Fatalf("%v: two documents of flow %s", args, id)
		}
		v := flowView{rest: map[string]string{}}
		v.core = fmt.Sprintf("%v:%v %v/%v pkts %v/%v bytes → %v:%v %v/%v; %v..%v %v",
			get(d, "source.ip"), get(d, "source.port"), get(d, "source.packets"), get(d, "destination.packets"),
			get(d, "source.bytes"), get(d, "destination.bytes"), get(d, "destination.ip"), get(d, "destination.port"),
			get(d, "network.packets"), get(d, "network.bytes"), get(d, "event.start"), get(d, "event.end"), get(d, "flow.conn_state"))
		for _, f := range flowFields {
			if x := get(d, f); len(x) > 0 {
				v.rest[f] = fmt.Sprint(x)
			}
		}
		flows[id] = v
	}
	return flows, packets
}

// explained tells why field f of a flow may differ between the engines
// (native n, tshark s), "" when it may not.
func explained(f string, n, s flowView) string {
	switch {
	case f == "tls.client.ja4" && s.rest[f] == "":
		return "tshark computes JA4 from 4.2 on"
	case f == "network.protocol" && n.rest[f] == "[http]" && s.rest[f] == "" &&
		n.rest["http.request.method"] == "" && n.rest["http.response.status_code"] == "":
		// wireshark_tcp-exp-option-tarr.pcap: data on port 8080
		return "the flow's only HTTP packets are continuation segments, which the native decoder names http by port and tshark hands to no dissector"
	}
	return ""
}

// TestTsharkEngineFlows: --engine tshark --records both gives the flow
// documents of the native engine on the same captures (every testdata
// capture, one run): flow by flow (flow.id), the same addresses, ports,
// packets and bytes per direction, start, end and conn_state, and the same
// other fields but for the differences explained (listed by go test -v);
// every packet document has the flow.id the native engine gives it.
func TestTsharkEngineFlows(t *testing.T) {
	need.Tshark(t)
	files, _ := filepath.Glob("../../testdata/pcaps/*")
	var args []string
	for _, f := range files {
		args = append(args, "--file", f)
	}
	native, nativePkt := engineRecords(t, args...)
	tshark, tsharkPkt := engineRecords(t, append([]string{"--engine", "tshark"}, args...)...)
	if len(native) < 150 || len(nativePkt) < 2000 {
		t.Fatalf("only %d flows, %d packets", len(native), len(nativePkt))
	}
	var ids []string
	for id := range native {
		ids = append(ids, id)
	}
	for id := range tshark {
		if _, ok := native[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	diff := map[string]int{}
	for _, id := range ids {
		n, nok := native[id]
		s, sok := tshark[id]
		switch {
		case !nok:
			t.Errorf("%s: a flow of the tshark engine only: %s", id, s.core)
			continue
		case !sok:
			t.Errorf("%s: a flow of the native engine only: %s", id, n.core)
			continue
		case n.core != s.core:
			t.Errorf("%s:\n  native %s\n  tshark %s", id, n.core, s.core)
		}
		for _, f := range flowFields {
			if n.rest[f] == s.rest[f] {
				continue
			}
			why := explained(f, n, s)
			if why == "" {
				t.Errorf("%s %s: native %q, tshark %q", id, f, n.rest[f], s.rest[f])
				continue
			}
			diff[f]++
			t.Logf("%s %s: native %q, tshark %q: %s", id, f, n.rest[f], s.rest[f], why)
		}
	}
	t.Logf("%d flows; explained differences by field: %v", len(ids), diff)
	withID := 0
	for k, id := range nativePkt {
		if s, ok := tsharkPkt[k]; !ok || s != id {
			t.Errorf("packet %s: flow.id %q native, %q tshark (present %v)", k, id, s, ok)
		}
		if id != "" {
			withID++
		}
	}
	if len(tsharkPkt) != len(nativePkt) || withID < len(nativePkt)*9/10 {
		t.Errorf("%d packet documents native, %d tshark; %d with a flow.id", len(nativePkt), len(tsharkPkt), withID)
	}
}
