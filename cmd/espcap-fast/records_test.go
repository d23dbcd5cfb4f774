package main

// isFlowDoc reports whether d is a flow record rather than a packet
// document: event.dataset espcap.flow (packet documents say espcap.packet).
func isFlowDoc(d map[string]any) bool {
	ev, _ := d["event"].(map[string]any)
	return ev["dataset"] == "espcap.flow"
}
