package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/bulk"
)

// lifecycleProbe says whether the server could manage index lifecycles
// itself (ILM on Elasticsearch, the index-management plugin's ISM on
// OpenSearch). espcap-fast installs no lifecycle policy either way (no test
// server has one: the integration-test zips lack both); --retention always
// deletes old indices itself, and the answer only goes into the log line
// saying so. It never fails: an error becomes part of the sentence.
func lifecycleProbe(ctx context.Context, ix *bulk.Indexer) string {
	backend, _ := ix.Backend()
	if backend == "opensearch" {
		status, body, err := ix.Request(ctx, http.MethodGet, "/_cat/plugins?h=component&format=json", nil)
		if err != nil || status != http.StatusOK {
			return fmt.Sprintf("whether the server has ISM is unknown (_cat/plugins: %s)", answer(status, err))
		}
		v, err := fastjson.ParseBytes(body)
		if err != nil {
			return fmt.Sprintf("whether the server has ISM is unknown (_cat/plugins: %v)", err)
		}
		for _, p := range v.GetArray() {
			if strings.Contains(string(p.GetStringBytes("component")), "index-management") {
				return "the server has ISM, but espcap-fast installs no ISM policy"
			}
		}
		return "the server has no ISM (no index-management plugin)"
	}
	status, _, err := ix.Request(ctx, http.MethodGet, "/_ilm/status", nil)
	switch {
	case err == nil && status == http.StatusOK:
		return "the server has ILM, but espcap-fast installs no ILM policy"
	case err == nil && (status == http.StatusMethodNotAllowed || status == http.StatusBadRequest || status == http.StatusNotFound):
		return fmt.Sprintf("the server has no ILM (_ilm/status: HTTP %d)", status)
	default:
		return fmt.Sprintf("whether the server has ILM is unknown (_ilm/status: %s)", answer(status, err))
	}
}

// answer is an HTTP status or a request error, for a log line.
func answer(status int, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d", status)
}
