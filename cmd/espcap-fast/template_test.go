package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/bulk"
)

// mappedTypes loads the embedded mappings component as path → type
// ("object" for objects with properties).
func mappedTypes(t *testing.T) map[string]string {
	t.Helper()
	ts, err := bulk.Templates("packets-", "", bulk.Target{Backend: "elasticsearch", Version: "8.19.9"})
	if err != nil {
		t.Fatal(err)
	}
	out := componentTypes(t, ts, bulk.MappingsComponent)
	if len(out) < 200 {
		t.Fatalf("only %d mapped fields: template not loaded?", len(out))
	}
	return out
}

// flowMappedTypes is mappedTypes for flow documents.
func flowMappedTypes(t *testing.T) map[string]string {
	t.Helper()
	ts, err := bulk.FlowTemplates("flows-", "", bulk.Target{Backend: "elasticsearch", Version: "8.19.9"})
	if err != nil {
		t.Fatal(err)
	}
	out := componentTypes(t, ts, bulk.FlowMappingsComponent)
	if len(out) < 40 {
		t.Fatalf("only %d mapped flow fields: template not loaded?", len(out))
	}
	return out
}

// componentTypes returns the fields the component named name of ts maps.
func componentTypes(t *testing.T, ts []bulk.Template, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tm := range ts {
		if tm.Name == name {
			walkMappings(t, tm.Body, func(path string, f fieldMapping, object bool) {
				if object {
					out[path] = "object"
				} else {
					out[path] = f.Type
				}
			})
		}
	}
	return out
}

// walkMappings calls fn for every field of a mappings component's body:
// objects (with properties, or no type) and leaves.
func walkMappings(t *testing.T, body []byte, fn func(path string, f fieldMapping, object bool)) {
	t.Helper()
	var comp struct {
		Template struct {
			Mappings struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(body, &comp); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, props map[string]json.RawMessage)
	walk = func(prefix string, props map[string]json.RawMessage) {
		for k, raw := range props {
			var f struct {
				fieldMapping
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
			p := prefix + k
			if f.Properties != nil || f.Type == "" {
				fn(p, f.fieldMapping, true)
				walk(p+".", f.Properties)
				continue
			}
			fn(p, f.fieldMapping, false)
		}
	}
	walk("", comp.Template.Mappings.Properties)
}

// leafPaths collects every field path of a document with the JSON kinds of
// its values; arrays (repeated fields and repeated layers) are looked into.
func leafPaths(prefix string, v any, out map[string]map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if m, ok := e.(map[string]any); ok && len(m) == 0 {
				// an empty layer object (http/tls continuation)
				if out[p] == nil {
					out[p] = map[string]bool{}
				}
				out[p]["object"] = true
				continue
			}
			leafPaths(p, e, out)
		}
	case []any:
		for _, e := range x {
			leafPaths(prefix, e, out)
		}
	default:
		if out[prefix] == nil {
			out[prefix] = map[string]bool{}
		}
		switch x.(type) {
		case string:
			out[prefix]["string"] = true
		case float64, json.Number:
			out[prefix]["number"] = true
		case bool:
			out[prefix]["bool"] = true
		default:
			out[prefix]["null"] = true
		}
	}
}

// compatible says whether values of a JSON kind can go into a mapped type
// the way the schema intends.
func compatible(kind, typ string) bool {
	switch kind {
	case "string":
		return typ == "keyword" || typ == "ip" || typ == "date" || typ == "date_nanos" || typ == "text"
	case "number":
		return typ == "long" || typ == "double"
	case "bool":
		return typ == "boolean"
	case "object":
		return typ == "object"
	}
	return false
}

