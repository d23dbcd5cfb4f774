package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/espcap/espcap-fast/flow"
	"github.com/espcap/espcap-fast/pipeline"
)

// flowFlags are the flags of flow records (docs/SCHEMA.md, "Flow documents").
type flowFlags struct {
	records       string
	timeout       time.Duration
	update        time.Duration
	maxFlows      int
	maxPacketsPer uint64
	inspect       int    // --flow-inspect
	indexPrefix   string // --flow-index-prefix
	dataStream    string // --flow-data-stream
}

func registerFlowFlags(fs *flag.FlagSet) *flowFlags {
	f := &flowFlags{}
	fs.StringVar(&f.records, "records", "packets", "documents to write: packets (one per packet), flows (one per connection), or both")
	fs.DurationVar(&f.timeout, "flow-timeout", 0, fmt.Sprintf("idle time after which a flow ends (0: per transport, TCP %v, UDP %v, others %v)",
		flow.DefaultTCPTimeout, flow.DefaultUDPTimeout, flow.DefaultOtherTimeout))
	fs.DurationVar(&f.update, "flow-update", 0, "write an interim flow document (flow.final false) of a flow still active after this long, and again after each such period (0: none)")
	fs.IntVar(&f.maxFlows, "max-flows", flow.DefaultMaxFlows, "flows tracked at once; beyond it the least recently seen one is written (end_reason evicted)")
	fs.StringVar(&f.indexPrefix, "flow-index-prefix", "flows-", "with --node: flow documents go to <prefix>YYYY-MM-DD (UTC day of the flow start; see --index-period), _id the flow.id")
	fs.StringVar(&f.dataStream, "flow-data-stream", "", "with --node: flow documents go to this data stream (default with --data-stream D: "+
		"logs-DATASET.flow-NAMESPACE for D logs-DATASET-NAMESPACE, else D-flows); interim updates are documents of their own")
	fs.IntVar(&f.inspect, "flow-inspect", flow.DefaultInspect, fmt.Sprintf("application layers read for a flow's summary (server name, HTTP, DNS, ...): in its first N packets with a payload, or until its application said all a flow keeps; later packets are only counted (0: every packet; at most %d)", flow.MaxInspect))
	fs.Uint64Var(&f.maxPacketsPer, "max-packets-per-flow", 0, "with --records both: packet documents only for the first N packets of each flow in each direction (0: all)")
	return f
}

// validate checks the flags against the rest of the run: flow records are
// written to stdout or indexed (then it tells the sink the flow documents'
// index prefix or data stream through es).
func (f *flowFlags) validate(engine string, es *esFlags) error {
	switch f.records {
	case "packets":
		if f.maxPacketsPer > 0 {
			return errors.New("--max-packets-per-flow needs --records both")
		}
		return nil
	case "flows", "both":
	default:
		return fmt.Errorf("--records %q: want packets, flows or both", f.records)
	}
	if f.maxPacketsPer > 0 && f.records != "both" {
		return errors.New("--max-packets-per-flow needs --records both")
	}
	if f.maxFlows < 1 {
		return errors.New("--max-flows must be at least 1")
	}
	if f.inspect < 0 || f.inspect > flow.MaxInspect {
		return fmt.Errorf("--flow-inspect must be between 0 (every packet) and %d", flow.MaxInspect)
	}
	if f.timeout < 0 || f.update < 0 {
		return errors.New("--flow-timeout and --flow-update must not be negative")
	}
	if len(es.nodes) > 0 {
		return f.validateNode(es)
	}
	return nil
}

// config returns the pipeline's flow configuration (nil: packets only).
func (f *flowFlags) config() *pipeline.FlowConfig {
	if f.records == "packets" {
		return nil
	}
	return &pipeline.FlowConfig{
		Table: flow.Config{
			TCPTimeout: f.timeout, UDPTimeout: f.timeout, OtherTimeout: f.timeout,
			Update:   f.update,
			MaxFlows: f.maxFlows,
			Inspect:  f.inspectConfig(),
		},
		Packets:           f.records == "both",
		MaxPacketsPerFlow: f.maxPacketsPer,
	}
}

// inspectConfig returns flow.Config.Inspect for --flow-inspect: 0 there
// means every packet.
func (f *flowFlags) inspectConfig() int {
	if f.inspect == 0 {
		return -1
	}
	return f.inspect
}

// writer returns the flow writer of a tshark engine run (nil: packets
// only).
func (f *flowFlags) writer() *pipeline.FlowWriter {
	if c := f.config(); c != nil {
		return pipeline.NewFlowWriter(*c)
	}
	return nil
}

// summary reports the flow counters after a run.
func (f *flowFlags) summary(w io.Writer, quiet bool, r interface {
	FlowStats() (flows, evicted, capped uint64)
}) {
	if quiet || f.records == "packets" {
		return
	}
	flows, evicted, capped := r.FlowStats()
	fmt.Fprintf(w, "espcap-fast: %d flow documents, %d flows evicted (--max-flows), %d packet documents left out (--max-packets-per-flow)\n",
		flows, evicted, capped)
}
