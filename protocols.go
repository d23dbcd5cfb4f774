// Package espcapfast holds what the espcap-fast packages share from the top
// of the repository: the default protocols.list.
package espcapfast

import _ "embed"

// ProtocolsList is the protocols.list shipped with espcap-fast: the Wireshark
// protocol names that count as a packet's highest protocol.
//
//go:embed protocols.list
var ProtocolsList []byte