// TestTemplateMapsEveryField runs the real pipeline over every capture of
// testdata/pcaps (and the shared corpus when it is there) with packet and
// flow documents (--records both) and fails on any field of any document
// that its template (packets or flows) does not map explicitly with a
// fitting type.
func TestTemplateMapsEveryField(t *testing.T) {
	mapped, flowMapped := mappedTypes(t), flowMappedTypes(t)
	dirs := []string{"../../testdata/pcaps", "../../testdata/malformed"}
	if st, err := os.Stat("../../../shared/pcaps"); err == nil && st.IsDir() && !testing.Short() {
		dirs = append(dirs, "../../../shared/pcaps")
	}
	seen := map[string]map[string]bool{}
	seenFlow := map[string]map[string]bool{}
	ndocs, nflows := 0, 0
	for _, dir := range dirs {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		out, errs, code := espcap(t, "-q", "--records", "both", "--recursive", "--dir", dir)
		if code != 0 && code != 1 { // 1: a damaged file, on purpose
			t.Fatalf("%s: exit %d: %s", dir, code, errs)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if line == "" {
				continue
			}
			dec := json.NewDecoder(strings.NewReader(line))
			var d map[string]any
			if err := dec.Decode(&d); err != nil {
				t.Fatalf("not JSON: %v: %.200s", err, line)
			}
			if isFlowDoc(d) {
				leafPaths("", d, seenFlow)
				nflows++
				continue
			}
			leafPaths("", d, seen)
			ndocs++
		}
	}
	if ndocs < 2000 || nflows < 100 {
		t.Fatalf("only %d packet and %d flow documents from %v", ndocs, nflows, dirs)
	}
	checkMapped(t, seen, mapped, bulk.MappingsComponent)
	checkMapped(t, seenFlow, flowMapped, bulk.FlowMappingsComponent)
	t.Logf("%d packet documents (%d distinct fields, %d mapped), %d flow documents (%d distinct fields, %d mapped): all mapped",
		ndocs, len(seen), len(mapped), nflows, len(seenFlow), len(flowMapped))
}

// checkMapped fails on every field of seen that mapped (the component
// named comp) does not map with a fitting type.
func checkMapped(t *testing.T, seen map[string]map[string]bool, mapped map[string]string, comp string) {
	t.Helper()
	var paths []string
	for p := range seen {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		typ, ok := mapped[p]
		if !ok {
			t.Errorf("field %s (%v) is not in bulk/template/%s.json", p, keys(seen[p]), comp)
			continue
		}
		for kind := range seen[p] {
			if !compatible(kind, typ) {
				t.Errorf("field %s holds %s values but is mapped as %s", p, kind, typ)
			}
		}
	}
}

// TestTemplateCoversSchema checks that every layer field docs/SCHEMA.md
// names is mapped, so fields that the test captures do not exercise are
// mapped too.
func TestTemplateCoversSchema(t *testing.T) {
	mapped := mappedTypes(t)
	b, err := os.ReadFile("../../docs/SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9]+)` \\| (.*) \\|$")
	field := regexp.MustCompile("`([a-z0-9_]+)`")
	n := 0
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		layer := m[1]
		if _, ok := mapped["layers."+layer]; !ok {
			continue // a top-level table row, not a layer
		}
		for _, f := range field.FindAllStringSubmatch(m[2], -1) {
			name := f[1]
			if name == layer || name == "true" || layer == "tcp" && (name == "seq" || name == "ack") {
				continue // prose: "an empty `http` object", "Wireshark's relative `seq`/`ack`"
			}
			p := "layers." + layer + "." + name
			if _, ok := mapped[p]; !ok {
				t.Errorf("docs/SCHEMA.md names %s; the template does not map it", p)
			}
			n++
		}
	}
	if n < 150 {
		t.Fatalf("found only %d layer fields in docs/SCHEMA.md", n)
	}
}

// keys returns the keys of m, sorted.
func keys[V any](m map[string]V) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func TestTemplatePrint(t *testing.T) {
	out, errs, code := espcap(t, "template", "--print", "--index-prefix", "lab-packets-", "--flow-index-prefix", "lab-flows-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"PUT _component_template/espcap-fast-settings\n{",
		"PUT _component_template/espcap-fast-mappings\n{",
		"PUT _index_template/espcap-fast-lab-packets\n{",
		`"lab-packets-*"`,
		`"date_nanos"`,
		"PUT _component_template/espcap-fast-flow-mappings\n{",
		"PUT _index_template/espcap-fast-lab-flows\n{",
		`"lab-flows-*"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("template --print lacks %q", want)
		}
	}
	if n := strings.Count(out, "PUT _component_template/espcap-fast-settings\n"); n != 1 {
		t.Errorf("settings component printed %d times", n)
	}
	// Every printed body is JSON.
	parts := regexp.MustCompile(`(?m)^PUT \S+\n`).Split(out, -1)
	for _, p := range parts[1:] {
		var v any
		if err := json.Unmarshal([]byte(p), &v); err != nil {
			t.Errorf("printed body is not JSON: %v\n%.300s", err, p)
		}
	}
	out, _, _ = espcap(t, "template", "--print", "--backend", "opensearch")
	if strings.Contains(out, "ignore_dynamic_beyond_limit") {
		t.Error("the OpenSearch settings must not carry ignore_dynamic_beyond_limit")
	}
	if _, err := os.Stat(filepath.Join("..", "..", "bulk", "template", "index-template.json")); err != nil {
		t.Error(err)
	}
}
