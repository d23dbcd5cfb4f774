package main

// Known differences between the engines for protocols added through the
// decoder's registry (docs/PROTOCOLS.md), kept apart from engine_test.go.
func init() {
	const sshFirst = "tshark lists every SSH packet of the segment, the native engine the first"
	for _, f := range []string{"layers.ssh.message_code", "layers.ssh.packet_length", "layers.ssh.padding_length"} {
		knownDifferences[f] = knownDifference{sshFirst, firstOf}
	}
}
