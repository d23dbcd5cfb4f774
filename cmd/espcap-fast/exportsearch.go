package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/export"
)

// exportPage is the number of hits asked for per search request.
const exportPage = 10000

// positionSearch finds the packet positions of the documents matching a
// query: a point in time (Elasticsearch's _pit, OpenSearch's
// _search/point_in_time) when the cluster has one, and search_after on
// @timestamp, pcap.file and pcap.offset (unique per packet, so paging is
// right even without a point in time), asking only for those fields.
//
// With flows set the documents are flow documents, whose pcap.file and
// pcap.packets list the positions of their packets (see encode.AppendFlow);
// sorted by @timestamp and flow.id.
type positionSearch struct {
	ix                *bulk.Indexer
	index, query      string
	from, to          string
	flows             bool
	truncated         int64  // flow documents whose positions were cut (pcap.truncated)
	pit               string // point-in-time id ("": none)
	shardDoc          bool   // page in _shard_doc order, positions from docvalue_fields
	noPIT             bool   // do not open a point in time (tests of the fallback)
	fieldSort         bool   // sort on the position fields even with a point in time (tests)
	page              int    // hits per request (0: exportPage)
	openSearchPITName bool   // OpenSearch: pit_id in answers and DELETE bodies
}

// filter returns the query: the query string, the time range and whether
// the documents must (true) or must not (false) have a position.
func (s *positionSearch) filter(withPos bool) []byte {
	qj, _ := json.Marshal(s.query) // a string always marshals
	b := []byte(`{"bool":{"must":[{"query_string":{"query":`)
	b = append(b, qj...)
	b = append(b, `,"lenient":true}}]`...)
	if withPos {
		b = append(b, `,"filter":[{"exists":{"field":"pcap.file"}}`...)
	} else {
		b = append(b, `,"must_not":[{"exists":{"field":"pcap.file"}}],"filter":[`...)
	}
	if s.from != "" || s.to != "" {
		if withPos {
			b = append(b, ',')
		}
		b = append(b, `{"range":{"@timestamp":{`...)
		if s.from != "" {
			fj, _ := json.Marshal(s.from)
			b = append(b, `"gte":`...)
			b = append(b, fj...)
			if s.to != "" {
				b = append(b, ',')
			}
		}
		if s.to != "" {
			tj, _ := json.Marshal(s.to)
			b = append(b, `"lt":`...)
			b = append(b, tj...)
		}
		b = append(b, `}}}`...)
	}
	return append(b, `]}}`...)
}

// openPIT opens a point in time over the index; without one (an old server,
// or one that refuses) the search pages without it.
func (s *positionSearch) openPIT(ctx context.Context) {
	if s.noPIT {
		return
	}
	backend, _ := s.ix.Backend()
	path := "/" + url.PathEscape(s.index) + "/_pit?keep_alive=1m&ignore_unavailable=true&allow_no_indices=true"
	key := "id"
	if backend == "opensearch" {
		path = "/" + url.PathEscape(s.index) + "/_search/point_in_time?keep_alive=1m&ignore_unavailable=true&allow_no_indices=true"
		key, s.openSearchPITName = "pit_id", true
	}
	status, resp, err := s.ix.Request(ctx, http.MethodPost, path, nil)
	if err != nil || status != http.StatusOK {
		return
	}
	s.pit = fastjson.GetString(resp, key)
	// Elasticsearch pages a point in time fastest in index order
	s.shardDoc = s.pit != "" && !s.openSearchPITName && !s.fieldSort
}

// closePIT releases the point in time.
func (s *positionSearch) closePIT() {
	if s.pit == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	idj, _ := json.Marshal(s.pit)
	if s.openSearchPITName {
		s.ix.Request(ctx, http.MethodDelete, "/_search/point_in_time", []byte(`{"pit_id":[`+string(idj)+`]}`))
	} else {
		s.ix.Request(ctx, http.MethodDelete, "/_pit", []byte(`{"id":`+string(idj)+`}`))
	}
	s.pit = ""
}

