package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/espcap/espcap-fast/bulk"
)

// readSecretFile reads a password or API key file. Only the line end that
// editors and `echo` add is removed ("\n", or "\r\n"): spaces may belong to
// the secret. A file that group or others can read gets a warning through
// logf, since the secret is then not one.
func readSecretFile(file string, logf func(string, ...any)) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%s is empty", file)
	}
	if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o044 != 0 {
		logf("warning: %s can be read by other users (mode %v); chmod 600 it", file, st.Mode().Perm())
	}
	return s, nil
}

// warnCredentials warns, once per run, about credentials that others can
// see or that travel unprotected.
func warnCredentials(logf func(string, ...any), cfg bulk.Config, ns bulk.NodeSecurity, insecure bool) {
	if ns.URLPassword {
		logf("warning: the password in --node can be seen by other users (ps, shell history); give --user with $ES_PASSWORD or --password-file instead")
	}
	if insecure {
		logf("warning: --insecure: the nodes' certificates are not verified, so anyone on the way can read and change the traffic, credentials included; give --ca-cert instead")
	}
	if ns.PlainHTTP {
		switch {
		case cfg.User != "" || ns.User != "":
			logf("warning: basic auth over plain http: the password crosses the network in clear text; use an https:// node")
		case cfg.APIKey != "":
			logf("warning: API key over plain http: the key crosses the network in clear text; use an https:// node")
		}
	}
}

// warningsOnly is a logf for commands that print nothing of the indexer's
// chatter but must still show the warnings.
func warningsOnly(w io.Writer) func(string, ...any) {
	return func(format string, args ...any) {
		if strings.HasPrefix(format, "warning: ") {
			fmt.Fprintf(w, "espcap-fast: "+format+"\n", args...)
		}
	}
}
