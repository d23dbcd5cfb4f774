package bulk

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/valyala/fastjson"
)

// bulkFilterPath trims the bulk response to what we read: the errors flag and
// each item's status and error (every item keeps its status, so positions in
// the items array are preserved).
const bulkFilterPath = "errors,items.*.status,items.*.error"

// MaxResponseSize is the most bytes read of one server answer. A bulk
// answer trimmed by filter_path holds a few dozen bytes per item, so a larger
// one is not a plausible answer: the request counts as failed (retried, then
// dead-lettered like any other failure) instead of letting a server, or
// anything between it and us on plain http, grow our memory without bound.
const MaxResponseSize = 32 << 20

// readResponse reads a whole answer into buf[:0], growing buf by doubling up
// to MaxResponseSize bytes; an answer longer than that is an error.
func readResponse(buf []byte, body io.Reader) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= MaxResponseSize {
				// full: a single byte more is too much
				var one [1]byte
				n, err := io.ReadFull(body, one[:])
				switch {
				case n > 0:
					return buf, fmt.Errorf("answer larger than %d MiB", MaxResponseSize>>20)
				case err == io.EOF:
					return buf, nil
				}
				return buf, err
			}
			nb := make([]byte, len(buf), min(max(2*cap(buf), 16<<10), MaxResponseSize))
			copy(nb, buf)
			buf = nb
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// noErrors reports whether a bulk response says "errors":false. It looks only
// at the head of the body: Elasticsearch and OpenSearch write "took" and
// "errors" before the (long) items array, and filter_path keeps that order.
func noErrors(resp []byte) bool {
	head := resp
	if len(head) > 96 {
		head = head[:96]
	}
	i := bytes.Index(head, []byte(`"errors"`))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(head[i+len(`"errors"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	return bytes.HasPrefix(rest, []byte("false"))
}

// itemResult is what the response says about one bulk item.
type itemResult struct {
	status int
	err    *fastjson.Value // the item's "error" object, nil when none
}

// parseItems parses a bulk response that has "errors":true and calls fn for
// each of the want items, in request order. fn must not keep err beyond the
// call unless it copies it (it points into p's memory).
func parseItems(p *fastjson.Parser, resp []byte, want int, fn func(i int, r itemResult)) error {
	v, err := p.ParseBytes(resp)
	if err != nil {
		return fmt.Errorf("parse bulk response: %w", err)
	}
	items := v.GetArray("items")
	if len(items) != want {
		return fmt.Errorf("bulk response has %d items, request had %d", len(items), want)
	}
	for i, wrap := range items {
		o, err := wrap.Object()
		if err != nil {
			return fmt.Errorf("bulk response item %d: %w", i, err)
		}
		var inner *fastjson.Value
		o.Visit(func(_ []byte, v *fastjson.Value) {
			if inner == nil {
				inner = v
			}
		})
		if inner == nil {
			return errors.New("bulk response item " + fmt.Sprint(i) + " is empty")
		}
		r := itemResult{status: inner.GetInt("status"), err: inner.Get("error")}
		if r.status == 0 {
			return fmt.Errorf("bulk response item %d has no status", i)
		}
		fn(i, r)
	}
	return nil
}

// Item outcome classes.
const (
	outIndexed = iota
	outDuplicate
	outRetry
	outReject
)

// classify maps an item status to what the indexer does with the item: 2xx
// indexed, 409 duplicate (the "create" of an _id that exists: a re-import),
// 429 and 5xx retried, any other status rejected for good.
func classify(status int) int {
	switch {
	case status >= 200 && status < 300:
		return outIndexed
	case status == 409:
		return outDuplicate
	case status == 429 || status >= 500:
		return outRetry
	default:
		return outReject
	}
}

// errorSummary renders an item error compactly for logs: "type: reason".
func errorSummary(e *fastjson.Value) string {
	if e == nil {
		return "no error detail"
	}
	t := e.GetStringBytes("type")
	r := e.GetStringBytes("reason")
	if len(t) == 0 && len(r) == 0 {
		s := e.String()
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		return s
	}
	s := string(t) + ": " + string(r)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
