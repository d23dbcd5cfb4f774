package main

import "strconv"

// Names for the numbers of the table format (query --format table), as
// Wireshark shows them in its Info column.

var dhcpMessageTypes = map[string]string{
	"1": "Discover", "2": "Offer", "3": "Request", "4": "Decline", "5": "ACK", "6": "NAK",
	"7": "Release", "8": "Inform", "9": "Force Renew", "10": "Lease Query",
}

var tlsHandshakeTypes = map[string]string{
	"0": "Hello Request", "1": "Client Hello", "2": "Server Hello", "4": "New Session Ticket",
	"8": "Encrypted Extensions", "11": "Certificate", "12": "Server Key Exchange",
	"13": "Certificate Request", "14": "Server Hello Done", "15": "Certificate Verify",
	"16": "Client Key Exchange", "20": "Finished",
}

var tlsContentTypes = map[string]string{
	"20": "Change Cipher Spec", "21": "Alert", "22": "Handshake", "23": "Application Data", "24": "Heartbeat",
}

// icmpTypes are ICMP (v4) message types; icmpv6Types ICMPv6's.
var icmpTypes = map[string]string{
	"0": "Echo (ping) reply", "3": "Destination unreachable", "4": "Source quench", "5": "Redirect",
	"8": "Echo (ping) request", "9": "Router advertisement", "10": "Router solicitation",
	"11": "Time-to-live exceeded", "12": "Parameter problem", "13": "Timestamp request", "14": "Timestamp reply",
}

var icmpv6Types = map[string]string{
	"1": "Destination Unreachable", "2": "Packet Too Big", "3": "Time Exceeded", "4": "Parameter Problem",
	"128": "Echo (ping) request", "129": "Echo (ping) reply", "130": "Multicast Listener Query",
	"131": "Multicast Listener Report", "132": "Multicast Listener Done", "133": "Router Solicitation",
	"134": "Router Advertisement", "135": "Neighbor Solicitation", "136": "Neighbor Advertisement",
	"137": "Redirect", "143": "Multicast Listener Report Message v2",
}

// icmpUnreachable names the codes of ICMP destination unreachable (type 3).
var icmpUnreachable = map[string]string{
	"0": "Network unreachable", "1": "Host unreachable", "2": "Protocol unreachable", "3": "Port unreachable",
	"4": "Fragmentation needed", "9": "Network administratively prohibited",
	"10": "Host administratively prohibited", "13": "Communication administratively filtered",
}

// named returns the name of value v in names, followed by the number in
// parentheses, or "<what> <v>" when the number has no name. A list of
// values (comma-joined) names each.
func named(names map[string]string, what, v string) string {
	if n, ok := names[v]; ok {
		return n + " (" + v + ")"
	}
	if _, err := strconv.Atoi(v); err != nil {
		out := ""
		start := 0
		for i := 0; i <= len(v); i++ {
			if i == len(v) || v[i] == ',' {
				if out != "" {
					out += ", "
				}
				if n, ok := names[v[start:i]]; ok {
					out += n
				} else {
					out += what + " " + v[start:i]
				}
				start = i + 1
			}
		}
		return out
	}
	return what + " " + v
}
