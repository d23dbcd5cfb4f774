package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/bulk"
)

// runQuery is `espcap-fast query`, the successor of espcap's
// packet_query.sh: a Lucene query string over the packet indices, hits
// sorted by capture time (then frame number, then file name), printed as
// NDJSON (the documents as indexed) or as a table.
//
//	espcap-fast query --node localhost:9200 'layers.ip.src:10.0.0.1 AND protocol:dns'
func runQuery(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("espcap-fast query", flag.ContinueOnError)
	index := fs.String("index", "", "indices (or data stream) to search, comma-separated patterns (default: <--index-prefix>*, or --data-stream)")
	size := fs.Int("size", 100, "most hits to print (0: all)")
	format := fs.String("format", "ndjson", "ndjson (the documents) or table (time, protocol, src:port → dst:port, summary)")
	es := registerSearchFlags(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: espcap-fast query [--node URL] [--index PATTERN] [--size N] [--format ndjson|table] 'lucene query'\n")
		fmt.Fprintf(w, "Flags may come before or after the query; a query word starting with '-' needs '--' before it.\n\n")
		printFlags(w, fs, "node", "index", "index-prefix", "data-stream", "size", "format", "user", "password-file", "api-key-file", "ca-cert", "insecure")
	}
	if done, code := parseArgs(fs, args, stdout, stderr, usage); done {
		return code
	}
	q := strings.Join(fs.Args(), " ")
	es.nodeFromEnv()
	if *index == "" {
		*index = es.prefix + "*"
		if es.dataStream != "" {
			*index = es.dataStream
		}
	}
	switch {
	case len(es.nodes) == 0:
		fmt.Fprintln(stderr, "espcap-fast: query needs --node (or $ES_URL)")
		return 2
	case strings.TrimSpace(q) == "":
		fmt.Fprintln(stderr, "espcap-fast: query needs a query string (e.g. 'protocol:dns', or '*' for everything)")
		return 2
	case *size < 0:
		fmt.Fprintln(stderr, "espcap-fast: --size must be >= 0")
		return 2
	case *format != "ndjson" && *format != "table":
		fmt.Fprintln(stderr, "espcap-fast: --format is ndjson or table")
		return 2
	}
	if err := checkIndexPattern(*index); err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 2
	}
	ctx, cancel, ix, code := connectCommand(es, stderr, warningsOnly(stderr), 5*time.Minute)
	if ix == nil {
		return code
	}
	defer cancel()
	defer ix.Close(context.Background())
	out := bufio.NewWriterSize(stdout, 256<<10)
	defer out.Flush()
	n, total, err := search(ctx, ix, *index, q, *size, func(src *fastjson.Value, raw []byte) error {
		if *format == "table" {
			_, err := out.WriteString(tableRow(src))
			return err
		}
		out.Write(raw)
		return out.WriteByte('\n')
	})
	if err != nil {
		out.Flush()
		fmt.Fprintf(stderr, "espcap-fast: query: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "espcap-fast: %d of %d hits\n", n, total)
	if total == 0 {
		// say why, when the reason is one we can see
		problems, err := queryProblems(ctx, ix, *index, q)
		if err != nil {
			fmt.Fprintf(stderr, "espcap-fast: query: could not check the fields: %v\n", err)
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "espcap-fast: query: %s\n", p)
		}
		if len(problems) > 0 {
			return 1
		}
	}
	return 0
}

// search runs query_string q over index, sorted by @timestamp, frame.number
// and file_name, paging with search_after, and calls fn for up to max hits
// (0: all). It returns the hits printed and the total.
func search(ctx context.Context, ix *bulk.Indexer, index, q string, max int, fn func(src *fastjson.Value, raw []byte) error) (int, int64, error) {
	const page = 1000
	var p fastjson.Parser
	var after []byte
	n := 0
	var total int64
	path := "/" + url.PathEscape(index) + "/_search?ignore_unavailable=true&allow_no_indices=true"
	for {
		want := page
		if max > 0 && max-n < want {
			want = max - n
		}
		body := []byte(`{"size":`)
		body = strconv.AppendInt(body, int64(want), 10)
		body = append(body, `,"track_total_hits":true,"query":{"query_string":{"query":`...)
		qj, _ := json.Marshal(q) // a string always marshals
		body = append(body, qj...)
		body = append(body, `,"lenient":true}},"sort":[{"@timestamp":{"order":"asc","unmapped_type":"date_nanos"}},{"frame.number":{"order":"asc","unmapped_type":"long"}},{"file_name":{"order":"asc","unmapped_type":"keyword"}}]`...)
		if after != nil {
			body = append(body, `,"search_after":`...)
			body = append(body, after...)
		}
		body = append(body, '}')
		v, err := postJSON(ctx, ix, &p, path, body)
		if err != nil {
			return n, total, err
		}
		total = v.GetInt64("hits", "total", "value")
		hits := v.GetArray("hits", "hits")
		for _, h := range hits {
			src := h.Get("_source")
			if src == nil {
				continue
			}
			if err := fn(src, src.MarshalTo(nil)); err != nil {
				return n, total, err
			}
			n++
		}
		if len(hits) < want || (max > 0 && n >= max) || len(hits) == 0 {
			return n, total, nil
		}
		after = hits[len(hits)-1].Get("sort").MarshalTo(after[:0])
	}
}

