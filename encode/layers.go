package encode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/decode"
)

// layers writes one key per protocol under "layers", in the order in which
// the protocols first appear in the packet. A protocol that occurs once has
// an object; one that occurs several times (tunnels, stacked VLAN tags,
// MPLS labels, the header quoted in an ICMP error) has an array of objects,
// outermost first, so no occurrence overwrites another.
func (e *Encoder) layers(p *decode.Packet) {
	w := &e.w
	var done [decode.NumKinds]bool
	for i, l := range p.Layers {
		k := l.Kind
		if int(k) < len(done) && done[k] {
			continue
		}
		if int(k) < len(done) {
			done[k] = true
		}
		name := kindKeys[k]
		if k == decode.KindLinuxSLL2 && p.Count(decode.KindLinuxSLL) > 0 {
			continue // never both in one frame
		}
		if p.Count(k) == 1 {
			w.object(name)
			e.layer(p, l)
			w.close()
			continue
		}
		w.key(name)
		w.openArray()
		for _, m := range p.Layers[i:] {
			if m.Kind != k {
				continue
			}
			w.elem()
			w.open()
			e.layer(p, m)
			w.close()
		}
		w.closeArray()
	}
}

// Runs of fields that depend on a few bits only, written once at start-up
// and then appended whole: the TCP flag bits (9 bits), the IPv4 flags (3 bits),
// the DS field (8 bits) and the IPv4 version and header length.
var (
	tcpFlags     [512]string
	tcpFlagsRes0 [512]string // with "flags" and "flags_res" (false) before
	ipv4Flags    [8]string
	dsfields     [256]string
	ipv4HdrLen   [16]string
)

func init() {
	var w writer
	for f := range tcpFlags {
		w.b = w.b[:0]
		w.bool(`,"flags_ae":`, f&0x100 != 0)
		w.bool(`,"flags_cwr":`, f&0x80 != 0)
		w.bool(`,"flags_ece":`, f&0x40 != 0)
		w.bool(`,"flags_urg":`, f&0x20 != 0)
		w.bool(`,"flags_ack":`, f&0x10 != 0)
		w.bool(`,"flags_push":`, f&0x08 != 0)
		w.bool(`,"flags_reset":`, f&0x04 != 0)
		w.bool(`,"flags_syn":`, f&0x02 != 0)
		w.bool(`,"flags_fin":`, f&0x01 != 0)
		tcpFlags[f] = string(w.b)
		w.b = w.b[:0]
		w.uint(`,"flags":`, uint64(f))
		w.bool(`,"flags_res":`, false)
		tcpFlagsRes0[f] = string(w.b) + tcpFlags[f]
	}
	for f := range ipv4Flags {
		w.b = w.b[:0]
		w.uint(`,"flags":`, uint64(f))
		w.bool(`,"flags_rb":`, f&4 != 0)
		w.bool(`,"flags_df":`, f&2 != 0)
		w.bool(`,"flags_mf":`, f&1 != 0)
		ipv4Flags[f] = string(w.b)
	}
	for t := range dsfields {
		w.b = w.b[:0]
		w.uint(`,"dsfield":`, uint64(t))
		w.uint(`,"dsfield_dscp":`, uint64(t>>2))
		w.uint(`,"dsfield_ecn":`, uint64(t&3))
		dsfields[t] = string(w.b)
	}
	for ihl := range ipv4HdrLen {
		w.b = w.b[:0]
		w.uint(`,"version":`, 4)
		w.uint(`,"hdr_len":`, uint64(ihl)*4)
		ipv4HdrLen[ihl] = string(w.b)
	}
}

// kindKeys are the layer keys, as writer keys: `,"ip":`.
var kindKeys = func() (keys [decode.NumKinds]string) {
	for k := decode.Kind(0); int(k) < len(keys); k++ {
		if n := k.Name(); n != "" {
			keys[k] = `,"` + n + `":`
		}
	}
	return keys
}()

