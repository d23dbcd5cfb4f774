package encode

import (
	"time"

	"github.com/espcap/espcap-fast/encode/communityid"
	"github.com/espcap/espcap-fast/flow"
)

// AppendFlow appends the JSON document of flow record r to dst and returns
// it: one line, no trailing newline. Documents are told apart from packet
// documents by event.dataset: "espcap.flow" here, "espcap.packet" there.
// It allocates nothing.
func AppendFlow(dst []byte, r *flow.Record) []byte {
	b := append(dst, `{"@timestamp":"`...)
	at := len(b)
	b = appendTime(b, r.Start)
	start := b[at:len(b):len(b)] // event.start is the same text
	b = append(b, `","event":{"kind":"event","category":["network"],"type":["connection"],"dataset":"espcap.flow","start":"`...)
	b = append(b, start...)
	b = append(b, `","end":"`...)
	b = appendTime(b, r.End)
	b = append(b, `","duration":`...)
	b = appendInt(b, r.End-r.Start)
	b = append(b, `},"flow":{"id":"`...)
	b = append(b, r.ID[:]...)
	b = append(b, `","final":`...)
	if r.Final {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	b = append(b, `,"end_reason":"`...)
	b = append(b, r.Reason.String()...)
	b = append(b, `"`...)
	k := &r.Key
	if k.Proto == 6 {
		b = append(b, `,"conn_state":"`...)
		b = append(b, r.ConnState()...)
		b = append(b, `","history":"`...)
		b = append(b, r.HistoryBytes()...)
		b = append(b, `","source_tcp_flags":`...)
		b = appendUint(b, uint64(r.Flags[r.Src()]))
		b = append(b, `,"destination_tcp_flags":`...)
		b = appendUint(b, uint64(r.Flags[r.Dst()]))
	} else {
		b = append(b, `,"conn_state":"`...)
		b = append(b, r.ConnState()...)
		b = append(b, `","history":"`...)
		b = append(b, r.HistoryBytes()...)
		b = append(b, '"')
	}
	b = append(b, '}')
	b = appendEndpoint(b, `,"source":{"ip":`, r, r.Src())
	b = appendEndpoint(b, `,"destination":{"ip":`, r, r.Dst())

	b = append(b, `,"network":{"type":"`...)
	if k.IPv6 {
		b = append(b, "ipv6"...)
	} else {
		b = append(b, "ipv4"...)
	}
	b = append(b, `","iana_number":"`...)
	b = appendUint(b, uint64(k.Proto))
	b = append(b, '"')
	if t := transportName(k.Proto); t != "" {
		b = append(b, `,"transport":"`...)
		b = append(b, t...)
		b = append(b, '"')
	}
	if r.App != "" {
		b = append(b, `,"protocol":"`...)
		b = append(b, r.App...)
		b = append(b, '"')
	}
	b = append(b, `,"community_id":"`...)
	b = appendFlowCID(b, r)
	b = append(b, '"')
	b = fieldUint(b, `,"packets":`, r.Packets[0]+r.Packets[1])
	b = fieldUint(b, `,"bytes":`, r.Bytes[0]+r.Bytes[1])
	if k.VLAN[0] != 0 {
		b = append(b, `,"vlan":{"id":"`...)
		b = appendUint(b, uint64(k.VLAN[0]))
		b = append(b, `"}`...)
		if k.VLAN[1] != 0 {
			b = append(b, `,"inner":{"vlan":{"id":"`...)
			b = appendUint(b, uint64(k.VLAN[1]))
			b = append(b, `"}}`...)
		}
	}
	b = append(b, '}')
	b = appendSummary(b, &r.Summary)
	b = appendFlowPositions(b, r)
	return append(b, '}')
}

// maxPositionFiles is the most capture files a flow document names; the
// positions in further files are left out (pcap.truncated).
const maxPositionFiles = 64

// appendFlowPositions appends where the flow's packets lie:
// `,"pcap":{"file":[F0,F1,...],"packets":["i:offset:dt",...]}` where i
// indexes pcap.file and dt is the packet's time minus the flow's start
// (ns), and "truncated":true when positions were left out (flow.
// MaxPositions, maxPositionFiles). Nothing when no packet has a position.
func appendFlowPositions(b []byte, r *flow.Record) []byte {
	if len(r.Positions) == 0 {
		return b
	}
	var files [maxPositionFiles]string
	n := 0
	truncated := r.PositionsCut > 0
	b = append(b, `,"pcap":{"packets":[`...)
	first := true
	for i := range r.Positions {
		p := &r.Positions[i]
		fi := -1
		for j := n - 1; j >= 0; j-- { // the last file first: positions run file by file
			if files[j] == p.File {
				fi = j
				break
			}
		}
		if fi < 0 {
			if n == len(files) {
				truncated = true
				continue
			}
			files[n] = p.File
			fi = n
			n++
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = appendUint(b, uint64(fi))
		b = append(b, ':')
		b = appendInt(b, p.Off)
		b = append(b, ':')
		b = appendInt(b, p.TS-r.Start)
		b = append(b, '"')
	}
	b = append(b, `],"file":[`...)
	for j := range n {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendStringS(b, files[j])
	}
	b = append(b, ']')
	if truncated {
		b = append(b, `,"truncated":true`...)
	}
	return append(b, '}')
}

// appendSummary appends the ECS objects of what the flow's application
// layers said: dns, http, url, user_agent, tls.
func appendSummary(b []byte, a *flow.AppSummary) []byte {
	q := a.DNSQuestion()
	rc, hasRC := a.DNSResponseCode()
	if len(q) > 0 || hasRC || a.DNSAnswers() > 0 {
		b = append(b, `,"dns":{`...)
		sep := ""
		if len(q) > 0 {
			b = append(b, `"question":{"name":`...)
			b = appendString(b, q)
			b = append(b, '}')
			sep = ","
		}
		if hasRC {
			b = append(b, sep...)
			b = append(b, `"response_code":"`...)
			b = appendRCode(b, rc)
			b = append(b, '"')
			sep = ","
		}
		if n := a.DNSAnswers(); n > 0 {
			b = append(b, sep...)
			b = append(b, `"resolved_ip":[`...)
			for i := range n {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendIP(b, a.DNSAnswer(i))
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	m, st := a.HTTPMethod(), a.HTTPStatus
	if len(m) > 0 || st > 0 {
		b = append(b, `,"http":{`...)
		if len(m) > 0 {
			b = append(b, `"request":{"method":`...)
			b = appendString(b, m)
			b = append(b, '}')
			if st > 0 {
				b = append(b, ',')
			}
		}
		if st > 0 {
			b = appendUint(append(b, `"response":{"status_code":`...), uint64(st))
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if h, u := a.HTTPHost(), a.HTTPURI(); len(h) > 0 || len(u) > 0 {
		b = append(b, `,"url":{`...)
		if len(h) > 0 {
			b = appendString(append(b, `"domain":`...), h)
			if len(u) > 0 {
				b = append(b, ',')
			}
		}
		if len(u) > 0 {
			b = appendString(append(b, `"original":`...), u)
		}
		b = append(b, '}')
	}
	if ua := a.HTTPUserAgent(); len(ua) > 0 {
		b = appendString(append(b, `,"user_agent":{"original":`...), ua)
		b = append(b, '}')
	}
	sni, alpn, ver := a.TLSServerName(), a.TLSALPN(), a.TLSVersion
	ja3, ja4, ja3s := a.JA3(), a.JA4(), a.JA3S()
	if len(sni) > 0 || len(alpn) > 0 || ver != 0 || len(ja3) > 0 || len(ja4) > 0 || len(ja3s) > 0 {
		b = append(b, `,"tls":{`...)
		sep := ""
		if ver != 0 {
			proto, v := tlsVersion(ver)
			b = append(b, `"version_protocol":"`...)
			b = append(b, proto...)
			b = append(b, `","version":"`...)
			b = append(b, v...)
			b = append(b, '"')
			sep = ","
		}
		if len(alpn) > 0 {
			b = append(b, sep...)
			b = appendString(append(b, `"next_protocol":`...), alpn)
			sep = ","
		}
		if len(sni) > 0 || len(ja3) > 0 || len(ja4) > 0 {
			b = append(b, sep...)
			b = append(b, `"client":{`...)
			csep := ""
			for _, f := range [...]struct {
				key string
				v   []byte
			}{{`"server_name":`, sni}, {`"ja3":`, ja3}, {`"ja4":`, ja4}} {
				if len(f.v) > 0 {
					b = appendString(append(append(b, csep...), f.key...), f.v)
					csep = ","
				}
			}
			b = append(b, '}')
			sep = ","
		}
		if len(ja3s) > 0 {
			b = append(b, sep...)
			b = appendString(append(b, `"server":{"ja3s":`...), ja3s)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if h := a.DHCPHostName(); len(h) > 0 {
		b = appendString(append(b, `,"dhcpv4":{"option":{"hostname":`...), h)
		b = append(b, "}}"...)
	}
	return b
}

// appendRCode appends a DNS response code's name (RFC 1035, 2136), or
// its number.
func appendRCode(b []byte, rc int) []byte {
	names := [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}
	if rc >= 0 && rc < len(names) {
		return append(b, names[rc]...)
	}
	return appendUint(b, uint64(rc))
}

// tlsVersion returns ECS tls.version_protocol and tls.version of a TLS
// version number.
func tlsVersion(v uint16) (proto, version string) {
	switch v {
	case 0x0300:
		return "ssl", "3.0"
	case 0x0301:
		return "tls", "1.0"
	case 0x0302:
		return "tls", "1.1"
	case 0x0303:
		return "tls", "1.2"
	case 0x0304:
		return "tls", "1.3"
	}
	return "tls", "unknown"
}

// appendEndpoint appends one side's object, opened by key (which includes
// `{"ip":`).
func appendEndpoint(b []byte, key string, r *flow.Record, s int) []byte {
	b = append(b, key...)
	b = appendIP(b, r.Addr(s))
	if r.Key.HasPorts {
		b = fieldUint(b, `,"port":`, uint64(r.Port(s)))
	}
	b = fieldUint(b, `,"packets":`, r.Packets[s])
	b = fieldUint(b, `,"bytes":`, r.Bytes[s])
	return append(b, '}')
}

// appendFlowCID appends the flow's Community ID, computed from the
// initiator's point of view (for ICMP from the request's type, code 0).
func appendFlowCID(b []byte, r *flow.Record) []byte {
	k := &r.Key
	sp, dp := r.Port(r.Src()), r.Port(r.Dst())
	switch {
	case k.ICMPPair:
		sp, dp = k.PortB, 0
	case k.ICMP:
		sp, dp = k.PortA, k.PortB
	case !k.HasPorts:
		sp, dp = 0, 0
	}
	return communityid.AppendV1(b, 0, r.Addr(r.Src()), r.Addr(r.Dst()), k.Proto, sp, dp)
}

// transportName returns the ECS network.transport of an IP protocol.
func transportName(proto uint8) string {
	switch proto {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 132:
		return "sctp"
	case 1:
		return "icmp"
	case 58:
		return "ipv6-icmp"
	}
	return ""
}

// appendTime appends a Unix nanosecond time as RFC 3339 UTC with nine
// fraction digits.
// It writes the digits itself: time.Time.AppendFormat parses its layout
// on every call, which made it most of a flow document's cost. A Unix
// nanosecond time (int64) lies in the years 1677 to 2262: four digits.
func appendTime(b []byte, ts int64) []byte {
	t := time.Unix(secondsOf(ts), 0).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	c, yy := y/100, y%100
	b = append(b, digitPairs[c*2], digitPairs[c*2+1], digitPairs[yy*2], digitPairs[yy*2+1], '-',
		digitPairs[mo*2], digitPairs[mo*2+1], '-', digitPairs[d*2], digitPairs[d*2+1], 'T',
		digitPairs[h*2], digitPairs[h*2+1], ':', digitPairs[mi*2], digitPairs[mi*2+1], ':',
		digitPairs[s*2], digitPairs[s*2+1], '.')
	ns := nanosOf(ts)
	var frac [9]byte
	for i := 8; i >= 0; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	b = append(b, frac[:]...)
	return append(b, 'Z')
}

// appendFlowID appends `,"flow":{"id":"…"}` to a packet document.
func appendFlowID(b []byte, id []byte) []byte {
	b = append(b, `,"flow":{"id":"`...)
	b = append(b, id...)
	return append(b, `"}`...)
}
