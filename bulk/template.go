package bulk

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The index template lives in template/*.json (see docs/TEMPLATE.md): two
// component templates, one for the settings and one for the mappings, and
// an index template that composes them for one index prefix or data stream.
// encoding/json is used here, at start-up, on three small files; documents
// never go through it.
//
//go:embed template/*.json
var templateFS embed.FS

// Names of the component templates; they are shared by every prefix.
const (
	SettingsComponent = "espcap-fast-settings"
	MappingsComponent = "espcap-fast-mappings"
	// FlowMappingsComponent maps the fields of flow documents (docs/SCHEMA.md,
	// "Flow documents"); their index template composes it with the settings.
	FlowMappingsComponent = "espcap-fast-flow-mappings"
	// basePriority is the index template priority for an empty prefix; a
	// template gets basePriority+len(prefix), so two espcap-fast templates
	// whose patterns overlap ("packets-*" and "packets-lab-*") never share
	// a priority (Elasticsearch refuses that), and the longer, more specific
	// prefix wins.
	basePriority = 200
)

// Template is one template to install: Kind is "component_template" or
// "index_template", Body its JSON.
type Template struct {
	Kind string
	Name string
	Body []byte
}

// Target says which server the templates are for: settings that a backend
// does not know are left out (Elasticsearch before 8.13 and OpenSearch do not
// know index.mapping.total_fields.ignore_dynamic_beyond_limit).
type Target struct {
	Backend string // "elasticsearch" or "opensearch"
	Version string // "8.19.9"
}

// TemplateName returns the index template's name for an index prefix (or a
// data stream name): "espcap-fast-" and the prefix without trailing
// separators, e.g. "espcap-fast-packets" for "packets-".
func TemplateName(prefix string) string {
	p := strings.TrimRight(prefix, "-_.")
	if p == "" {
		return "espcap-fast"
	}
	var b strings.Builder
	b.WriteString("espcap-fast-")
	for _, c := range strings.ToLower(p) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// indexTemplate is index-template.json.
type indexTemplate struct {
	Version       int             `json:"version"`
	Priority      int             `json:"priority"`
	IndexPatterns []string        `json:"index_patterns"`
	DataStream    *struct{}       `json:"data_stream,omitempty"`
	ComposedOf    []string        `json:"composed_of"`
	Meta          json.RawMessage `json:"_meta,omitempty"`
}

// Templates returns the templates to install, in installation order
// (components first), for daily indices named prefix+"YYYY-MM-DD", or, when
// dataStream is not empty, for that data stream.
func Templates(prefix, dataStream string, tg Target) ([]Template, error) {
	settings, err := templateFS.ReadFile("template/" + SettingsComponent + ".json")
	if err != nil {
		return nil, fmt.Errorf("bulk: embedded template: %w", err)
	}
	if !supportsIgnoreDynamicBeyondLimit(tg) {
		if settings, err = dropSetting(settings); err != nil {
			return nil, err
		}
	}
	mappings, err := templateFS.ReadFile("template/" + MappingsComponent + ".json")
	if err != nil {
		return nil, fmt.Errorf("bulk: embedded template: %w", err)
	}
	if tg.Backend == "opensearch" {
		if mappings, err = openSearchMappings(mappings, tg); err != nil {
			return nil, err
		}
	}
	it, err := composedTemplate(prefix, dataStream, nil, "")
	if err != nil {
		return nil, err
	}
	return []Template{
		{Kind: "component_template", Name: SettingsComponent, Body: settings},
		{Kind: "component_template", Name: MappingsComponent, Body: mappings},
		it,
	}, nil
}

// composedTemplate renders index-template.json for prefix (or dataStream),
// composed of the given components and described by description (nil, "":
// the file's).
func composedTemplate(prefix, dataStream string, composedOf []string, description string) (Template, error) {
	raw, err := templateFS.ReadFile("template/index-template.json")
	if err != nil {
		return Template{}, fmt.Errorf("bulk: embedded template: %w", err)
	}
	var it indexTemplate
	if err := json.Unmarshal(raw, &it); err != nil {
		return Template{}, fmt.Errorf("bulk: embedded index template: %w", err)
	}
	name := TemplateName(prefix)
	if dataStream != "" {
		name = TemplateName(dataStream)
		it.IndexPatterns = []string{dataStream}
		it.DataStream = &struct{}{}
		it.Priority = basePriority + 256 + len(dataStream)
	} else {
		it.IndexPatterns = []string{prefix + "*"}
		it.Priority = basePriority + len(prefix)
	}
	if composedOf != nil {
		it.ComposedOf = composedOf
	}
	if description != "" {
		meta, err := json.Marshal(map[string]string{"description": description, "managed_by": "espcap-fast"})
		if err != nil {
			return Template{}, fmt.Errorf("bulk: index template: %w", err)
		}
		it.Meta = meta
	}
	body, err := json.MarshalIndent(it, "", "  ")
	if err != nil {
		return Template{}, fmt.Errorf("bulk: index template: %w", err)
	}
	return Template{Kind: "index_template", Name: name, Body: append(body, '\n')}, nil
}

// FlowTemplates returns the templates to install, in installation order,
// for the flow documents' indices named prefix+"YYYY-MM-DD" (or another
// period), or, when dataStream is not empty, for that data stream: the
// settings component (shared with packet indices), the flow mappings
// component and an index template composing them.
func FlowTemplates(prefix, dataStream string, tg Target) ([]Template, error) {
	ts, err := Templates(prefix, "", tg)
	if err != nil {
		return nil, err
	}
	mappings, err := templateFS.ReadFile("template/" + FlowMappingsComponent + ".json")
	if err != nil {
		return nil, fmt.Errorf("bulk: embedded template: %w", err)
	}
	desc := "espcap-fast flow documents, one index per UTC day of the flow start (docs/SCHEMA.md, Flow documents)"
	if dataStream != "" {
		desc = "espcap-fast flow documents, a data stream: interim updates are documents of their own (docs/SCHEMA.md, Flow documents)"
	}
	it, err := composedTemplate(prefix, dataStream, []string{SettingsComponent, FlowMappingsComponent}, desc)
	if err != nil {
		return nil, err
	}
	return []Template{
		ts[0], // settings
		{Kind: "component_template", Name: FlowMappingsComponent, Body: mappings},
		it,
	}, nil
}

// supportsIgnoreDynamicBeyondLimit: Elasticsearch 8.13 and later.
func supportsIgnoreDynamicBeyondLimit(tg Target) bool {
	if tg.Backend != "elasticsearch" {
		return false
	}
	major, minor := parseVersion(tg.Version)
	return major > 8 || major == 8 && minor >= 13
}

func parseVersion(v string) (major, minor int) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 1 {
		major, _ = strconv.Atoi(parts[0])
	}
	if len(parts) >= 2 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return major, minor
}

// supportsFlatObject: OpenSearch 2.7 and later have flat_object, its
// counterpart of Elasticsearch's flattened.
func supportsFlatObject(tg Target) bool {
	major, minor := parseVersion(tg.Version)
	return major > 2 || major == 2 && minor >= 7
}

// supportsDocValuesSearch reports whether fields mapped "index": false but
// with doc values can be searched: OpenSearch from 2.12 (Elasticsearch from
// 8.1, older than what espcap-fast supports).
func supportsDocValuesSearch(tg Target) bool {
	major, minor := parseVersion(tg.Version)
	return major > 2 || major == 2 && minor >= 12
}

// indexDocValueFields sets "index": true again on every field of props
// that is mapped "index": false with doc values, for servers that cannot
// search doc values.
func indexDocValueFields(props map[string]any) {
	for _, f := range props {
		m, _ := f.(map[string]any)
		if sub, ok := m["properties"].(map[string]any); ok {
			indexDocValueFields(sub)
			continue
		}
		if m["index"] == false && m["doc_values"] != false {
			delete(m, "index")
		}
	}
}

// openSearchMappings adapts the mappings component to OpenSearch, which has
// no flattened type: the dynamic templates that map unknown layers to
// flattened map them to flat_object instead (which takes no ignore_above),
// and before OpenSearch 2.7, which lacks flat_object too, they are left out,
// so that the fields of unknown layers become keywords one by one (bounded
// by the total-fields limit; see docs/SCHEMA.md, "Index template"). Before
// OpenSearch 2.12, which cannot search doc values, the fields the template
// keeps in doc values only are indexed as well.
func openSearchMappings(mappings []byte, tg Target) ([]byte, error) {
	var v map[string]any
	if err := json.Unmarshal(mappings, &v); err != nil {
		return nil, fmt.Errorf("bulk: embedded mappings template: %w", err)
	}
	tmpl, _ := v["template"].(map[string]any)
	mp, _ := tmpl["mappings"].(map[string]any)
	if props, ok := mp["properties"].(map[string]any); ok && !supportsDocValuesSearch(tg) {
		indexDocValueFields(props)
	}
	if dts, ok := mp["dynamic_templates"].([]any); ok {
		kept := dts[:0]
		for _, dt := range dts {
			flat := false
			for _, body := range dt.(map[string]any) {
				m, _ := body.(map[string]any)["mapping"].(map[string]any)
				if m["type"] == "flattened" {
					flat = true
					delete(m, "ignore_above")
					m["type"] = "flat_object"
				}
			}
			if !flat || supportsFlatObject(tg) {
				kept = append(kept, dt)
			}
		}
		mp["dynamic_templates"] = kept
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("bulk: mappings template: %w", err)
	}
	return buf.Bytes(), nil
}

// dropSetting removes index.mapping.total_fields.ignore_dynamic_beyond_limit
// from the settings component.
func dropSetting(settings []byte) ([]byte, error) {
	var v map[string]any
	if err := json.Unmarshal(settings, &v); err != nil {
		return nil, fmt.Errorf("bulk: embedded settings template: %w", err)
	}
	m := v
	for _, k := range []string{"template", "settings", "index", "mapping", "total_fields"} {
		next, ok := m[k].(map[string]any)
		if !ok {
			return settings, nil
		}
		m = next
	}
	delete(m, "ignore_dynamic_beyond_limit")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("bulk: settings template: %w", err)
	}
	return buf.Bytes(), nil
}

// InstallTemplates installs the component templates and the index template
// for prefix (or dataStream) on the connected server, each only when the
// installed one has a lower version (idempotent).
func (ix *Indexer) InstallTemplates(ctx context.Context, prefix, dataStream string) error {
	ts, err := Templates(prefix, dataStream, Target{Backend: ix.backend, Version: ix.version})
	if err != nil {
		return err
	}
	return ix.install(ctx, ts)
}

// InstallFlowTemplates installs the templates of flow documents (see
// FlowTemplates) for prefix (or dataStream), like InstallTemplates.
func (ix *Indexer) InstallFlowTemplates(ctx context.Context, prefix, dataStream string) error {
	ts, err := FlowTemplates(prefix, dataStream, Target{Backend: ix.backend, Version: ix.version})
	if err != nil {
		return err
	}
	return ix.install(ctx, ts)
}

// install installs ts in order.
func (ix *Indexer) install(ctx context.Context, ts []Template) error {
	var err error
	for _, t := range ts {
		switch t.Kind {
		case "component_template":
			err = ix.InstallComponentTemplate(ctx, t.Name, t.Body)
		default:
			err = ix.InstallTemplate(ctx, t.Name, t.Body)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
