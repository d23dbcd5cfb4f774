package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/internal/estest"
)

// fieldMapping is what the hit-set test needs to know of one mapped field.
type fieldMapping struct {
	Type        string
	Index       *bool
	DocValues   *bool `json:"doc_values"`
	Normalizer  string
	IgnoreAbove int `json:"ignore_above"`
}

// searchable says whether a query can find the field's values: indexed, or
// (Elasticsearch ≥ 8.1, OpenSearch ≥ 2.12) kept in doc values.
func (f fieldMapping) searchable() bool {
	return f.Index == nil || *f.Index || f.DocValues == nil || *f.DocValues
}

// leafMappings returns path → mapping of the leaves of a mappings
// component's body.
func leafMappings(t *testing.T, body []byte) map[string]fieldMapping {
	t.Helper()
	out := map[string]fieldMapping{}
	walkMappings(t, body, func(path string, f fieldMapping, object bool) {
		if !object {
			out[path] = f
		}
	})
	return out
}

// oldTemplate is the index template of mappings version 7 (the last one
// that indexed every field, kept in testdata/template-v7) for indices
// prefix*, in the form backend takes.
func oldTemplate(t *testing.T, prefix, backend string) []byte {
	t.Helper()
	var parts [2]struct {
		Template map[string]any `json:"template"`
	}
	for i, name := range []string{"espcap-fast-settings.json", "espcap-fast-mappings.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "template-v7", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &parts[i]); err != nil {
			t.Fatal(err)
		}
	}
	settings := parts[0].Template["settings"].(map[string]any)
	mappings := parts[1].Template["mappings"].(map[string]any)
	if backend == "opensearch" {
		// as bulk.Templates does for OpenSearch: no
		// ignore_dynamic_beyond_limit, flat_object for unknown layers
		delete(settings["index"].(map[string]any)["mapping"].(map[string]any)["total_fields"].(map[string]any), "ignore_dynamic_beyond_limit")
		for _, dt := range mappings["dynamic_templates"].([]any) {
			for _, body := range dt.(map[string]any) {
				m := body.(map[string]any)["mapping"].(map[string]any)
				if m["type"] == "flattened" {
					m["type"] = "flat_object"
					delete(m, "ignore_above")
				}
			}
		}
	}
	b, err := json.Marshal(map[string]any{
		"index_patterns": []string{prefix + "*"},
		"priority":       900,
		"template":       map[string]any{"settings": settings, "mappings": mappings},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// queryValue writes v as a query_string term.
func queryValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if x < 0 {
			return strconv.Quote(strconv.FormatFloat(x, 'f', -1, 64))
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// sameValue says whether a document's value equals the queried one the
// way the field's mapping compares them.
func sameValue(f fieldMapping, doc, want any) bool {
	ds, dok := doc.(string)
	ws, wok := want.(string)
	switch {
	case dok && wok && f.Normalizer == "lowercase":
		return strings.ToLower(ds) == strings.ToLower(ws)
	case dok && wok && f.Type == "ip":
		a, err1 := netip.ParseAddr(ds)
		b, err2 := netip.ParseAddr(ws)
		return err1 == nil && err2 == nil && a == b
	}
	return fmt.Sprint(doc) == fmt.Sprint(want)
}

// searchKeys runs a query_string query (not lenient: a field that cannot
// be searched is an error) on index and returns the packets it finds.
func searchKeys(t *testing.T, base, index, q string) ([]pkt, error) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"size":             10000,
		"track_total_hits": true,
		"_source":          []string{"file_name", "frame.number"},
		"query":            map[string]any{"query_string": map[string]any{"query": q}},
	})
	st, b := esCall(t, base, http.MethodPost, "/"+index+"/_search", body)
	if st != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.300s", st, b)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				Source docT `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	ks := make([]pkt, 0, len(r.Hits.Hits))
	for _, h := range r.Hits.Hits {
		ks = append(ks, keyOf(h.Source))
	}
	return ks, nil
}

