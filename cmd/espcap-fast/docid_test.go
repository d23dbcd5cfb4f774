package main

import "testing"

// TestDocIDPrefixStreams: standard input and other streams (a FIFO or a
// device read by name) get per-run ids that differ by path, content hashes
// are kept as they are.
func TestDocIDPrefixStreams(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"stdin", "stdin-run1-"},
		{"", "stdin-run1-"},
		{"stdin-0a1b2c3d", "stdin-run1-0a1b2c3d-"},
		{"stdin-99887766", "stdin-run1-99887766-"},
		{"5feceb66ffc86f38d952", "5feceb66ffc86f38d952-"},
	} {
		if got := string(docIDPrefix(nil, c.src, "run1")); got != c.want {
			t.Errorf("docIDPrefix(%q) = %q, want %q", c.src, got, c.want)
		}
	}
}
