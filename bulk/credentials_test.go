package bulk

import (
	"context"
	"strings"
	"testing"
)

func TestInspectNodes(t *testing.T) {
	for _, c := range []struct {
		nodes []string
		want  NodeSecurity
	}{
		{[]string{"es:9200"}, NodeSecurity{PlainHTTP: true}},
		{[]string{"https://es:9200"}, NodeSecurity{}},
		{[]string{"https://a:9200,http://b:9200"}, NodeSecurity{PlainHTTP: true}},
		{[]string{"https://u:pw@es:9200"}, NodeSecurity{User: "u", URLPassword: true}},
		{[]string{"http://u@es:9200"}, NodeSecurity{User: "u", PlainHTTP: true}},
	} {
		got, err := InspectNodes(c.nodes)
		if err != nil || got != c.want {
			t.Errorf("InspectNodes(%q) = %+v, %v; want %+v", c.nodes, got, err, c.want)
		}
	}
	if _, err := InspectNodes([]string{"ftp://u:s3cret@es"}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad node: %v (must fail without quoting the password)", err)
	}
}

// TestURLCredentialsAndAPIKey: a user and password in a node URL and an API
// key together are refused before any request, like a user and an API key
// given separately (the API key used to win silently).
func TestURLCredentialsAndAPIKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Nodes = []string{"http://u:s3cret@127.0.0.1:1"}
	cfg.APIKey = "a2V5OnNlY3JldA=="
	_, err := New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "not both") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("New: %v; want a conflict error without the password", err)
	}
}
