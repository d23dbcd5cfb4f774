package bulk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/valyala/fastjson"
)

// do performs one small (non-bulk) request and reads the whole answer.
func (ix *Indexer) do(ctx context.Context, method, path string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := ix.tp.Perform(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := readResponse(nil, res.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return res.StatusCode, res.Header, b, nil
}

// detect asks GET / for the product and version. Elasticsearch builds
// without the rest-root module (the integ-test distribution) answer 405
// there; then the local node's info gives the version and the
// X-Elastic-Product header the product.
func (ix *Indexer) detect(ctx context.Context) error {
	where := ix.nodeList()
	status, hdr, body, err := ix.do(ctx, http.MethodGet, "/", nil)
	if err != nil && certError(err) {
		return fmt.Errorf("bulk: cannot connect to %s: %w%s", where, err, certHint)
	}
	if err != nil {
		return fmt.Errorf("bulk: cannot reach Elasticsearch at %s: %w", where, err)
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ix.accessError(where, status, body)
	case status == http.StatusOK:
		v, err := fastjson.ParseBytes(body)
		if err != nil {
			return fmt.Errorf("bulk: %s: GET / is not JSON, is this Elasticsearch? %w", where, err)
		}
		ix.version = string(v.GetStringBytes("version", "number"))
		ix.backend = "elasticsearch"
		if strings.EqualFold(string(v.GetStringBytes("version", "distribution")), "opensearch") {
			ix.backend = "opensearch"
		}
		if ix.version == "" {
			return fmt.Errorf("bulk: %s: GET / has no version.number, is this Elasticsearch?", where)
		}
		return nil
	case status == http.StatusMethodNotAllowed || status == http.StatusNotFound:
		ix.backend = "elasticsearch"
		if p := hdr.Get("X-Elastic-Product"); p == "" {
			ix.backend = "unknown"
		}
		status, _, body, err = ix.do(ctx, http.MethodGet, "/_nodes/_local?filter_path=nodes.*.version", nil)
		if err != nil {
			return fmt.Errorf("bulk: cannot reach Elasticsearch at %s: %w", where, err)
		}
		if status == http.StatusOK {
			if v, err := fastjson.ParseBytes(body); err == nil {
				v.GetObject("nodes").Visit(func(_ []byte, n *fastjson.Value) {
					if ix.version == "" {
						ix.version = string(n.GetStringBytes("version"))
					}
				})
			}
		}
		if ix.version == "" {
			if status == http.StatusUnauthorized || status == http.StatusForbidden {
				return ix.accessError(where, status, body)
			}
			return fmt.Errorf("bulk: %s: cannot determine the server version (HTTP %d)", where, status)
		}
		return nil
	default:
		return fmt.Errorf("bulk: %s: GET / answered HTTP %d: %s", where, status, responseReason(new(fastjson.Parser), body))
	}
}

// accessError is the error for a request the server refused: 401, the
// credentials are wrong or missing; 403, the user is known but lacks a
// privilege, which the server's reason names.
func (ix *Indexer) accessError(where string, status int, body []byte) error {
	if status == http.StatusUnauthorized {
		return fmt.Errorf("bulk: %s refused the credentials (HTTP 401); check --user/ES_PASSWORD or ES_API_KEY", where)
	}
	needs := ix.cfg.Privileges
	if needs == "" {
		needs = ImportPrivileges
	}
	return fmt.Errorf("bulk: %s: the user lacks a privilege (HTTP 403: %s); %s",
		where, responseReason(new(fastjson.Parser), body), needs)
}

// ImportPrivileges is what an import needs, as the 403 error says it.
const ImportPrivileges = "espcap-fast needs the cluster privileges monitor and manage_index_templates (not with --no-template) and the index privileges create_index and create_doc on its indices"

// InstallTemplate installs the composable index template name
// (PUT _index_template/<name>) unless the installed one has a "version" at
// least as high as body's. A body without "version" is always installed.
func (ix *Indexer) InstallTemplate(ctx context.Context, name string, body []byte) error {
	return ix.installVersioned(ctx, "_index_template", "index_templates", "index_template", name, body)
}

// InstallComponentTemplate is InstallTemplate for component templates
// (PUT _component_template/<name>); install components before the index
// template that composes them.
func (ix *Indexer) InstallComponentTemplate(ctx context.Context, name string, body []byte) error {
	return ix.installVersioned(ctx, "_component_template", "component_templates", "component_template", name, body)
}

func (ix *Indexer) installVersioned(ctx context.Context, api, listKey, itemKey, name string, body []byte) error {
	if name == "" || strings.ContainsAny(name, "/?#*, ") {
		return fmt.Errorf("bulk: bad template name %q", name)
	}
	ours, err := fastjson.ParseBytes(body)
	if err != nil {
		return fmt.Errorf("bulk: %s %s: body is not JSON: %w", api, name, err)
	}
	path := "/" + api + "/" + name
	if ourV := ours.Get("version"); ourV != nil {
		want := ourV.GetInt64()
		status, _, got, err := ix.do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return fmt.Errorf("bulk: get %s %s: %w", api, name, err)
		}
		switch status {
		case http.StatusOK:
			v, err := fastjson.ParseBytes(got)
			if err != nil {
				return fmt.Errorf("bulk: get %s %s: %w", api, name, err)
			}
			for _, t := range v.GetArray(listKey) {
				if string(t.GetStringBytes("name")) != name {
					continue
				}
				if iv := t.Get(itemKey, "version"); iv != nil && iv.GetInt64() >= want {
					ix.cfg.Logf("bulk: %s %s version %d installed, ours %d: kept", api, name, iv.GetInt64(), want)
					return nil
				}
			}
		case http.StatusNotFound:
		default:
			return fmt.Errorf("bulk: get %s %s: HTTP %d: %s", api, name, status, responseReason(new(fastjson.Parser), got))
		}
	}
	status, _, got, err := ix.do(ctx, http.MethodPut, path, body)
	if err != nil {
		return fmt.Errorf("bulk: put %s %s: %w", api, name, err)
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("bulk: put %s %s: HTTP %d: %s", api, name, status, responseReason(new(fastjson.Parser), got))
	}
	ix.cfg.Logf("bulk: %s %s installed", api, name)
	return nil
}

// Request performs one small request (not a bulk) on the cluster through the
// indexer's transport (same nodes, credentials and TLS settings) and returns
// the status and the whole answer. For searches, template checks and tests.
func (ix *Indexer) Request(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	status, _, b, err := ix.do(ctx, method, path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("bulk: %s %s: %w", method, path, err)
	}
	return status, b, nil
}
