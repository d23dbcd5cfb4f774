package decode

import "github.com/espcap/espcap-fast/decode/ssh"

// This file connects the ssh package to the registry (its entry is in
// registry.go).

// sshPort is the SSH server port (Wireshark's default).
const sshPort = 22

// sshLayers holds the SSH layers of a packet.
type sshLayers struct {
	m      [MaxRepeat]ssh.Message
	toSrv  [MaxRepeat]bool // sent to the server (Wireshark's ssh.direction false)
	parsed [MaxRepeat]bool // Parse found a banner or a clear-text packet
}

func newSSH() AppLayers { return new(sshLayers) }

// Decode decodes a segment. Every segment to or from the SSH port is an
// SSH layer, as in Wireshark (encrypted packets and continuations have the
// direction only); elsewhere only a segment that starts with an
// identification string is.
func (s *sshLayers) Decode(i int, b []byte, sport, dport uint16) bool {
	server := sport == sshPort || (dport != sshPort && sport < dport)
	s.toSrv[i] = !server
	s.parsed[i] = s.m[i].Parse(b, server) == nil
	return s.parsed[i] || sport == sshPort || dport == sshPort
}

// Write writes the fields Wireshark names ssh.*.
func (s *sshLayers) Write(i int, w FieldWriter) {
	m := &s.m[i]
	w.Bool("direction", !s.toSrv[i])
	if !s.parsed[i] {
		return
	}
	if m.Banner != nil {
		w.String("protocol", m.Banner)
		return
	}
	w.Uint("packet_length", uint64(m.PacketLength))
	w.Uint("padding_length", uint64(m.PaddingLength))
	if !m.Complete {
		return
	}
	w.Uint("message_code", uint64(m.Code))
	if !m.KexInit {
		return
	}
	for l, name := range ssh.ListNames {
		w.String(name, m.Lists[l])
	}
	w.Uint("first_kex_packet_follows", uint64(m.FirstKexFollows))
	if m.Server {
		w.String("kex_hasshserver_algorithms", m.HASSHAlgorithms)
		w.String("kex_hasshserver", m.HASSH[:])
	} else {
		w.String("kex_hassh_algorithms", m.HASSHAlgorithms)
		w.String("kex_hassh", m.HASSH[:])
	}
}
