package main

import (
	"strings"
	"testing"
)

// TestRecordsFlags: what --records and the flow flags accept and refuse.
func TestRecordsFlags(t *testing.T) {
	const pcap = "../../testdata/pcaps/tcpdump_tcp-handshake-nano.pcap"
	tests := []struct {
		args    []string
		code    int
		packets int // packet documents
		flows   int // flow documents
		stderr  string
	}{
		{[]string{"-r", pcap}, 0, 3, 0, ""},
		{[]string{"-r", pcap, "--records", "packets"}, 0, 3, 0, ""},
		{[]string{"-r", pcap, "--records", "flows"}, 0, 0, 1, ""},
		{[]string{"-r", pcap, "--records", "both"}, 0, 3, 1, ""},
		{[]string{"-r", pcap, "--records", "both", "--max-packets-per-flow", "1"}, 0, 2, 1, ""},
		{[]string{"-r", pcap, "--records", "sessions"}, 2, 0, 0, "--records \"sessions\""},
		{[]string{"-r", pcap, "--max-packets-per-flow", "1"}, 2, 0, 0, "needs --records both"},
		{[]string{"-r", pcap, "--records", "flows", "--max-flows", "0"}, 2, 0, 0, "--max-flows"},
		{[]string{"-r", pcap, "--records", "flows", "--flow-inspect", "0"}, 0, 0, 1, ""},
		{[]string{"-r", pcap, "--records", "flows", "--flow-inspect", "256"}, 2, 0, 0, "--flow-inspect must be between 0"},
		{[]string{"-r", pcap, "--records", "flows", "--flow-inspect", "-1"}, 2, 0, 0, "--flow-inspect must be between 0"},
		{[]string{"-r", pcap, "--records", "flows", "--node", "http://127.0.0.1:1", "--data-stream", "pk", "--flow-data-stream", "pk"}, 2, 0, 0, "must differ from --data-stream"},
		{[]string{"-r", pcap, "--records", "flows", "--node", "http://127.0.0.1:1", "--data-stream", "pk", "--flow-data-stream", "Fl"}, 2, 0, 0, "--flow-data-stream \"Fl\": index names must be lowercase"},
		{[]string{"-r", pcap, "--records", "both", "--node", "http://127.0.0.1:1", "--flow-index-prefix", "packets-"}, 2, 0, 0, "must differ from --index-prefix"},
		{[]string{"-r", pcap, "--records", "flows", "--node", "http://127.0.0.1:1", "--flow-index-prefix", "Flows-"}, 2, 0, 0, "--flow-index-prefix \"Flows-\": index names must be lowercase"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[2:], " "), func(t *testing.T) {
			out, errOut, code := espcap(t, append([]string{"-q"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.stderr)
			}
			var packets, flows int
			for _, d := range docs(t, out) {
				if isFlowDoc(d) {
					flows++
				} else {
					packets++
				}
			}
			if packets != tc.packets || flows != tc.flows {
				t.Errorf("%d packet and %d flow documents, want %d and %d", packets, flows, tc.packets, tc.flows)
			}
		})
	}
}
