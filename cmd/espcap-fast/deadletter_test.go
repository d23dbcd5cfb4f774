package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/internal/statedir"
)

// rejectingES is a stand-in for Elasticsearch that rejects every document
// of every bulk request (status 400, as for a mapping error).
func rejectingES(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/":
			io.WriteString(w, `{"version":{"number":"8.19.9"}}`)
		case "/_bulk":
			var resp bytes.Buffer
			resp.WriteString(`{"errors":true,"items":[`)
			sc := bufio.NewScanner(bytes.NewReader(body))
			sc.Buffer(nil, 1<<20)
			for n := 0; sc.Scan(); n++ {
				if n%2 == 1 { // a document line
					if n > 1 {
						resp.WriteByte(',')
					}
					resp.WriteString(`{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"rejected by the test"}}}`)
				}
			}
			resp.WriteString(`]}`)
			w.Write(resp.Bytes())
		default:
			io.WriteString(w, `{}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDeadLetterDefault: without --dead-letter, rejected documents go to
// <state dir>/dead-letter/espcap-fast-dead-letter.ndjson, private (0600, in
// a 0700 directory), and the summary names that file; a symbolic link given
// as --dead-letter is refused before anything is sent.
func TestDeadLetterDefault(t *testing.T) {
	state := t.TempDir()
	t.Setenv(statedir.Env, state)
	srv := rejectingES(t)
	args := []string{"--node", srv.URL, "--no-template", "--no-gzip", "--stats-interval", "0", "--file", dnsSample}
	_, errs, code := espcap(t, args...)
	want := filepath.Join(state, "dead-letter", defaultDeadLetter)
	if code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and the dead-letter file %s named", code, errs, want)
	}
	b, err := os.ReadFile(want)
	if err != nil || bytes.Count(b, []byte(`"mapper_parsing_exception"`)) == 0 {
		t.Fatalf("default dead-letter file: %v, %d bytes", err, len(b))
	}
	for path, mode := range map[string]os.FileMode{want: 0o600, filepath.Dir(want): os.ModeDir | 0o700} {
		if st, err := os.Stat(path); err != nil || st.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, st.Mode(), err, mode)
		}
	}
	if _, err := os.Stat(defaultDeadLetter); err == nil {
		t.Errorf("a dead-letter file was created in the current directory")
	}

	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep\n"), 0o600)
	link := filepath.Join(t.TempDir(), "dl.ndjson")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	_, errs, code = espcap(t, append([]string{"--dead-letter", link}, args...)...)
	if b, _ := os.ReadFile(victim); code == 0 || !strings.Contains(errs, "symbolic link") || string(b) != "keep\n" {
		t.Errorf("--dead-letter symlink: exit %d, file behind it %q, stderr:\n%s", code, b, errs)
	}
}
