// Package ssh decodes the clear-text start of an SSH connection (RFC 4253)
// one TCP segment at a time, without reassembly: the identification string
// ("SSH-2.0-OpenSSH_9.6"), the binary packet header of the first message in
// the segment and, for SSH_MSG_KEXINIT, the algorithm name-lists and the
// HASSH fingerprints computed from them as Zeek's hassh script, Arkime and
// Wireshark compute them: the MD5 of
// "kex_algorithms;encryption;mac;compression", with the client-to-server
// lists for the client's KEXINIT (HASSH) and the server-to-client lists for
// the server's (HASSH-server).
//
// Parsing allocates nothing: the fields are sub-slices of the segment, the
// HASSH input is built in the Message's own buffer.
package ssh

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// MsgKexInit is the message number of SSH_MSG_KEXINIT.
const MsgKexInit = 20

// maxPacket bounds the packet_length of a plausible clear-text packet: the
// size RFC 4253 6.1 requires implementations to handle (a KEXINIT is a few
// kB).
const maxPacket = 35000

// The name-lists of a KEXINIT message, in their order in the message.
const (
	Kex = iota
	ServerHostKey
	EncC2S
	EncS2C
	MACC2S
	MACS2C
	CompC2S
	CompS2C
	LangC2S
	LangS2C
	numLists
)

// ListNames are Wireshark's field names of the name-lists (without the
// "ssh." prefix), by list.
var ListNames = [numLists]string{
	Kex:           "kex_algorithms",
	ServerHostKey: "server_host_key_algorithms",
	EncC2S:        "encryption_algorithms_client_to_server",
	EncS2C:        "encryption_algorithms_server_to_client",
	MACC2S:        "mac_algorithms_client_to_server",
	MACS2C:        "mac_algorithms_server_to_client",
	CompC2S:       "compression_algorithms_client_to_server",
	CompS2C:       "compression_algorithms_server_to_client",
	LangC2S:       "languages_client_to_server",
	LangS2C:       "languages_server_to_client",
}

// Message is what one segment shows of an SSH connection.
type Message struct {
	// Banner is the identification string without its CR LF (Wireshark's
	// ssh.protocol), when the segment starts with "SSH-".
	Banner []byte
	// HasPacket is set when the segment starts with a plausible
	// clear-text binary packet; PacketLength and PaddingLength are its
	// header. Code is its message code when the whole packet is in the
	// segment (Complete), as Wireshark, which gives no message code for a
	// packet cut at the segment's end.
	HasPacket     bool
	PacketLength  uint32
	PaddingLength uint8
	Complete      bool
	Code          uint8
	// KexInit is set when that packet is a complete KEXINIT; Lists are its
	// name-lists and FirstKexFollows its first_kex_packet_follows byte.
	KexInit         bool
	Lists           [numLists][]byte
	FirstKexFollows uint8
	// Server says whether the KEXINIT was the server's (HASSH-server) or
	// the client's (HASSH).
	Server bool
	// HASSHAlgorithms is the fingerprint's input and HASSH its MD5 in hex.
	HASSHAlgorithms []byte
	HASSH           [32]byte

	buf []byte
}

// Errors of Parse: fixed values, since most segments of a connection are
// encrypted and fail to parse (allocating an error for each would cost).
var (
	ErrShort    = errors.New("ssh: segment too short for a packet header at offset 0")
	ErrNoPacket = errors.New("ssh: no identification string or plausible clear-text packet header at offset 0")
)

// Probe reports whether a TCP payload starts like an SSH identification
// string.
func Probe(b []byte) bool {
	return len(b) >= 4 && b[0] == 'S' && b[1] == 'S' && b[2] == 'H' && b[3] == '-'
}

// Parse decodes the start of segment b, sent by the server when server is
// set. It returns an error, with the offset, when b starts neither an
// identification string nor a plausible clear-text packet (an encrypted
// packet, or a continuation); the Message then holds nothing.
func (m *Message) Parse(b []byte, server bool) error {
	buf := m.buf[:0]
	*m = Message{buf: buf, Server: server}
	if Probe(b) {
		end := bytes.IndexByte(b, '\n')
		if end < 0 {
			end = len(b)
		}
		line := b[:end]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		m.Banner = line
		return nil
	}
	if len(b) < 6 {
		return ErrShort
	}
	plen := binary.BigEndian.Uint32(b)
	pad := b[4]
	// RFC 4253 6: a clear-text packet (block size 8) is a multiple of 8
	// long, with 4 to 255 bytes of padding; an encrypted one passes this
	// by chance about once in 10^6
	if plen < 5 || plen > maxPacket || (plen+4)%8 != 0 || pad < 4 || uint32(pad) >= plen {
		return ErrNoPacket
	}
	m.HasPacket = true
	m.PacketLength, m.PaddingLength = plen, pad
	if 4+int(plen) > len(b) {
		return nil // cut short: the header only
	}
	m.Complete, m.Code = true, b[5]
	if m.Code != MsgKexInit {
		return nil
	}
	// payload: code, cookie, ten name-lists, a boolean and a reserved word
	end := 4 + int(plen) - int(pad)
	p := b[6:end]
	if len(p) < 16 {
		return nil
	}
	o := 16 // the cookie
	var lists [numLists][]byte
	for i := range lists {
		if o+4 > len(p) {
			return nil
		}
		n := int(binary.BigEndian.Uint32(p[o:]))
		o += 4
		if n > len(p)-o {
			return nil
		}
		lists[i] = p[o : o+n]
		o += n
	}
	if o+5 > len(p) {
		return nil
	}
	m.KexInit = true
	m.Lists = lists
	m.FirstKexFollows = p[o]
	enc, mac, comp := EncC2S, MACC2S, CompC2S
	if server {
		enc, mac, comp = EncS2C, MACS2C, CompS2C
	}
	buf = append(buf, lists[Kex]...)
	for _, l := range [...]int{enc, mac, comp} {
		buf = append(buf, ';')
		buf = append(buf, lists[l]...)
	}
	m.buf = buf
	m.HASSHAlgorithms = buf
	sum := md5.Sum(buf)
	hex.Encode(m.HASSH[:], sum[:])
	return nil
}