// tableRow renders one document as a table line: time, protocol,
// src:port → dst:port, summary, with control characters escaped (termSafe).
func tableRow(d *fastjson.Value) string {
	ts := string(d.GetStringBytes("@timestamp"))
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		ts = t.UTC().Format("2006-01-02 15:04:05.000000")
	}
	src, dst := endpoint(d, "source"), endpoint(d, "destination")
	if src == "" {
		if l := layer(d, "eth"); l != nil {
			src, dst = string(l.GetStringBytes("src")), string(l.GetStringBytes("dst"))
		}
	}
	return fmt.Sprintf("%-26s %-8s %-45s %s\n", termSafe(ts), termSafe(string(d.GetStringBytes("protocol"))), termSafe(src+" → "+dst), termSafe(summarize(d)))
}

func endpoint(d *fastjson.Value, side string) string {
	ip := string(d.GetStringBytes(side, "ip"))
	if ip == "" {
		return ""
	}
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	if p := d.Get(side, "port"); p != nil {
		return ip + ":" + p.String()
	}
	return ip
}

// layer returns layers.<name>, the first object when it is repeated.
func layer(d *fastjson.Value, name string) *fastjson.Value {
	l := d.Get("layers", name)
	if l != nil && l.Type() == fastjson.TypeArray {
		a, _ := l.Array()
		if len(a) == 0 {
			return nil
		}
		return a[0]
	}
	return l
}

// str returns a field as text; a list is joined with commas.
func str(v *fastjson.Value, key string) string {
	f := v.Get(key)
	if f == nil {
		return ""
	}
	switch f.Type() {
	case fastjson.TypeString:
		return string(f.GetStringBytes())
	case fastjson.TypeArray:
		a, _ := f.Array()
		s := make([]string, len(a))
		for i, e := range a {
			if e.Type() == fastjson.TypeString {
				s[i] = string(e.GetStringBytes())
			} else {
				s[i] = e.String()
			}
		}
		return strings.Join(s, ",")
	}
	return f.String()
}

// icmpSummary names an ICMP or ICMPv6 message ("" if there is none).
func icmpSummary(d *fastjson.Value) string {
	if l := layer(d, "icmp"); l != nil {
		s := named(icmpTypes, "type", str(l, "type"))
		if str(l, "type") == "3" {
			return s + ", " + named(icmpUnreachable, "code", str(l, "code"))
		}
		return s + " code " + str(l, "code")
	}
	if l := layer(d, "icmpv6"); l != nil {
		return named(icmpv6Types, "type", str(l, "type")) + " code " + str(l, "code")
	}
	return ""
}

// summarize says in a few words what the packet is, from its highest layers
// (an ICMP error by its own type, not by the datagram it quotes).
func summarize(d *fastjson.Value) string {
	if p := string(d.GetStringBytes("protocol")); p == "icmp" || p == "icmpv6" {
		return icmpSummary(d)
	}
	if l := layer(d, "dns"); l != nil {
		s := "query " + str(l, "qry_name")
		if l.GetBool("flags_response") {
			s = "response " + str(l, "qry_name")
			if a := str(l, "a"); a != "" {
				s += " A " + a
			}
			if a := str(l, "aaaa"); a != "" {
				s += " AAAA " + a
			}
		}
		return s
	}
	if l := layer(d, "http"); l != nil {
		switch {
		case l.GetBool("request"):
			return str(l, "request_method") + " " + str(l, "host") + str(l, "request_uri")
		case l.GetBool("response"):
			return str(l, "response_code") + " " + str(l, "response_phrase")
		}
		return "continuation"
	}
	if l := layer(d, "tls"); l != nil {
		if sni := str(l, "handshake_extensions_server_name"); sni != "" {
			return "client hello " + sni
		}
		if t := str(l, "handshake_type"); t != "" {
			return named(tlsHandshakeTypes, "handshake type", t)
		}
		if t := str(l, "record_content_type"); t != "" {
			return named(tlsContentTypes, "record type", t)
		}
	}
	if l := layer(d, "dhcp"); l != nil {
		return "DHCP " + named(dhcpMessageTypes, "type", str(l, "option_dhcp")) + " " + str(l, "hw_mac_addr")
	}
	if l := layer(d, "arp"); l != nil {
		if str(l, "opcode") == "1" {
			return "who has " + str(l, "dst_proto_ipv4") + "? tell " + str(l, "src_proto_ipv4")
		}
		return str(l, "src_proto_ipv4") + " is at " + str(l, "src_hw_mac")
	}
	if s := icmpSummary(d); s != "" {
		return s
	}
	if l := layer(d, "tcp"); l != nil {
		var f []string
		for _, k := range []string{"syn", "fin", "reset", "push", "ack"} {
			if l.GetBool("flags_" + k) {
				f = append(f, strings.ToUpper(k[:1])+k[1:])
			}
		}
		return "[" + strings.Join(f, ",") + "] len " + str(l, "len")
	}
	if l := layer(d, "udp"); l != nil {
		return "len " + str(l, "length")
	}
	return str(d.Get("frame"), "protocols")
}