// TestTemplateHitSets imports every capture of testdata/pcaps twice, once
// under the version 7 template (every field indexed) and once under
// today's lean one, and asks both the same questions: for every field of
// every document whose mapping keeps it searchable, its most common value
// and its rarest (with -short only the most common); and the fixed list of bench/es-cost-queries.txt (the
// queries of docs/ELASTICSEARCH.md and one or more per field family). Each
// query must find the same packets under both templates, and the term
// queries exactly the packets whose document has that value. The fields
// the lean template keeps only in _source (docs/SCHEMA.md, "Index
// template") must be the ones the schema lists.
func TestTemplateHitSets(t *testing.T) {
	base := estest.URL(t)
	backend := "elasticsearch"
	if _, b := esCall(t, base, http.MethodGet, "/", nil); strings.Contains(string(b), `"distribution" : "opensearch"`) || strings.Contains(string(b), `"distribution":"opensearch"`) {
		backend = "opensearch"
	}
	pcaps, err := filepath.Glob("../../testdata/pcaps/*")
	if err != nil || len(pcaps) < 20 {
		t.Fatalf("testdata captures: %d, %v", len(pcaps), err)
	}
	var files []string
	for _, p := range pcaps {
		files = append(files, "--file", p)
	}
	out, errs, code := espcap(t, append([]string{"-q"}, files...)...)
	if code != 0 {
		t.Fatalf("offline run: exit %d: %s", code, errs)
	}
	all := docs(t, out)

	oldP := testPrefix(t, base, "tplold")
	newP := testPrefix(t, base, "tplnew")
	t.Cleanup(func() { esCall(t, base, http.MethodDelete, "/_index_template/"+strings.TrimSuffix(oldP, "-"), nil) })
	if st, b := esCall(t, base, http.MethodPut, "/_index_template/"+strings.TrimSuffix(oldP, "-"), oldTemplate(t, oldP, backend)); st != http.StatusOK {
		t.Fatalf("old template: HTTP %d: %s", st, b)
	}
	for _, run := range [][]string{
		{"--index-prefix", oldP, "--no-template"},
		{"--index-prefix", newP},
	} {
		args := append([]string{"-q", "--node", base, "--dead-letter", filepath.Join(t.TempDir(), "dl.ndjson")}, run...)
		if _, errs, code := espcap(t, append(args, files...)...); code != 0 {
			t.Fatalf("import %v: exit %d: %s", run, code, errs)
		}
		refresh(t, base, run[1])
		if n := countIn(t, base, run[1]+"*"); n != len(all) {
			t.Fatalf("%s*: %d documents, want %d", run[1], n, len(all))
		}
	}

	ts, err := bulk.Templates(newP, "", bulk.Target{Backend: "elasticsearch", Version: "8.19.9"})
	if err != nil {
		t.Fatal(err)
	}
	var mappings map[string]fieldMapping
	for _, tm := range ts {
		if tm.Name == bulk.MappingsComponent {
			mappings = leafMappings(t, tm.Body)
		}
	}
	var sourceOnly []string
	for p, f := range mappings {
		if !f.searchable() {
			sourceOnly = append(sourceOnly, p)
		}
	}
	sort.Strings(sourceOnly)
	if want := schemaSourceOnly(t); strings.Join(sourceOnly, " ") != strings.Join(want, " ") {
		t.Errorf("fields kept only in _source: template %v, docs/SCHEMA.md %v", sourceOnly, want)
	}

	// the questions: per searchable field, its most common and rarest value
	type question struct {
		q     string
		field string
		value any
	}
	counts := map[string]map[string]int{}
	values := map[string]map[string]any{}
	for _, d := range all {
		leaves := map[string][]string{}
		flatten("", d, leaves)
		for path, vs := range leaves {
			f, ok := mappings[path]
			if !ok || !f.searchable() || f.Type == "text" {
				continue
			}
			for _, js := range vs {
				var v any
				if err := json.Unmarshal([]byte(js), &v); err != nil || v == nil {
					continue
				}
				if s, ok := v.(string); ok && (f.IgnoreAbove > 0 && len(s) > f.IgnoreAbove || s == "") {
					continue
				}
				if counts[path] == nil {
					counts[path], values[path] = map[string]int{}, map[string]any{}
				}
				k := fmt.Sprint(v)
				counts[path][k]++
				values[path][k] = v
			}
		}
	}
	var qs []question
	for path, c := range counts {
		keys := make([]string, 0, len(c))
		for k := range c {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return c[keys[i]] > c[keys[j]] || c[keys[i]] == c[keys[j]] && keys[i] < keys[j] })
		ask := []string{keys[0], keys[len(keys)-1]}
		if testing.Short() {
			ask = ask[:1] // the other flavors of scripts/test.sh: the most common value
		}
		for _, k := range ask {
			v := values[path][k]
			qs = append(qs, question{q: path + ":" + queryValue(v), field: path, value: v})
		}
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].q < qs[j].q })
	fixed := fixedQueries(t)
	for _, q := range fixed {
		qs = append(qs, question{q: q})
	}
	if len(counts) < 150 {
		t.Fatalf("only %d searchable fields have values in testdata: documents not parsed?", len(counts))
	}

	hits, same := 0, 0
	for _, q := range qs {
		oldK, err := searchKeys(t, base, oldP+"*", q.q)
		if err != nil {
			t.Errorf("%s: old template: %v", q.q, err)
			continue
		}
		newK, err := searchKeys(t, base, newP+"*", q.q)
		if err != nil {
			t.Errorf("%s: lean template: %v", q.q, err)
			continue
		}
		if !sameKeys(oldK, newK) {
			t.Errorf("%s: %d hits under the old template, %d under the lean one", q.q, len(oldK), len(newK))
			continue
		}
		same++
		hits += len(newK)
		if q.field == "" {
			continue
		}
		var want []pkt
		for _, d := range all {
			for _, v := range get(d, q.field) {
				if sameValue(mappings[q.field], v, q.value) {
					want = append(want, keyOf(d))
					break
				}
			}
		}
		if !sameKeys(want, newK) {
			t.Errorf("%s: %d hits, %d documents have the value", q.q, len(newK), len(want))
		}
	}
	t.Logf("%s: %d queries (%d fixed) over %d fields, %d answered alike, %d hits in all", backend, len(qs), len(fixed), len(counts), same, hits)
}