// layer writes the fields of one layer, named as Wireshark names them with
// the protocol prefix dropped and dots turned into underscores.
func (e *Encoder) layer(p *decode.Packet, l decode.Layer) {
	w := &e.w
	i := l.Index
	switch l.Kind {
	case decode.KindEthernet:
		e.ethernet(&p.Ethernet[i])
	case decode.KindDot1Q, decode.KindDot1AD:
		x := &p.Dot1Q[i]
		if l.Kind == decode.KindDot1AD {
			x = &p.Dot1AD[i]
		}
		w.uint(`,"priority":`, uint64(x.Priority))
		if l.Kind == decode.KindDot1AD {
			// Wireshark's ieee8021ad.dei is a number, vlan.dei a boolean
			var dei uint64
			if x.DropEligible {
				dei = 1
			}
			w.uint(`,"dei":`, dei)
		} else {
			w.bool(`,"dei":`, x.DropEligible)
		}
		w.uint(`,"id":`, uint64(x.VLANIdentifier))
		if x.Type >= 0x0600 {
			w.uint(`,"etype":`, uint64(x.Type))
		} else {
			w.uint(`,"len":`, uint64(x.Type))
		}
	case decode.KindLinuxSLL:
		x := &p.LinuxSLL[0]
		w.uint(`,"pkttype":`, uint64(x.PacketType))
		w.uint(`,"hatype":`, uint64(x.AddrType))
		w.uint(`,"halen":`, uint64(x.AddrLen))
		if x.AddrType == 1 && len(x.Addr) == 6 {
			w.mac(`,"src_eth":`, x.Addr)
		}
		if x.EthernetType >= 0x0600 {
			w.uint(`,"etype":`, uint64(x.EthernetType))
		} else {
			w.uint(`,"ltype":`, uint64(x.EthernetType))
		}
	case decode.KindLinuxSLL2:
		x := &p.LinuxSLL2[0]
		w.uint(`,"etype":`, uint64(x.ProtocolType))
		w.uint(`,"ifindex":`, uint64(x.InterfaceIndex))
		w.uint(`,"hatype":`, uint64(x.ARPHardwareType))
		w.uint(`,"pkttype":`, uint64(x.PacketType))
		w.uint(`,"halen":`, uint64(x.AddrLength))
		if x.ARPHardwareType == 1 && len(x.Addr) >= 6 {
			w.mac(`,"src_eth":`, x.Addr[:6])
		}
	case decode.KindLoopback:
		w.uint(`,"family":`, uint64(p.Loopback[0].Family))
	case decode.KindNFLOG:
		x := &p.NFLOG[0]
		w.uint(`,"family":`, uint64(x.Family))
		w.uint(`,"version":`, uint64(x.Version))
		w.uint(`,"res_id":`, uint64(x.ResID))
		if len(x.Prefix) > 0 {
			w.str(`,"prefix":`, x.Prefix)
		}
	case decode.KindRaw:
	case decode.KindLLC:
		x := &p.LLC[i]
		w.uint(`,"dsap":`, uint64(x.DSAP))
		w.uint(`,"ssap":`, uint64(x.SSAP))
		w.uint(`,"control":`, uint64(x.Control))
	case decode.KindMPLS:
		x := &p.MPLS[i]
		w.uint(`,"label":`, uint64(x.Label))
		w.uint(`,"exp":`, uint64(x.TrafficClass))
		w.bool(`,"bottom":`, x.StackBottom)
		w.uint(`,"ttl":`, uint64(x.TTL))
	case decode.KindPPPoE:
		x := &p.PPPoE[i]
		w.uint(`,"version":`, uint64(x.Version))
		w.uint(`,"type":`, uint64(x.Type))
		w.uint(`,"code":`, uint64(x.Code))
		w.uint(`,"session_id":`, uint64(x.SessionID))
		w.uint(`,"payload_length":`, uint64(x.Length))
	case decode.KindPPP:
		w.uint(`,"protocol":`, uint64(p.PPP[i].Protocol))
	case decode.KindARP:
		x := &p.ARP[i]
		w.uint(`,"hw_type":`, uint64(x.AddrType))
		w.uint(`,"proto_type":`, uint64(x.Protocol))
		w.uint(`,"hw_size":`, uint64(x.HwAddressSize))
		w.uint(`,"proto_size":`, uint64(x.ProtAddressSize))
		w.uint(`,"opcode":`, uint64(x.Operation))
		ipv4 := x.Protocol == layers.EthernetTypeIPv4 && x.ProtAddressSize == 4
		if x.HwAddressSize == 6 {
			w.mac(`,"src_hw_mac":`, x.SourceHwAddress)
		}
		if ipv4 {
			w.ip(`,"src_proto_ipv4":`, x.SourceProtAddress)
		}
		if x.HwAddressSize == 6 {
			w.mac(`,"dst_hw_mac":`, x.DstHwAddress)
		}
		if ipv4 {
			w.ip(`,"dst_proto_ipv4":`, x.DstProtAddress)
		}
	case decode.KindIPv4, decode.KindIPv6:
		if l.Partial {
			e.ipPartial(p, l)
			break
		}
		e.ipVarying(p, l)
		e.ipConstant(p, l)
	case decode.KindICMPv4:
		x := &p.ICMPv4[i]
		t := x.TypeCode.Type()
		w.uint(`,"type":`, uint64(t))
		w.uint(`,"code":`, uint64(x.TypeCode.Code()))
		if l.Partial { // cut short: type, code and the checksum if there
			if len(x.Contents) >= 4 {
				w.uint(`,"checksum":`, uint64(x.Checksum))
			}
			break
		}
		w.uint(`,"checksum":`, uint64(x.Checksum))
		switch t {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			w.uint(`,"ident":`, uint64(x.Id))
			w.uint(`,"seq":`, uint64(x.Seq))
		}
	case decode.KindICMPv6:
		x := &p.ICMPv6[i]
		t := x.TypeCode.Type()
		w.uint(`,"type":`, uint64(t))
		w.uint(`,"code":`, uint64(x.TypeCode.Code()))
		w.uint(`,"checksum":`, uint64(x.Checksum))
		if (t == 128 || t == 129) && len(x.Payload) >= 4 {
			w.uint(`,"echo_identifier":`, uint64(x.Payload[0])<<8|uint64(x.Payload[1]))
			w.uint(`,"echo_sequence_number":`, uint64(x.Payload[2])<<8|uint64(x.Payload[3]))
		}
	case decode.KindTCP, decode.KindUDP:
		e.ports(p, l)
		e.transportRest(p, l)
	case decode.KindSCTP:
		x := &p.SCTP[i]
		w.uint(`,"srcport":`, uint64(x.SrcPort))
		w.uint(`,"dstport":`, uint64(x.DstPort))
		w.uint(`,"verification_tag":`, uint64(x.VerificationTag))
		w.uint(`,"checksum":`, uint64(x.Checksum))
		c := &p.SCTPChunk[i]
		if c.N == 1 {
			w.uint(`,"chunk_type":`, uint64(c.Types[0]))
		} else if c.N > 1 {
			w.key(`,"chunk_type":`)
			w.openArray()
			for _, t := range c.Types[:c.N] {
				w.elem()
				w.b = appendUint(w.b, uint64(t))
			}
			w.closeArray()
		}
	case decode.KindGRE:
		x := &p.GRE[i]
		var fv uint64
		if x.ChecksumPresent {
			fv |= 0x8000
		}
		if x.RoutingPresent {
			fv |= 0x4000
		}
		if x.KeyPresent {
			fv |= 0x2000
		}
		if x.SeqPresent {
			fv |= 0x1000
		}
		if x.StrictSourceRoute {
			fv |= 0x0800
		}
		if x.AckPresent {
			fv |= 0x0080
		}
		fv |= uint64(x.RecursionControl&7)<<8 | uint64(x.Flags&0x1f)<<3 | uint64(x.Version&7)
		w.uint(`,"flags_and_version":`, fv)
		w.uint(`,"proto":`, uint64(x.Protocol))
		if x.ChecksumPresent {
			w.uint(`,"checksum":`, uint64(x.Checksum))
		}
		if x.KeyPresent {
			w.uint(`,"key":`, uint64(x.Key))
		}
		if x.SeqPresent {
			w.uint(`,"sequence_number":`, uint64(x.Seq))
		}
	case decode.KindVXLAN:
		x := &p.VXLAN[i]
		var f uint64
		if c := x.Contents; len(c) >= 2 {
			f = uint64(c[0])<<8 | uint64(c[1])
		}
		w.uint(`,"flags":`, f)
		w.bool(`,"flag_i":`, x.ValidIDFlag)
		w.uint(`,"vni":`, uint64(x.VNI))
	case decode.KindTeredo:
		x := &p.Teredo[i]
		if x.Auth {
			w.uint(`,"auth_idlen":`, uint64(x.AuthIDLen))
			w.uint(`,"auth_aulen":`, uint64(x.AuthAuLen))
			w.uint(`,"auth_conf":`, uint64(x.AuthConf))
		}
		if x.Origin {
			w.uint(`,"orig_port":`, uint64(x.OrigPort))
			w.ip(`,"orig_addr":`, x.OrigAddr[:])
		}
	case decode.KindGeneve:
		x := &p.Geneve[i]
		w.uint(`,"version":`, uint64(x.Version))
		w.uint(`,"flags":`, uint64(x.Flags))
		w.bool(`,"flags_oam":`, x.OAM)
		w.bool(`,"flags_critical":`, x.Critical)
		w.uint(`,"proto_type":`, uint64(x.Protocol))
		w.uint(`,"vni":`, uint64(x.VNI))
	case decode.KindERSPAN:
		x := &p.ERSPAN[i]
		if x.Version != 0 || x.SessionID != 0 {
			w.uint(`,"version":`, uint64(x.Version))
			w.uint(`,"vlan":`, uint64(x.VLAN))
			w.uint(`,"cos":`, uint64(x.CoS))
			w.uint(`,"encap":`, uint64(x.Encap))
			w.bool(`,"truncated":`, x.Truncated)
			w.uint(`,"spanid":`, uint64(x.SessionID))
			if x.Version == 1 {
				w.uint(`,"index":`, uint64(x.Index))
			} else if x.Version == 2 {
				w.uint(`,"timestamp":`, uint64(x.Timestamp))
				w.uint(`,"sgt":`, uint64(x.SGT))
			}
		}
	case decode.KindGTP:
		x := &p.GTP[i]
		w.uint(`,"flags_version":`, uint64(x.Version))
		w.uint(`,"flags_payload":`, uint64(x.ProtocolType))
		w.bool(`,"flags_e":`, x.ExtensionHeaderFlag)
		w.bool(`,"flags_s":`, x.SequenceNumberFlag)
		w.bool(`,"flags_pn":`, x.NPDUFlag)
		w.uint(`,"message":`, uint64(x.MessageType))
		w.uint(`,"length":`, uint64(x.MessageLength))
		w.uint(`,"teid":`, uint64(x.TEID))
		if x.SequenceNumberFlag {
			w.uint(`,"seq_number":`, uint64(x.SequenceNumber))
		}
	case decode.KindQUIC:
		x := &p.QUIC[i]
		if x.Long {
			w.uint(`,"header_form":`, 1)
			w.uint(`,"version":`, uint64(x.Version))
			w.uint(`,"long_packet_type":`, uint64(x.Type))
			w.key(`,"dcid":`)
			w.b = appendHexString(w.b, x.DCID)
			w.key(`,"scid":`)
			w.b = appendHexString(w.b, x.SCID)
		} else {
			w.uint(`,"header_form":`, 0)
		}
	case decode.KindCMD:
		x := &p.CMD[i]
		w.uint(`,"version":`, uint64(x.Version))
		w.uint(`,"length":`, uint64(x.Length))
		w.uint(`,"options":`, uint64(x.OptionType))
		w.uint(`,"sgt":`, uint64(x.SGT))
		w.uint(`,"type":`, uint64(x.Type))
	case decode.KindDNS:
		e.dns(&p.DNS[i])
	case decode.KindDHCP:
		e.dhcp(&p.DHCP[i])
	case decode.KindDHCPv6:
		x := &p.DHCPv6[i]
		w.uint(`,"msgtype":`, uint64(x.MsgType))
		if len(x.TransactionID) == 3 {
			w.uint(`,"xid":`, uint64(x.TransactionID[0])<<16|uint64(x.TransactionID[1])<<8|uint64(x.TransactionID[2]))
		}
	case decode.KindNTP:
		x := &p.NTP[i]
		w.uint(`,"flags_li":`, uint64(x.LeapIndicator))
		w.uint(`,"flags_vn":`, uint64(x.Version))
		w.uint(`,"flags_mode":`, uint64(x.Mode))
		w.uint(`,"stratum":`, uint64(x.Stratum))
		w.int(`,"ppoll":`, int64(x.Poll))
		w.int(`,"precision":`, int64(x.Precision))
		w.float(`,"rootdelay":`, float64(x.RootDelay)/65536)
		w.float(`,"rootdispersion":`, float64(x.RootDispersion)/65536)
	case decode.KindHTTP:
		e.http(&p.HTTP[i])
	case decode.KindTLS:
		e.tls(&p.TLS[i])
	default:
		e.appLayer(p, l)
	}
}

