package tsharkek

import (
	"os"
	"strings"
)

// childEnv is the environment of the tshark and dumpcap processes: ours
// without the ES_* variables (ES_PASSWORD, ES_API_KEY, ...), which are
// secrets for the Elasticsearch connection that the children have no use
// for and should not be able to read or leak (/proc/PID/environ, crash
// reports, Lua plugins).
func childEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ES_") {
			out = append(out, kv)
		}
	}
	return out
}

// withHome returns env with HOME set to home and without XDG_CONFIG_HOME:
// the environment of a child running as another user.
func withHome(env []string, home string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+home)
}
