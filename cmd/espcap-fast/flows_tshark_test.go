package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/estest"
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
		// the same flow in two captures (copies of one capture): the
		// second is id#2, in the file order both engines keep
		id := fmt.Sprint(ids[0])
		for n := 2; ; n++ {
			if _, dup := flows[id]; !dup {
				break
			}
			id = fmt.Sprintf("%v#%d", ids[0], n)
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
	compareEngineFlows(t, files, 150, 2000, true)
}

// TestTsharkEngineFlowsShared is TestTsharkEngineFlows on the shared
// corpus's well-formed captures (its *-malformed directories and the
// oracle's are left out: a file tshark cannot read to its end fails the run).
func TestTsharkEngineFlowsShared(t *testing.T) {
	need.Tshark(t)
	dir := need.Shared(t)
	var files []string
	for _, pat := range []string{"*/*.pcap", "*/*.pcapng", "*/*.cap", "*/*/*.pcap", "*/*/*.pcapng"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range m {
			if !strings.Contains(f, "-malformed/") && !strings.Contains(f, "/oracle/") && !strings.Contains(f, "/pcapng-format/") {
				files = append(files, f)
			}
		}
	}
	compareEngineFlows(t, files, 1000, 10000, false)
}

// compareEngineFlows runs both engines over files and compares their flow
// documents and their packets' flow.id (see TestTsharkEngineFlows); at
// least minFlows flows and minPackets packets are expected. strict fails
// on every difference not explained; otherwise the differences are listed
// and counted by field, and at least 99.5 % of the flows must agree on the
// core fields (the packet decoders differ on some captures of the shared
// corpus: see docs/SCHEMA.md, "Flow documents of the tshark engine").
func compareEngineFlows(t *testing.T, files []string, minFlows, minPackets int, strict bool) {
	t.Helper()
	var args []string
	for _, f := range files {
		args = append(args, "--file", f)
	}
	native, nativePkt := engineRecords(t, args...)
	tshark, tsharkPkt := engineRecords(t, append([]string{"--engine", "tshark"}, args...)...)
	if len(native) < minFlows || len(nativePkt) < minPackets {
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
	report := t.Errorf
	if !strict {
		report = t.Logf
	}
	diff, other, core := map[string]int{}, map[string]int{}, 0
	for _, id := range ids {
		n, nok := native[id]
		s, sok := tshark[id]
		switch {
		case !nok:
			core++
			report("%s: a flow of the tshark engine only: %s", id, s.core)
			continue
		case !sok:
			core++
			report("%s: a flow of the native engine only: %s", id, n.core)
			continue
		case n.core != s.core:
			core++
			report("%s:\n  native %s\n  tshark %s", id, n.core, s.core)
		}
		for _, f := range flowFields {
			if n.rest[f] == s.rest[f] {
				continue
			}
			why := explained(f, n, s)
			if why == "" {
				other[f]++
				report("%s %s: native %q, tshark %q", id, f, n.rest[f], s.rest[f])
				continue
			}
			diff[f]++
			t.Logf("%s %s: native %q, tshark %q: %s", id, f, n.rest[f], s.rest[f], why)
		}
	}
	t.Logf("%d flows, %d differ in the core fields; explained differences by field: %v; others: %v", len(ids), core, diff, other)
	if float64(core) > 0.005*float64(len(ids)) {
		t.Errorf("%d of %d flows differ in the core fields", core, len(ids))
	}
	withID := 0
	for k, id := range nativePkt {
		if s, ok := tsharkPkt[k]; !ok || s != id {
			report("packet %s: flow.id %q native, %q tshark (present %v)", k, id, s, ok)
		}
		if id != "" {
			withID++
		}
	}
	if len(tsharkPkt) != len(nativePkt) || withID < len(nativePkt)*9/10 {
		t.Errorf("%d packet documents native, %d tshark; %d with a flow.id", len(nativePkt), len(tsharkPkt), withID)
	}
}

// TestTsharkEngineMaxPacketsPerFlow: --max-packets-per-flow leaves out the
// same packet documents with either engine.
func TestTsharkEngineMaxPacketsPerFlow(t *testing.T) {
	need.Tshark(t)
	for _, n := range []string{"1", "2"} {
		args := []string{"--file", sample, "--file", dnsSample, "--max-packets-per-flow", n}
		native, nativePkt := engineRecords(t, args...)
		tshark, tsharkPkt := engineRecords(t, append([]string{"--engine", "tshark"}, args...)...)
		if len(native) != len(tshark) || len(nativePkt) != len(tsharkPkt) || len(nativePkt) < len(native) {
			t.Errorf("--max-packets-per-flow %s: native %d flows, %d packets; tshark %d flows, %d packets", n, len(native), len(nativePkt), len(tshark), len(tsharkPkt))
		}
		for k := range nativePkt {
			if _, ok := tsharkPkt[k]; !ok {
				t.Errorf("--max-packets-per-flow %s: packet %s kept natively, not by the tshark engine", n, k)
			}
		}
	}
}

// TestNodeFlowsTshark: --engine tshark --records both --node indexes the
// packet and flow documents the same run writes to stdout (through a
// spool, then directly), each flow under its flow.id, every packet's
// flow.id an indexed flow; a re-import adds nothing.
func TestNodeFlowsTshark(t *testing.T) {
	need.Tshark(t)
	base := estest.URL(t)
	files := []string{"--engine", "tshark", "--file", sample, "--file", dnsSample}
	packets, flows := offlineRecords(t, files...)
	if len(flows) < 10 || len(packets) < 1000 {
		t.Fatalf("offline: %d packets, %d flows", len(packets), len(flows))
	}
	checkNodeFlows(t, base, "tsflow", files, packets, flows)
}