// ports writes the ports of a TCP or UDP layer.
func (e *Encoder) ports(p *decode.Packet, l decode.Layer) {
	w := &e.w
	var sport, dport uint64
	if l.Kind == decode.KindTCP {
		sport, dport = uint64(p.TCP[l.Index].SrcPort), uint64(p.TCP[l.Index].DstPort)
	} else {
		sport, dport = uint64(p.UDP[l.Index].SrcPort), uint64(p.UDP[l.Index].DstPort)
	}
	w.uint(`,"srcport":`, sport)
	w.uint(`,"dstport":`, dport)
}

// transportRest writes the fields of a TCP or UDP layer after the ports.
func (e *Encoder) transportRest(p *decode.Packet, l decode.Layer) {
	if l.Kind == decode.KindUDP {
		x := &p.UDP[l.Index]
		b := fieldUint(e.w.b, `,"length":`, uint64(x.Length))
		e.w.b = fieldUint(b, `,"checksum":`, uint64(x.Checksum))
		return
	}
	if !l.Partial {
		e.w.b = appendTCP(e.w.b, &p.TCP[l.Index], p.TCPSegLen[l.Index])
	}
}

// ipVarying writes the fields of an IPv4 or IPv6 header that change from
// packet to packet within a flow: they come first in the object, so that
// the shape cache can hold the rest (see shape.go).
func (e *Encoder) ipVarying(p *decode.Packet, l decode.Layer) {
	e.w.b = appendIPVarying(e.w.b, p, l)
}