// fixedQueries reads bench/es-cost-queries.txt: one query_string per line,
// # comments.
func fixedQueries(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../bench/es-cost-queries.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var qs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			qs = append(qs, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(qs) < 20 {
		t.Fatalf("bench/es-cost-queries.txt: only %d queries", len(qs))
	}
	return qs
}

// schemaSourceOnly returns the fields docs/SCHEMA.md lists as kept only in
// _source: the backquoted names of the paragraph that starts with
// "Kept only in `_source`".
func schemaSourceOnly(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "Kept only in `_source`")
	if i < 0 {
		t.Fatal("docs/SCHEMA.md: no paragraph \"Kept only in `_source`\"")
	}
	para := s[i+len("Kept only in `_source`"):]
	if j := strings.Index(para, "\n\n"); j >= 0 {
		para = para[:j]
	}
	var out []string
	for k, part := range strings.Split(para, "`") {
		if k%2 == 1 && strings.Contains(part, ".") || k%2 == 1 && part == "sniff_timestamp" {
			out = append(out, part)
		}
	}
	sort.Strings(out)
	return out
}

// TestTemplateDocValuesOnlyByVersion: the fields kept in doc values only
// stay so where the server searches doc values, and are indexed again on
// OpenSearch before 2.12, which cannot; fields kept only in _source stay so
// everywhere.
func TestTemplateDocValuesOnlyByVersion(t *testing.T) {
	for _, c := range []struct {
		backend, version string
		dvOnly           bool
	}{
		{"elasticsearch", "8.19.9", true},
		{"elasticsearch", "9.1.0", true},
		{"opensearch", "2.19.6", true},
		{"opensearch", "2.12.0", true},
		{"opensearch", "3.0.0", true},
		{"opensearch", "2.11.1", false},
		{"opensearch", "1.3.20", false},
	} {
		ts, err := bulk.Templates("packets-", "", bulk.Target{Backend: c.backend, Version: c.version})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]fieldMapping
		for _, tm := range ts {
			if tm.Name == bulk.MappingsComponent {
				m = leafMappings(t, tm.Body)
			}
		}
		dv, none := 0, 0
		for _, f := range m {
			switch {
			case f.Index != nil && !*f.Index && f.DocValues != nil && !*f.DocValues:
				none++
			case f.Index != nil && !*f.Index:
				dv++
			}
		}
		if c.dvOnly != (dv > 100) || none < 20 {
			t.Errorf("%s %s: %d fields in doc values only, %d only in _source", c.backend, c.version, dv, none)
		}
		if f := m["layers.ip.ttl"]; c.dvOnly != (f.Index != nil && !*f.Index) {
			t.Errorf("%s %s: layers.ip.ttl mapped %+v", c.backend, c.version, f)
		}
	}
}
