package main

// Flow documents in the Elasticsearch sink (--records flows|both --node):
// their own time-named indices (--flow-index-prefix), the flow.id as _id,
// and the bulk action "index" with an external version, so that the final
// document of a flow replaces its interim updates whatever order the bulk
// requests arrive in, and a re-import changes nothing. See
// docs/ELASTICSEARCH.md, "Flow records".

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/pipeline"
)

// validateNode checks the flow flags of an indexing run and hands the flow
// index prefix to the sink.
func (f *flowFlags) validateNode(es *esFlags) error {
	if err := checkIndexName(f.indexPrefix, "--flow-index-prefix"); err != nil {
		return err
	}
	switch {
	case es.dataStream != "":
		return fmt.Errorf("--records %s: not supported with --data-stream yet (flow documents are replaced by later ones, which data streams do not allow); use --index-prefix", f.records)
	case f.indexPrefix == es.prefix:
		return fmt.Errorf("--flow-index-prefix %q: must differ from --index-prefix (packet and flow documents have different templates)", f.indexPrefix)
	}
	es.flowPrefix = f.indexPrefix
	return nil
}

// flowIndexFor returns the flow index for a flow start (Unix ns).
func (s *indexSink) flowIndexFor(ts int64) string {
	return s.flowIx.forTime(s.flags.flowPrefix, s.flags.periodValue, ts, s.indices)
}

// dayOf returns the UTC day number of a Unix ns time.
func dayOf(ts int64) int64 {
	const dayNs = 86400 * int64(time.Second)
	day := ts / dayNs
	if ts < 0 && ts%dayNs != 0 {
		day--
	}
	return day
}

// flowVersion is the external version of a flow document: it grows with
// the flow's last packet time, and the final document is above the interim
// update of the same last packet. Re-sending the same document gives the
// same version, answered 409 (a duplicate).
func flowVersion(f *pipeline.FlowDoc) int64 {
	end := max(f.End, 0)
	if end > math.MaxInt64/2-2 {
		end = math.MaxInt64/2 - 2
	}
	v := 2*end + 1
	if f.Final {
		v++
	}
	return v
}

// versioned is the bulk item of a document sent with external version v
// (a flow document: action "index", so that a later version replaces it);
// v 0 is a plain packet document (Config.Action, "create").
func versioned(v int64) bulk.ItemOptions {
	if v <= 0 {
		return bulk.ItemOptions{}
	}
	return bulk.ItemOptions{Action: "index", Version: v}
}

// writeFlows indexes the flow documents of b (see Write).
func (s *indexSink) writeFlows(b *pipeline.Batch) error {
	for i := range b.Flows() {
		f := b.Flow(i)
		err := s.ix.AddWith(s.ctx, s.flowIndexFor(f.Start), f.ID, f.Doc,
			versioned(flowVersion(&f)))
		if err == nil {
			continue
		}
		if s.ctx.Err() != nil {
			s.deadLetterFlows(b, i)
			return nil
		}
		s.notSent.Add(int64(b.Flows() - i))
		s.failed.Store(true)
		return fmt.Errorf("indexing: %w", err)
	}
	return nil
}

// deadLetterFlows writes the flow documents of b from the i-th on to the
// dead-letter file as "aborted" (see deadLetterRest).
func (s *indexSink) deadLetterFlows(b *pipeline.Batch, i int) {
	for j := i; j < b.Flows(); j++ {
		f := b.Flow(j)
		if err := s.ix.DeadLetter(s.flowIndexFor(f.Start), f.ID, f.Doc, "aborted", "interrupted before the document was sent"); err != nil {
			s.notSent.Add(1)
		}
	}
}

// startFlows installs the flow documents' templates (unless --no-template)
// and starts their retention (--retention).
func (s *indexSink) startFlows(setup context.Context, logf func(string, ...any)) error {
	e := s.flags
	if e.flowPrefix == "" {
		return nil
	}
	if !e.noTemplate {
		if err := s.ix.InstallFlowTemplates(setup, e.flowPrefix); err != nil {
			return fmt.Errorf("%w (--no-template skips the template)", err)
		}
	}
	if e.retention > 0 {
		startRetention(s.ctx, s.ix, e.flowPrefix, time.Duration(e.retention), logf)
	}
	return nil
}