func appendIPVarying(b []byte, p *decode.Packet, l decode.Layer) []byte {
	if l.Kind == decode.KindIPv6 {
		return fieldUint(b, `,"plen":`, uint64(p.IPv6[l.Index].Length))
	}
	x := &p.IPv4[l.Index]
	b = fieldUint(b, `,"len":`, uint64(x.Length))
	b = fieldUint(b, `,"id":`, uint64(x.Id))
	b = fieldUint(b, `,"frag_offset":`, uint64(x.FragOffset)*8)
	return fieldUint(b, `,"checksum":`, uint64(x.Checksum))
}

// ipPartial writes the fields of an IPv4 or IPv6 header that was cut
// short or damaged: those of the bytes in its Contents (see
// decode.ipv4Partial), as Wireshark shows them before it stops.
func (e *Encoder) ipPartial(p *decode.Packet, l decode.Layer) {
	w := &e.w
	if l.Kind == decode.KindIPv4 {
		x := &p.IPv4[l.Index]
		n := len(x.Contents)
		w.uint(`,"version":`, uint64(x.Version))
		w.uint(`,"hdr_len":`, uint64(x.IHL)*4)
		if n >= 2 {
			w.b = append(w.b, dsfields[x.TOS]...)
		}
		if n >= 4 {
			w.uint(`,"len":`, uint64(x.Length))
		}
		if n >= 6 {
			w.uint(`,"id":`, uint64(x.Id))
		}
		if n >= 8 {
			w.b = append(w.b, ipv4Flags[x.Flags&7]...)
			w.uint(`,"frag_offset":`, uint64(x.FragOffset)*8)
		}
		if n >= 9 {
			w.uint(`,"ttl":`, uint64(x.TTL))
		}
		if n >= 10 {
			w.uint(`,"proto":`, uint64(x.Protocol))
		}
		if n >= 12 {
			w.uint(`,"checksum":`, uint64(x.Checksum))
		}
		if len(x.SrcIP) == 4 {
			w.ip(`,"src":`, x.SrcIP)
		}
		if len(x.DstIP) == 4 {
			w.ip(`,"dst":`, x.DstIP)
		}
		return
	}
	x := &p.IPv6[l.Index]
	n := len(x.Contents)
	w.uint(`,"version":`, uint64(x.Version))
	if n >= 2 {
		w.uint(`,"tclass":`, uint64(x.TrafficClass))
		w.uint(`,"tclass_dscp":`, uint64(x.TrafficClass>>2))
		w.uint(`,"tclass_ecn":`, uint64(x.TrafficClass&3))
	}
	if n >= 4 {
		w.uint(`,"flow":`, uint64(x.FlowLabel))
	}
	if n >= 6 {
		w.uint(`,"plen":`, uint64(x.Length))
	}
	if n >= 7 {
		w.uint(`,"nxt":`, uint64(x.NextHeader))
	}
	if n >= 8 {
		w.uint(`,"hlim":`, uint64(x.HopLimit))
	}
	if len(x.SrcIP) == 16 {
		w.ip(`,"src":`, x.SrcIP)
	}
}

