package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/bulk"
)

// queryProblems explains an empty answer: no index matches the pattern, or
// the query names fields that none of the indices searched has (with the
// close names that exist). It asks the server's field capabilities API
// (Elasticsearch and OpenSearch alike); an empty slice means it found
// nothing wrong.
func queryProblems(ctx context.Context, ix *bulk.Indexer, index, q string) ([]string, error) {
	status, resp, err := ix.Request(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_field_caps?fields=*&ignore_unavailable=true&allow_no_indices=true", nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("field capabilities: HTTP %d", status)
	}
	v, err := fastjson.ParseBytes(resp)
	if err != nil {
		return nil, fmt.Errorf("field capabilities: %w", err)
	}
	if len(v.GetArray("indices")) == 0 {
		return []string{fmt.Sprintf("no index matches %q (see --index, --index-prefix, --data-stream)", index)}, nil
	}
	known := map[string]bool{}
	var names []string
	v.GetObject("fields").Visit(func(k []byte, _ *fastjson.Value) {
		known[string(k)] = true
		names = append(names, string(k))
	})
	sort.Strings(names)
	var problems []string
	for _, f := range queryFields(q) {
		if known[f] || strings.ContainsAny(f, "*?") && anyMatch(f, names) {
			continue
		}
		msg := fmt.Sprintf("field %q is in no index matching %q", f, index)
		if close := closeNames(f, names, 3); len(close) > 0 {
			msg += "; did you mean " + strings.Join(close, ", ") + "?"
		}
		problems = append(problems, msg)
	}
	return problems, nil
}

// fieldRef matches "name:" in a Lucene query string: a field name followed
// by a colon, outside quoted phrases (removed before matching).
var (
	fieldRef = regexp.MustCompile(`(?:^|[\s(+\-!])([A-Za-z_@][A-Za-z0-9_@.*?\-]*)\s*:`)
	phrase   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// queryFields returns the field names a Lucene query string names, once
// each, in order ("_exists_" and "_id"-style meta fields excluded; for
// _exists_:f, f is returned).
func queryFields(q string) []string {
	q = phrase.ReplaceAllString(q, `""`)
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, m := range fieldRef.FindAllStringSubmatchIndex(q, -1) {
		f := q[m[2]:m[3]]
		if f == "_exists_" {
			rest := strings.TrimLeft(q[m[1]:], " ")
			end := strings.IndexAny(rest, " )")
			if end < 0 {
				end = len(rest)
			}
			add(rest[:end])
			continue
		}
		if strings.HasPrefix(f, "_") {
			continue // _id, _index, ...
		}
		add(f)
	}
	return out
}

// anyMatch tells whether a field pattern with * or ? matches a name.
func anyMatch(pattern string, names []string) bool {
	re, err := regexp.Compile("^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$")
	if err != nil {
		return false
	}
	for _, n := range names {
		if re.MatchString(n) {
			return true
		}
	}
	return false
}

// closeNames returns up to max names that the field may have meant: the
// same name under layers. (Wireshark's "dns.qry.name" is
// layers.dns.qry_name), the same after mapping "." and "_" alike, the same
// last part, or a few letters apart.
func closeNames(field string, names []string, max int) []string {
	norm := func(s string) string {
		return strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(s), "layers."), "_", ".")
	}
	nf := norm(field)
	last := nf[strings.LastIndexByte(nf, '.')+1:]
	// Wireshark's either-direction fields: ip.addr is ip.src or ip.dst,
	// tcp.port is tcp.srcport or tcp.dstport
	alias := map[string]bool{}
	if base := strings.TrimSuffix(nf, last); base != "" {
		switch last {
		case "addr":
			alias[base+"src"], alias[base+"dst"] = true, true
		case "port":
			alias[base+"srcport"], alias[base+"dstport"] = true, true
		}
	}
	type cand struct {
		name string
		rank int
	}
	var cs []cand
	for _, n := range names {
		nn := norm(n)
		switch {
		case nn == nf || alias[nn]:
			cs = append(cs, cand{n, 0})
		case strings.HasSuffix(nn, "."+nf):
			cs = append(cs, cand{n, 1})
		case levenshtein(nn, nf) <= 2:
			cs = append(cs, cand{n, 2})
		case strings.HasSuffix(nn, "."+last) && strings.Contains(nf, "."):
			if first := nf[:strings.IndexByte(nf, '.')]; strings.Contains(nn, first) {
				cs = append(cs, cand{n, 3})
			}
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].rank < cs[j].rank })
	var out []string
	for _, c := range cs {
		if len(out) == max {
			break
		}
		if strings.HasSuffix(c.name, ".keyword") {
			continue
		}
		out = append(out, c.name)
	}
	return out
}

// levenshtein is the edit distance of a and b (bytes).
func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
