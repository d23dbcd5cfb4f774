package main

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/internal/estest"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// TestLiveFlowsIdle: live capture writes flow records, and a flow ends by
// its timeout while the link is idle, not only when later packets come or
// at exit: the DNS sample replayed onto a veth, --records flows
// --flow-timeout 1s into the server; with the capture still running and
// no more traffic, the index comes to hold as many flow documents as an
// import of the sample file makes, and stopping the capture adds none.
func TestLiveFlowsIdle(t *testing.T) {
	base := estest.URL(t)
	v := ringtest.NewVeth(t)
	out, errs, code := espcap(t, "-q", "--records", "flows", "--flow-timeout", "1s", "-r", dnsSample)
	if code != 0 {
		t.Fatalf("offline: exit %d: %s", code, errs)
	}
	want := len(docs(t, out))
	prefix := testPrefix(t, base, "liveflows")
	t.Cleanup(func() {
		esCall(t, base, http.MethodDelete, "/_index_template/"+bulk.TemplateName(prefix+"flows-"), nil)
	})
	p := startLive(t, nil, "-i", v.Outside, "--workers", "2", "--records", "flows", "--flow-timeout", "1s",
		"--node", base, "--index-prefix", prefix, "--index-period", "none", "--flow-index-prefix", prefix+"flows-",
		"--state-dir", t.TempDir(), "--dead-letter", filepath.Join(t.TempDir(), "dl"), "--frame-timeout", "10ms", "--duration", "120s")
	if sent := v.Replay(t, dnsSample); sent == 0 {
		t.Fatal("tcpreplay sent nothing")
	}
	count := func() int {
		refresh(t, base, prefix+"flows-")
		return countIn(t, base, prefix+"flows-*")
	}
	deadline := time.Now().Add(60 * time.Second)
	got := 0
	for got < want && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		got = count()
	}
	select {
	case <-p.done:
		t.Fatalf("the capture ended early (exit %d): %s", p.code, p.stderr.String())
	default:
	}
	if got != want {
		t.Fatalf("while capturing on an idle link: %d flow documents indexed, the file makes %d", got, want)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 60*time.Second)
	if p.code != 0 {
		t.Fatalf("exit %d: %s", p.code, p.stderr.String())
	}
	if n := count(); n != want {
		t.Errorf("after the capture: %d flow documents, want %d (all written while idle)", n, want)
	}
}
