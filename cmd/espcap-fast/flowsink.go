package main

// Flow documents in the Elasticsearch sink (--records flows|both --node).
// Into indices: their own time-named indices (--flow-index-prefix), the
// flow.id as _id, and the bulk action "index" with an external version, so
// that the final document of a flow replaces its interim updates whatever
// order the bulk requests arrive in, and a re-import changes nothing. Into
// a data stream (--data-stream, --flow-data-stream), which takes only
// "create": their own data stream, the final document under the flow.id,
// each interim update a document of its own under <flow.id>-<event.end>, so
// that a re-import is all duplicates. See docs/ELASTICSEARCH.md, "Flow
// records".

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/espcap/espcap-fast/bulk"
	"github.com/espcap/espcap-fast/pipeline"
)

// validateNode checks the flow flags of an indexing run and hands the flow
// documents' target (index prefix or data stream) to the sink.
func (f *flowFlags) validateNode(es *esFlags) error {
	ds := f.dataStream
	if ds == "" && es.dataStream != "" {
		ds = flowDataStreamFor(es.dataStream)
	}
	if ds != "" {
		if err := checkIndexName(ds, "--flow-data-stream"); err != nil {
			return err
		}
		if ds == es.dataStream {
			return fmt.Errorf("--flow-data-stream %q: must differ from --data-stream (packet and flow documents have different templates)", ds)
		}
		es.flowPrefix, es.flowDataStream = "", ds
		return nil
	}
	if err := checkIndexName(f.indexPrefix, "--flow-index-prefix"); err != nil {
		return err
	}
	if f.indexPrefix == es.prefix {
		return fmt.Errorf("--flow-index-prefix %q: must differ from --index-prefix (packet and flow documents have different templates)", f.indexPrefix)
	}
	es.flowPrefix = f.indexPrefix
	return nil
}

// flowDataStreamFor returns the default flow data stream beside the packet
// data stream ds: for a name in Elastic's data stream naming scheme,
// <type>-<dataset>-<namespace> (type logs, metrics or traces), the same
// type and namespace with the dataset's ".packet" or ".packets" suffix
// replaced by ".flow", or ".flow" appended (logs-espcap-default →
// logs-espcap.flow-default, as Packetbeat's flows are
// logs-network_traffic.flow-default); else ds + "-flows".
func flowDataStreamFor(ds string) string {
	parts := strings.Split(ds, "-")
	if len(parts) == 3 && parts[1] != "" && parts[2] != "" {
		switch parts[0] {
		case "logs", "metrics", "traces":
			dataset := strings.TrimSuffix(strings.TrimSuffix(parts[1], ".packets"), ".packet")
			return parts[0] + "-" + dataset + ".flow-" + parts[2]
		}
	}
	return ds + "-flows"
}

// flowTarget returns where flow document f goes: its index (or data
// stream), its _id and its external version (0: none, the bulk action
// "create"). The _id may use the sink's buffer s.flowID (valid until the
// next call); the bulk indexer copies it.
func (s *indexSink) flowTarget(f *pipeline.FlowDoc) (index string, id []byte, version int64) {
	if ds := s.flags.flowDataStream; ds != "" {
		if f.Final {
			return ds, f.ID, 0
		}
		s.flowID = strconv.AppendInt(append(append(s.flowID[:0], f.ID...), '-'), f.End, 10)
		return ds, s.flowID, 0
	}
	return s.flowIndexFor(f.Start), f.ID, flowVersion(f)
}

// flowStreamNamed is the flow data stream's part of the summary's "into"
// line ("" when flow documents go to indices).
func (s *indexSink) flowStreamNamed() string {
	if s.flags.flowDataStream == "" {
		return ""
	}
	return ", flows into data stream " + s.flags.flowDataStream
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
		index, id, v := s.flowTarget(&f)
		err := s.ix.AddWith(s.ctx, index, id, f.Doc, versioned(v))
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
		index, id, _ := s.flowTarget(&f)
		if err := s.ix.DeadLetter(index, id, f.Doc, "aborted", "interrupted before the document was sent"); err != nil {
			s.notSent.Add(1)
		}
	}
}

// startFlows installs the flow documents' templates (unless --no-template)
// and starts their retention (--retention).
func (s *indexSink) startFlows(setup context.Context, logf func(string, ...any)) error {
	e := s.flags
	if e.flowPrefix == "" && e.flowDataStream == "" {
		return nil
	}
	if !e.noTemplate {
		if err := s.ix.InstallFlowTemplates(setup, e.flowPrefix, e.flowDataStream); err != nil {
			return fmt.Errorf("%w (--no-template skips the template)", err)
		}
	}
	if e.retention > 0 && e.flowPrefix != "" {
		startRetention(s.ctx, s.ix, e.flowPrefix, time.Duration(e.retention), logf)
	}
	return nil
}
