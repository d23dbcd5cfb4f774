// Package estest holds what the integration tests of bulk and of the
// command share: requests to the test Elasticsearch or OpenSearch server.
package estest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Server is a test server: its base URL, the client to reach it (nil:
// http.DefaultClient) and the Basic-auth user (none when empty).
type Server struct {
	URL            string
	Client         *http.Client
	User, Password string
}

// Call sends a request (a JSON body when body is not nil) and returns the
// status and the response body; it fails the test when the request cannot
// be sent.
func (s Server) Call(t testing.TB, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.User != "" {
		req.SetBasicAuth(s.User, s.Password)
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}