// collect adds the position of every matching document to pos.
func (s *positionSearch) collect(ctx context.Context, pos *export.Positions) error {
	s.openPIT(ctx)
	defer s.closePIT()
	var p fastjson.Parser
	var after []byte
	query := s.filter(true)
	page := s.page
	if page == 0 {
		page = exportPage
		if s.flows {
			page /= 10 // flow documents list up to 1024 packets each
		}
	}
	for {
		// packets: the position is the sort values (@timestamp in ns,
		// whatever its mapping, by numeric_type), so no _source is read
		body := fmt.Appendf(nil, `{"size":%d,"track_total_hits":false,"_source":false,"query":`, page)
		sort := `,"sort":[{"@timestamp":{"order":"asc","unmapped_type":"date_nanos","numeric_type":"date_nanos"}},{"pcap.file":{"order":"asc","unmapped_type":"keyword"}},{"pcap.offset":{"order":"asc","unmapped_type":"long"}}]`
		if s.shardDoc {
			// index order costs the server no sort (the client sorts)
			sort = `,"docvalue_fields":["pcap.file","pcap.offset",{"field":"@timestamp","format":"strict_date_optional_time_nanos"}],"sort":[{"_shard_doc":"asc"}]`
		}
		if s.flows {
			body = fmt.Appendf(nil, `{"size":%d,"track_total_hits":false,"_source":["@timestamp","pcap"],"query":`, page)
			sort = `,"sort":[{"@timestamp":{"order":"asc","unmapped_type":"date_nanos","numeric_type":"date_nanos"}},{"flow.id":{"order":"asc","unmapped_type":"keyword"}}]`
		}
		body = append(body, query...)
		body = append(body, sort...)
		path := "/" + url.PathEscape(s.index) + "/_search?ignore_unavailable=true&allow_no_indices=true"
		if s.pit != "" {
			idj, _ := json.Marshal(s.pit)
			body = append(body, `,"pit":{"id":`...)
			body = append(body, idj...)
			body = append(body, `,"keep_alive":"1m"}`...)
			path = "/_search"
		}
		if after != nil {
			body = append(body, `,"search_after":`...)
			body = append(body, after...)
		}
		body = append(body, '}')
		v, err := s.request(ctx, &p, path, body)
		if err != nil {
			return err
		}
		if id := v.GetStringBytes("pit_id"); len(id) > 0 && s.pit != "" {
			s.pit = string(id)
		}
		hits := v.GetArray("hits", "hits")
		for _, h := range hits {
			if s.flows {
				if err := s.addFlow(h, pos); err != nil {
					return err
				}
				continue
			}
			if s.shardDoc {
				f := h.Get("fields")
				file, off, at := f.GetArray("pcap.file"), f.GetArray("pcap.offset"), f.GetArray("@timestamp")
				var ts time.Time
				err := errors.New("missing")
				if len(at) == 1 {
					ts, err = time.Parse(time.RFC3339Nano, string(at[0].GetStringBytes()))
				}
				if len(file) != 1 || len(off) != 1 || err != nil {
					return fmt.Errorf("document %s: no usable @timestamp, pcap.file and pcap.offset (%s)", h.GetStringBytes("_id"), f)
				}
				if err := pos.Add(string(file[0].GetStringBytes()), off[0].GetInt64(), ts.UnixNano()); err != nil {
					return err
				}
				continue
			}
			// sort: @timestamp (ns), pcap.file, pcap.offset[, _shard_doc]
			sv := h.GetArray("sort")
			if len(sv) < 3 || sv[0].Type() != fastjson.TypeNumber || sv[1].Type() != fastjson.TypeString || sv[2].Type() != fastjson.TypeNumber {
				return fmt.Errorf("document %s: no usable @timestamp, pcap.file and pcap.offset (sort values %s)", h.GetStringBytes("_id"), h.Get("sort"))
			}
			if err := pos.Add(string(sv[1].GetStringBytes()), sv[2].GetInt64(), sv[0].GetInt64()); err != nil {
				return err
			}
		}
		if len(hits) < page {
			return nil
		}
		after = hits[len(hits)-1].Get("sort").MarshalTo(after[:0])
	}
}

// addFlow adds the positions of a flow document's packets: pcap.packets
// holds "i:offset:dt", i an index into pcap.file and dt the packet's time
// minus the flow's start (@timestamp), in ns.
func (s *positionSearch) addFlow(h *fastjson.Value, pos *export.Positions) error {
	src := h.Get("_source")
	bad := func(why string) error {
		return fmt.Errorf("flow document %s: %s: %.300s", h.GetStringBytes("_id"), why, src)
	}
	start, err := time.Parse(time.RFC3339Nano, string(src.GetStringBytes("@timestamp")))
	if err != nil {
		return bad("no usable @timestamp")
	}
	files := src.GetArray("pcap", "file")
	for _, p := range src.GetArray("pcap", "packets") {
		f, rest, ok1 := strings.Cut(string(p.GetStringBytes()), ":")
		o, d, ok2 := strings.Cut(rest, ":")
		fi, err1 := strconv.Atoi(f)
		off, err2 := strconv.ParseInt(o, 10, 64)
		dt, err3 := strconv.ParseInt(d, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil || fi < 0 || fi >= len(files) {
			return bad(fmt.Sprintf("bad pcap.packets entry %s", p))
		}
		if err := pos.Add(string(files[fi].GetStringBytes()), off, start.UnixNano()+dt); err != nil {
			return err
		}
	}
	if src.GetBool("pcap", "truncated") {
		s.truncated++
	}
	return nil
}

// countWithoutPosition counts the matching documents that have no
// position, whose packets cannot be exported.
func (s *positionSearch) countWithoutPosition(ctx context.Context) (int64, error) {
	body := append([]byte(`{"query":`), s.filter(false)...)
	body = append(body, '}')
	var p fastjson.Parser
	v, err := s.request(ctx, &p, "/"+url.PathEscape(s.index)+"/_count?ignore_unavailable=true&allow_no_indices=true", body)
	if err != nil {
		return 0, err
	}
	return v.GetInt64("count"), nil
}

// request POSTs body to path (see postJSON).
func (s *positionSearch) request(ctx context.Context, p *fastjson.Parser, path string, body []byte) (*fastjson.Value, error) {
	return postJSON(ctx, s.ix, p, path, body)
}

// postJSON POSTs body to path and returns the answer parsed with p, or an
// error with the server's reason (its root cause's type and reason).
func postJSON(ctx context.Context, ix *bulk.Indexer, p *fastjson.Parser, path string, body []byte) (*fastjson.Value, error) {
	status, resp, err := ix.Request(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, err
	}
	v, perr := p.ParseBytes(resp)
	if status != http.StatusOK {
		reason := strings.TrimSpace(string(resp))
		if perr == nil && v.Get("error") != nil {
			e := v.Get("error")
			if rc := e.GetArray("root_cause"); len(rc) > 0 {
				e = rc[0]
			}
			reason = string(e.GetStringBytes("type")) + ": " + string(e.GetStringBytes("reason"))
		}
		return nil, fmt.Errorf("HTTP %d: %s", status, reason)
	}
	if perr != nil {
		return nil, fmt.Errorf("answer is not JSON: %w", perr)
	}
	return v, nil
}