// ipConstant writes the other fields of an IPv4 or IPv6 header.
func (e *Encoder) ipConstant(p *decode.Packet, l decode.Layer) {
	w := &e.w
	i := l.Index
	if l.Kind == decode.KindIPv4 {
		x := &p.IPv4[i]
		if x.Version == 4 {
			w.b = append(w.b, ipv4HdrLen[x.IHL&15]...)
		} else {
			w.uint(`,"version":`, uint64(x.Version))
			w.uint(`,"hdr_len":`, uint64(x.IHL)*4)
		}
		w.b = append(w.b, dsfields[x.TOS]...)
		w.b = append(w.b, ipv4Flags[x.Flags&7]...)
		w.uint(`,"ttl":`, uint64(x.TTL))
		w.uint(`,"proto":`, uint64(x.Protocol))
		e.ipAddrs(l, x.SrcIP, x.DstIP)
		return
	}
	x := &p.IPv6[i]
	w.uint(`,"version":`, uint64(x.Version))
	w.uint(`,"tclass":`, uint64(x.TrafficClass))
	w.uint(`,"tclass_dscp":`, uint64(x.TrafficClass>>2))
	w.uint(`,"tclass_ecn":`, uint64(x.TrafficClass&3))
	w.uint(`,"flow":`, uint64(x.FlowLabel))
	w.uint(`,"nxt":`, uint64(x.NextHeader))
	w.uint(`,"hlim":`, uint64(x.HopLimit))
	e.ipAddrs(l, x.SrcIP, x.DstIP)
	ext := &p.IPv6Ext[i]
	if ext.HopOptsNxt >= 0 {
		w.uint(`,"hopopts_nxt":`, uint64(ext.HopOptsNxt))
		w.uint(`,"hopopts_len":`, uint64(ext.HopOptsLen))
	}
	if ext.RoutingNxt >= 0 {
		w.uint(`,"routing_nxt":`, uint64(ext.RoutingNxt))
		w.uint(`,"routing_type":`, uint64(ext.RoutingType))
		w.uint(`,"routing_segleft":`, uint64(ext.RoutingSegs))
	}
	if ext.FragNxt >= 0 {
		w.uint(`,"fraghdr_nxt":`, uint64(ext.FragNxt))
		w.uint(`,"fraghdr_offset":`, uint64(ext.FragOffset))
		w.bool(`,"fraghdr_more":`, ext.FragMore)
		w.uint(`,"fraghdr_ident":`, uint64(ext.FragIdent))
	}
	if ext.DstOptsNxt >= 0 {
		w.uint(`,"dstopts_nxt":`, uint64(ext.DstOptsNxt))
		w.uint(`,"dstopts_len":`, uint64(ext.DstOptsLen))
	}
}

