// Package communityid computes Community ID flow hashes, version 1, as
// specified by https://github.com/corelight/community-id-spec and
// implemented by Zeek, Suricata, Arkime and Wireshark.
//
// A Community ID is the string "1:" followed by the standard base64 encoding
// of the SHA-1 digest of
//
//	seed (2 bytes) . saddr . daddr . proto (1 byte) . 0 (1 byte) . sport (2 bytes) . dport (2 bytes)
//
// with all values in network byte order and the endpoints ordered so that
// the smaller address (then the smaller port) comes first. The ports are
// omitted for protocols other than TCP, UDP, SCTP, ICMP and ICMPv6. For ICMP
// and ICMPv6 the message type and code stand in for the ports, mapped as Zeek
// does: request and reply types are paired so that both directions of, say,
// an echo exchange get the same ID; other ICMP messages are one-way flows
// whose endpoints are not reordered.
//
// The functions in this package do not allocate.
package communityid

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
)

// IP protocol numbers that the Community ID treats specially.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// Len is the length of a version 1 Community ID string:
// "1:" plus 28 characters of base64.
const Len = 2 + 28

// icmp4Counterpart maps ICMPv4 request/response types to their counterparts
// (Zeek's ICMP4_counterpart). A zero entry with ok=false means one-way.
func icmp4Counterpart(t uint8) (uint8, bool) {
	switch t {
	case 8: // echo request
		return 0, true
	case 0: // echo reply
		return 8, true
	case 13: // timestamp
		return 14, true
	case 14: // timestamp reply
		return 13, true
	case 15: // information request
		return 16, true
	case 16: // information reply
		return 15, true
	case 10: // router solicitation
		return 9, true
	case 9: // router advertisement
		return 10, true
	case 17: // address mask request
		return 18, true
	case 18: // address mask reply
		return 17, true
	}
	return 0, false
}

// icmp6Counterpart maps ICMPv6 request/response types to their counterparts
// (Zeek's ICMP6_counterpart).
func icmp6Counterpart(t uint8) (uint8, bool) {
	switch t {
	case 128: // echo request
		return 129, true
	case 129: // echo reply
		return 128, true
	case 133: // router solicitation
		return 134, true
	case 134: // router advertisement
		return 133, true
	case 135: // neighbor solicitation
		return 136, true
	case 136: // neighbor advertisement
		return 135, true
	case 130: // multicast listener query
		return 131, true
	case 131: // multicast listener report
		return 130, true
	case 139: // node information query ("who are you" request)
		return 140, true
	case 140: // node information response
		return 139, true
	case 144: // home agent address discovery request
		return 145, true
	case 145: // home agent address discovery reply
		return 144, true
	}
	return 0, false
}

// AppendV1 appends the version 1 Community ID of the flow to dst and returns
// the extended buffer.
//
// srcIP and dstIP are the raw network-order addresses of the packet, both 4
// bytes (IPv4) or both 16 bytes (IPv6); if they are not, dst is returned
// unchanged. proto is the IP protocol number (the last next-header value for
// IPv6). For TCP, UDP and SCTP srcPort and dstPort are the transport ports;
// for ICMP and ICMPv6 pass the message type as srcPort and the code as
// dstPort; for any other protocol they are ignored. seed is the Community ID
// seed, 0 by default.
//
// The endpoints may be given in either direction: both directions of a flow
// produce the same ID.
func AppendV1(dst []byte, seed uint16, srcIP, dstIP []byte, proto uint8, srcPort, dstPort uint16) []byte {
	if len(srcIP) != len(dstIP) || (len(srcIP) != 4 && len(srcIP) != 16) {
		return dst
	}
	sum := hashV1(seed, srcIP, dstIP, proto, srcPort, dstPort)
	var enc [Len - 2]byte
	base64.StdEncoding.Encode(enc[:], sum[:])
	dst = append(dst, '1', ':')
	return append(dst, enc[:]...)
}

// SumV1 returns the SHA-1 digest underlying the version 1 Community ID of the
// flow, with the same arguments as AppendV1. ok is false if the addresses are
// not both 4 or both 16 bytes long.
func SumV1(seed uint16, srcIP, dstIP []byte, proto uint8, srcPort, dstPort uint16) (sum [sha1.Size]byte, ok bool) {
	if len(srcIP) != len(dstIP) || (len(srcIP) != 4 && len(srcIP) != 16) {
		return sum, false
	}
	return hashV1(seed, srcIP, dstIP, proto, srcPort, dstPort), true
}

func hashV1(seed uint16, srcIP, dstIP []byte, proto uint8, sport, dport uint16) [sha1.Size]byte {
	hasPorts := false
	oneWay := false
	switch proto {
	case ProtoTCP, ProtoUDP, ProtoSCTP:
		hasPorts = true
	case ProtoICMP:
		hasPorts = true
		if c, ok := icmp4Counterpart(uint8(sport)); ok && sport <= 0xff {
			dport = uint16(c)
		} else {
			oneWay = true
		}
	case ProtoICMPv6:
		hasPorts = true
		if c, ok := icmp6Counterpart(uint8(sport)); ok && sport <= 0xff {
			dport = uint16(c)
		} else {
			oneWay = true
		}
	}

	a, b := srcIP, dstIP
	if !oneWay {
		c := bytes.Compare(a, b)
		if c > 0 || (c == 0 && hasPorts && sport > dport) {
			a, b = b, a
			sport, dport = dport, sport
		}
	}

	var buf [2 + 16 + 16 + 2 + 4]byte
	binary.BigEndian.PutUint16(buf[0:], seed)
	n := 2
	n += copy(buf[n:], a)
	n += copy(buf[n:], b)
	buf[n] = proto
	buf[n+1] = 0
	n += 2
	if hasPorts {
		binary.BigEndian.PutUint16(buf[n:], sport)
		binary.BigEndian.PutUint16(buf[n+2:], dport)
		n += 4
	}
	return sha1.Sum(buf[:n])
}