// appendTCP appends the fields of a TCP layer after the ports; segLen is
// the segment's length by the IP header (-1 if unknown), which Wireshark's
// tcp.len counts from. Like the other hot-path writers it works on a local
// slice, which the compiler keeps in registers.
func appendTCP(b []byte, x *layers.TCP, segLen int) []byte {
	b = appendUint32(append(b, `,"seq_raw":`...), x.Seq)
	b = appendUint32(append(b, `,"ack_raw":`...), x.Ack)
	b = fieldUint(b, `,"hdr_len":`, uint64(x.DataOffset)*4)
	// flags from the header itself: gopacket drops the 3 reserved bits
	var f uint16
	if c := x.Contents; len(c) >= 14 {
		f = uint16(c[12]&0x0f)<<8 | uint16(c[13])
	}
	if f < 0x200 {
		b = append(b, tcpFlagsRes0[f]...)
	} else { // reserved bits set
		b = fieldUint(b, `,"flags":`, uint64(f))
		b = append(b, `,"flags_res":true`...)
		b = append(b, tcpFlags[f&0x1ff]...)
	}
	b = appendUint(appendKey(b, `,"window_size_value":`), uint64(x.Window))
	b = fieldUint(b, `,"checksum":`, uint64(x.Checksum))
	b = appendUint(appendKey(b, `,"urgent_pointer":`), uint64(x.Urgent))
	if segLen < 0 {
		segLen = len(x.Payload)
	}
	b = fieldUint(b, `,"len":`, uint64(segLen))
	if len(x.Options) == 0 {
		return b
	}
	b = append(b, `,"option_kind":`...)
	for i, o := range x.Options {
		if i == 0 {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		b = appendUint(b, uint64(o.OptionType))
	}
	b = append(b, ']')
	for _, o := range x.Options {
		switch o.OptionType {
		case layers.TCPOptionKindMSS:
			if len(o.OptionData) == 2 {
				b = appendUint(appendKey(b, `,"options_mss_val":`), uint64(o.OptionData[0])<<8|uint64(o.OptionData[1]))
			}
		case layers.TCPOptionKindWindowScale:
			if len(o.OptionData) == 1 {
				b = appendUint(appendKey(b, `,"options_wscale_shift":`), uint64(o.OptionData[0]))
			}
		case layers.TCPOptionKindSACKPermitted:
			b = append(b, `,"options_sack_perm":true`...)
		case layers.TCPOptionKindTimestamps:
			if d := o.OptionData; len(d) == 8 {
				b = appendUint32(appendKey(b, `,"options_timestamp_tsval":`), binary.BigEndian.Uint32(d))
				b = appendUint32(appendKey(b, `,"options_timestamp_tsecr":`), binary.BigEndian.Uint32(d[4:]))
			}
		}
	}
	return b
}

// ipAddrs writes an IP layer's src and dst, reusing the text the ECS fields
// of the same header already hold.
func (e *Encoder) ipAddrs(l decode.Layer, src, dst []byte) {
	w := &e.w
	if l.Kind == e.ipLayer.Kind && l.Index == e.ipLayer.Index && len(e.ipText[0]) > 0 {
		w.key(`,"src":`)
		w.b = append(w.b, e.ipText[0]...)
		w.key(`,"dst":`)
		w.b = append(w.b, e.ipText[1]...)
		return
	}
	w.ip(`,"src":`, src)
	w.ip(`,"dst":`, dst)
}

// ethCache remembers the rendered fields of recent Ethernet headers: a
// capture sees few MAC address pairs (hosts and their gateway).
type ethCache struct {
	slots [64]ethSlot
}

type ethSlot struct {
	hdr   [14]byte
	valid bool
	n     int
	json  [80]byte
}

// ethernet writes an Ethernet layer's fields.
func (e *Encoder) ethernet(x *layers.Ethernet) {
	w := &e.w
	if len(x.Contents) < 14 {
		e.ethFields(x)
		return
	}
	var hdr [14]byte
	copy(hdr[:], x.Contents)
	h := (uint32(hdr[5]) | uint32(hdr[11])<<8 | uint32(hdr[13])<<16) * 0x9e3779b1
	s := &e.eth.slots[h>>26]
	if s.valid && s.hdr == hdr {
		w.b = append(w.b, s.json[:s.n]...)
		return
	}
	start := len(w.b)
	e.ethFields(x)
	if n := len(w.b) - start; n <= len(s.json) {
		s.hdr, s.valid, s.n = hdr, true, n
		copy(s.json[:], w.b[start:])
	}
}

func (e *Encoder) ethFields(x *layers.Ethernet) {
	w := &e.w
	w.mac(`,"dst":`, x.DstMAC)
	w.mac(`,"src":`, x.SrcMAC)
	if x.EthernetType >= 0x0600 {
		w.uint(`,"type":`, uint64(x.EthernetType))
	} else {
		w.uint(`,"len":`, uint64(x.Length))
	}
}

// appendHexString appends b as a JSON string of lowercase hex bytes joined
// by colons, as tshark writes byte fields.
func appendHexString(dst, b []byte) []byte { return appendMAC(dst, b) }
