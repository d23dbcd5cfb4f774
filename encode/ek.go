package encode

// This file turns packets as tshark prints them with -T ek (Elasticsearch
// bulk format) into the same documents the native decoder gives
// (docs/SCHEMA.md, section "tshark engine").

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/flow"
)

// EKKind is how a tshark field's value is written.
type EKKind uint8

// Kinds of tshark fields, from the field types of `tshark -G fields`.
const (
	// EKString is written as a JSON string (also addresses, bytes, times).
	EKString EKKind = iota
	// EKInt and EKUint are integers (FT_INT*, FT_UINT*): tshark's "0x0800"
	// and "6" become JSON numbers.
	EKInt
	EKUint
	// EKFloat is FT_FLOAT, FT_DOUBLE and FT_RELATIVE_TIME: a JSON number.
	EKFloat
	// EKProtocol is an item that is itself a protocol (tcp.options.sack_perm):
	// present, so written as true, as the native decoder does.
	EKProtocol
	// EKBool is an integer that docs/SCHEMA.md types as a boolean (a
	// one-bit field Wireshark 4.0 declares as an integer): 0 → false.
	EKBool
	// EKInt8 is an 8-bit two's complement number that Wireshark 4.0
	// declares unsigned (ntp.precision: 245 → -11).
	EKInt8
	// EKFixed16 is an unsigned 16.16 fixed-point number of seconds, written
	// as seconds (ntp.rootdelay: 4109 → 0.0626983642578125).
	EKFixed16
	// EKBytes is a byte string (FT_BYTES, FT_UINT_BYTES), written as
	// tshark's hex text, or left out when longer than MaxBytesText.
	EKBytes
	// EKFrameNum is a frame number (FT_FRAMENUM: dns.response_to,
	// http.request_in, ...): an unsigned integer, mapped like frame.number
	// when the encoder has a frame number map (EKEncoder.SetFrameNumbers).
	EKFrameNum
)

// MaxBytesText is the longest hex text of a byte-string field (FT_BYTES,
// FT_UINT_BYTES: payloads such as tcp.payload, data.data, tls.app_data) that
// goes into a document: 1024 characters, 341 bytes as tshark prints them
// ("de:ad:..."). Longer ones are left out: the index ignores keyword values
// above 1024 characters anyway (ignore_above), so they would only bloat
// _source (56 % of the bytes of the documents of the shared test captures).
const MaxBytesText = 1024

// contractKinds are the fields whose type in docs/SCHEMA.md differs from
// Wireshark 4.0's field type, so that both engines write the same JSON type
// into the same index.
var contractKinds = map[string]EKKind{
	"mpls.bottom":        EKBool,
	"erspan.truncated":   EKBool,
	"ntp.precision":      EKInt8,
	"ntp.rootdelay":      EKFixed16,
	"ntp.rootdispersion": EKFixed16,
}

// ekField is what the table knows of one EK key.
type ekField struct {
	parentLen uint16 // length of "<parent>_" at the start of the key (0: no parent)
	kind      EKKind
}

// EKFields maps tshark's EK keys ("ip_ip_src": the parent protocol and the
// field name, dots turned into underscores) to the field's type and to
// where its Wireshark name starts in the key. Fill it once from
// `tshark -G fields` (tsharkek.LoadFields); it is read-only afterwards and
// can be shared by any number of EKEncoders.
type EKFields struct {
	m map[string]ekField
}

// NewEKFields returns an empty table.
func NewEKFields() *EKFields { return &EKFields{m: make(map[string]ekField, 1<<17)} }

// Len returns the number of keys stored (string fields whose names follow
// the usual pattern need no entry).
func (t *EKFields) Len() int { return len(t.m) }

// AddField registers a field: parent is its protocol's abbreviation ("ip"),
// abbrev the field's ("ip.src"), ftype its type as `tshark -G fields`
// prints it ("FT_IPv4").
func (t *EKFields) AddField(parent, abbrev, ftype string) {
	kind := EKString
	switch ftype {
	case "FT_INT8", "FT_INT16", "FT_INT24", "FT_INT32", "FT_INT40", "FT_INT48", "FT_INT56", "FT_INT64":
		kind = EKInt
	case "FT_UINT8", "FT_UINT16", "FT_UINT24", "FT_UINT32", "FT_UINT40", "FT_UINT48", "FT_UINT56", "FT_UINT64":
		kind = EKUint
	case "FT_FRAMENUM":
		kind = EKFrameNum
	case "FT_FLOAT", "FT_DOUBLE", "FT_RELATIVE_TIME":
		kind = EKFloat
	case "FT_BYTES", "FT_UINT_BYTES":
		kind = EKBytes
	}
	if k, ok := contractKinds[abbrev]; ok {
		kind = k
	}
	key := ekName(parent) + "_" + ekName(abbrev)
	f := ekField{parentLen: uint16(len(parent) + 1), kind: kind}
	if _, dup := t.m[key]; dup {
		return // the first registration wins
	}
	if kind == EKString && guessParentLen(key) == int(f.parentLen) {
		return // the default: nothing to store
	}
	t.m[key] = f
}

// AddProtocol registers a protocol ("tcp.options.sack_perm"); protocols that
// occur as items inside another protocol's tree are written as true.
func (t *EKFields) AddProtocol(abbrev string) {
	key := ekName(abbrev)
	if _, dup := t.m[key]; !dup {
		t.m[key] = ekField{kind: EKProtocol}
	}
}

// ekName turns a Wireshark name into tshark's EK form: dots become
// underscores.
func ekName(s string) string { return strings.ReplaceAll(s, ".", "_") }

// lookup returns what the table knows of key, or the default guess.
func (t *EKFields) lookup(key []byte) ekField {
	if t != nil {
		if f, ok := t.m[string(key)]; ok {
			return f
		}
	}
	return ekField{parentLen: uint16(guessParentLen(key))}
}

// guessParentLen returns the length of "X_" when key is "X_X_rest" (the
// usual form of a field X.rest of protocol X), else 0.
func guessParentLen[S string | []byte](key S) int {
	for i := 1; 2*i+1 < len(key); i++ {
		if key[i] != '_' {
			continue
		}
		if key[2*i+1] == '_' && string(key[:i]) == string(key[i+1:2*i+1]) {
			return i + 1
		}
	}
	return 0
}

// ekAlias names the layers that the native engine files under another
// protocol's key (docs/SCHEMA.md: dns also for mDNS and LLMNR, http also
// for SSDP).
func ekAlias(layer []byte) []byte {
	switch string(layer) {
	case "mdns", "llmnr":
		return aliasDNS
	case "ssdp":
		return aliasHTTP
	}
	return layer
}

var aliasDNS, aliasHTTP = []byte("dns"), []byte("http")

// EKInfo is what the pipeline needs to know of a document written by
// EKEncoder.Encode.
type EKInfo struct {
	Timestamp int64  // capture time, Unix nanoseconds
	Number    uint64 // frame number
	Malformed bool   // tshark found the packet malformed
	OrigLen   int    // frame length on the wire
	// PcapOffset is tshark's frame.file_off when Meta.PcapFile is set
	// and tshark printed it, else -1
	PcapOffset int64
	// Flow: EncodeFlow filled the flow packet (the packet has an IP header)
	Flow bool
}

// ekLayer is one layer occurrence of a packet, in order.
type ekLayer struct {
	key   []byte           // EK key, as tshark names it ("mdns")
	name  []byte           // key in the document ("dns")
	v     *fastjson.Value  // the layer object
	stray *fastjson.Object // tshark's layers object, when fields beside the layers belong to this one
}

// ekRef is what an EKEncoder knows of an EK key inside a given layer,
// worked out on the key's first occurrence and cached: the field's name in
// the document (and its number, for grouping repeated fields), its kind and
// the length of its "<parent>_" prefix.
type ekRef struct {
	key       []byte // the EK key
	name      []byte
	id        int32
	kind      EKKind
	parentLen uint16
}

// ekItem is one field (or nested object) of a layer being written.
type ekItem struct {
	id     int32 // name number (EKEncoder.intern)
	name   []byte
	key    []byte
	kind   EKKind
	v      *fastjson.Value
	nested bool // an object written as such (_ws.expert)
}

// ekScratch is reused per nesting level of EKEncoder.writeLayer.
type ekScratch struct {
	items []ekItem
	order []int32 // first item of each name, in order of appearance
	next  []int32 // next item of the same name, -1 at the end
	last  []int32 // per group: its last item
	// group[id] is the group of name id when stamp[id] == gen
	group []int32
	stamp []uint32
	gen   uint32
	// seq is the layer's keys in the order of its last occurrence, pos the
	// position in it (refAt)
	seq *ekSeq
	pos int
}

// ekSeq is the sequence of keys of one layer as last seen: tshark writes
// the fields of a protocol in the same order from packet to packet, so the
// key at a position is usually the one there last time, found by comparing
// bytes instead of hashing.
type ekSeq struct{ refs []*ekRef }

// maxSeq bounds an ekSeq.
const maxSeq = 4096

// maxRefs bounds an EKEncoder's cache of keys; tshark's keys come from its
// field table, so it is reached only by a field table of pathological size.
const maxRefs = 1 << 16

// EKEncoder writes documents from packets as tshark -T ek prints them. Give
// each goroutine its own.
type EKEncoder struct {
	enc    *Encoder
	fields *EKFields
	layers []ekLayer
	levels [4]ekScratch
	addr   [2][16]byte
	// refs caches ekRefs by layer + "\x00" + EK key; names numbers the
	// document names (intern)
	refs  map[string]*ekRef
	names map[string]int32
	seqs  map[string]*ekSeq // by layer EK key
	kbuf  []byte
	iface []byte // the last frame.interface_name, and as a string:
	ifstr string
	// frameNum maps tshark's frame numbers to the ones written (nil:
	// tshark's own); see SetFrameNumbers
	frameNum func(uint64) uint64
	// the flow packet EncodeFlow fills (nil: Encode), where it keeps its
	// texts, and the header it fills it from
	fp   *flow.Packet
	keep ByteKeeper
	fh   flow.Header
}

// SetFrameNumbers makes the encoder write f(n) for tshark's frame number n,
// in frame.number and in every frame-number field (FT_FRAMENUM:
// dns.response_to, http.request_in, ...); nil writes tshark's numbers. The
// tshark engine uses it when tshark reads a filtered copy of a capture
// (--bpf), so that documents keep the frame numbers of the original file.
// f must not allocate if Encode is to stay allocation-free.
func (e *EKEncoder) SetFrameNumbers(f func(n uint64) uint64) { e.frameNum = f }

// NewEKEncoder returns an EKEncoder that names a packet's protocol from
// protos and types fields from fields (nil: every field is a string, except
// tshark's booleans).
func NewEKEncoder(protos *Protocols, fields *EKFields) *EKEncoder {
	return &EKEncoder{
		enc:    NewEncoder(protos),
		fields: fields,
		refs:   make(map[string]*ekRef, 1024),
		seqs:   make(map[string]*ekSeq, 64),
		names:  make(map[string]int32, 1024),
	}
}

// ref returns what is known of EK key k in layer (EK form), from the cache
// after the key's first occurrence: one map lookup, no allocation.
func (e *EKEncoder) ref(layer, k []byte) *ekRef {
	e.kbuf = append(append(append(e.kbuf[:0], layer...), 0), k...)
	if r, ok := e.refs[string(e.kbuf)]; ok {
		return r
	}
	f := e.fields.lookup(k)
	name := bytes.Clone(fieldName(layer, k, int(f.parentLen)))
	r := &ekRef{key: bytes.Clone(k), name: name, id: e.intern(name), kind: f.kind, parentLen: f.parentLen}
	e.refs[string(e.kbuf)] = r
	return r
}

// refAt is ref for the next key of the layer being collected into s:
// checked first against the key at the same position in the layer's last
// occurrence.
func (e *EKEncoder) refAt(s *ekScratch, layer, k []byte) *ekRef {
	i := s.pos
	s.pos++
	seq := s.seq.refs
	if i < len(seq) && bytes.Equal(seq[i].key, k) {
		return seq[i]
	}
	r := e.ref(layer, k)
	switch {
	case i < len(seq):
		seq[i] = r
	case i == len(seq) && i < maxSeq:
		s.seq.refs = append(seq, r)
	}
	return r
}

// seqFor returns the key sequence of a layer.
func (e *EKEncoder) seqFor(layer []byte) *ekSeq {
	if q, ok := e.seqs[string(layer)]; ok {
		return q
	}
	q := &ekSeq{}
	e.seqs[string(layer)] = q
	return q
}

// intern returns the number of a document name.
func (e *EKEncoder) intern(name []byte) int32 {
	if id, ok := e.names[string(name)]; ok {
		return id
	}
	id := int32(len(e.names))
	e.names[string(name)] = id
	return id
}

// reset empties the caches (and the grouping tables, whose name numbers
// they define).
func (e *EKEncoder) reset() {
	clear(e.refs)
	clear(e.names)
	clear(e.seqs)
	for i := range e.levels {
		s := &e.levels[i]
		s.group, s.stamp, s.gen = s.group[:0], s.stamp[:0], 0
	}
}

// errNoLayers is the error of a line that is not a tshark EK packet.
var errNoLayers = errors.New("not a tshark EK packet: no layers object")

// Encode appends the document of one tshark EK packet (the parsed line
// after the bulk action line) to dst. m gives file_name, file_date_utc,
// pcap.file (the offset is tshark's frame.file_off, present when tshark runs
// with -o frame.show_file_off:TRUE) and interface.name (tshark's frame.interface_name wins when present); capture
// time, frame number and lengths come from tshark's frame layer. On error
// dst is returned unchanged.
func (e *EKEncoder) Encode(dst []byte, m *Meta, pkt *fastjson.Value) ([]byte, EKInfo, error) {
	info := EKInfo{PcapOffset: -1}
	lv := pkt.Get("layers")
	if lv == nil || lv.Type() != fastjson.TypeObject {
		return dst, info, errNoLayers
	}
	lo, _ := lv.Object()
	if len(e.refs) >= maxRefs {
		e.reset()
	}

	// frame fields and layer occurrences, in order
	var frame *fastjson.Object
	e.layers = e.layers[:0]
	lo.Visit(func(k []byte, v *fastjson.Value) {
		if string(k) == "frame" && v.Type() == fastjson.TypeObject && frame == nil {
			frame, _ = v.Object()
			return
		}
		e.addLayer(k, v, 0)
	})
	if frame == nil {
		return dst, info, errors.New("tshark EK packet without frame layer")
	}
	// fields that tshark prints beside the layers (tcp.segments after
	// reassembly) go to the last layer of their protocol
	lo.Visit(func(k []byte, v *fastjson.Value) {
		if t := v.Type(); t == fastjson.TypeObject || isObjectArray(v) {
			return
		}
		pl := int(e.ref(nil, k).parentLen)
		if pl == 0 {
			return
		}
		proto := k[:pl-1]
		for i := len(e.layers) - 1; i >= 0; i-- {
			if bytes.Equal(e.layers[i].key, proto) {
				e.layers[i].stray = lo
				return
			}
		}
	})

	meta := *m
	var chain []byte
	var err error
	if meta.Timestamp, err = parseEpoch(frame.Get("frame_frame_time_epoch").GetStringBytes()); err != nil {
		return dst, info, fmt.Errorf("frame.time_epoch: %w", err)
	}
	meta.Number = uintOf(frame.Get("frame_frame_number"))
	if e.frameNum != nil {
		meta.Number = e.frameNum(meta.Number)
	}
	meta.OrigLen = int(uintOf(frame.Get("frame_frame_len")))
	meta.CapLen = int(uintOf(frame.Get("frame_frame_cap_len")))
	if s := frame.Get("frame_frame_interface_name").GetStringBytes(); len(s) > 0 {
		if !bytes.Equal(s, e.iface) {
			e.iface = append(e.iface[:0], s...)
			e.ifstr = string(s)
		}
		meta.Interface = e.ifstr
	}
	chain = frame.Get("frame_frame_protocols").GetStringBytes()
	info.Timestamp, info.Number, info.OrigLen = meta.Timestamp, meta.Number, meta.OrigLen

	w := &e.enc.w
	w.b = dst
	w.depth = 0
	w.open()
	w.b = e.enc.appendHead(w.b, &meta)

	pchain := unsafeString(chain)
	cont := e.httpContinuation()
	if cont {
		// an HTTP continuation segment is not an HTTP message: its
		// protocol is the layer below (as in the native engine)
		pchain = DropLastLayer(pchain, "http")
	}
	if highest := e.enc.protos.Highest(pchain); highest != "" {
		w.strs(`,"protocol":`, highest)
	} else if len(chain) > 0 {
		w.str(`,"protocol":`, chain[bytes.LastIndexByte(chain, ':')+1:])
	} else {
		w.strs(`,"protocol":`, "unknown")
	}
	w.object(`,"frame":`)
	w.uint(`,"number":`, meta.Number)
	w.uint(`,"len":`, uint64(meta.OrigLen))
	w.uint(`,"cap_len":`, uint64(meta.CapLen))
	w.str(`,"protocols":`, chain)
	w.close()

	fragment := e.ecs(chain, &info)
	info.Malformed = e.tags(&meta, fragment, cont)

	w.object(`,"layers":`)
	for i := range e.layers {
		l := &e.layers[i]
		if l.name == nil || isWS(l.key) {
			continue // written already as part of an earlier group, or tshark's own
		}
		n := 0
		for j := i; j < len(e.layers); j++ {
			if bytes.Equal(e.layers[j].name, l.name) {
				n++
			}
		}
		w.key(`,`)
		w.b = appendString(w.b, l.name)
		w.b = append(w.b, ':')
		if n > 1 {
			w.openArray()
		}
		name := l.name
		for j := i; j < len(e.layers); j++ {
			if o := &e.layers[j]; bytes.Equal(o.name, name) {
				if n > 1 {
					w.elem()
				}
				e.writeLayer(o.key, o.v, o.stray, 0)
				o.name = nil
			}
		}
		if n > 1 {
			w.closeArray()
		}
	}
	w.close()
	e.ecsApp(chain)
	if m.PcapFile != "" {
		// tshark's frame.file_off (-o frame.show_file_off:TRUE): the
		// record's offset in the file tshark read
		if off := frame.Get("frame_frame_file_off"); off != nil {
			info.PcapOffset = int64(uintOf(off))
			w.b = AppendPcapPosition(w.b, m.PcapFile, info.PcapOffset)
		}
	}
	if info.Flow && len(m.FlowID) > 0 {
		w.b = appendFlowID(w.b, m.FlowID)
	}

	w.close()
	return w.b, info, nil
}

// isObjectArray reports whether v is an array of objects (tshark groups
// repeated layers and subtrees so).
func isObjectArray(v *fastjson.Value) bool {
	if v.Type() != fastjson.TypeArray {
		return false
	}
	a, _ := v.Array()
	return len(a) > 0 && a[0].Type() == fastjson.TypeObject
}

// isWS reports whether an EK key is one of tshark's own pseudo-protocols
// (_ws.malformed, _ws.expert, ...).
func isWS(k []byte) bool { return bytes.HasPrefix(k, []byte("_ws_")) }

// addLayer records the layer occurrences of v (an object, or an array of
// objects) under key k, and the protocols nested in them.
func (e *EKEncoder) addLayer(k []byte, v *fastjson.Value, depth int) {
	switch v.Type() {
	case fastjson.TypeObject:
		e.layers = append(e.layers, ekLayer{key: k, name: ekAlias(k), v: v})
		if depth < 8 {
			o, _ := v.Object()
			o.Visit(func(ck []byte, cv *fastjson.Value) {
				if hoisted(k, ck) && (cv.Type() == fastjson.TypeObject || isObjectArray(cv)) {
					e.addLayer(ck, cv, depth+1)
				}
			})
		}
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, x := range a {
			if x.Type() == fastjson.TypeObject {
				e.addLayer(k, x, depth)
			}
		}
	}
}

// hoisted reports whether an object ck nested in layer k is a layer of its
// own: a protocol carried inside another (the IP datagram quoted in an ICMP
// error, TLS inside QUIC), as opposed to a part of the same protocol
// (ipv6.hopopts inside ipv6), which is flattened into it, and tshark's own
// annotations (_ws.expert), which stay nested.
func hoisted(k, ck []byte) bool {
	if isWS(ck) {
		return false
	}
	return !(len(ck) > len(k) && bytes.HasPrefix(ck, k) && ck[len(k)] == '_')
}

// writeLayer writes one layer object: its fields with the protocol prefix
// dropped, repeated fields as arrays.
func (e *EKEncoder) writeLayer(layer []byte, v *fastjson.Value, stray *fastjson.Object, depth int) {
	w := &e.enc.w
	if depth >= len(e.levels) {
		w.b = append(w.b, "{}"...)
		return
	}
	s := &e.levels[depth]
	s.items = s.items[:0]
	s.seq, s.pos = e.seqFor(layer), 0
	e.collect(s, layer, v, depth)
	if stray != nil {
		stray.Visit(func(k []byte, v *fastjson.Value) {
			if v.Type() == fastjson.TypeObject || isObjectArray(v) {
				return
			}
			if r := e.refAt(s, layer, k); r.parentLen > 0 && bytes.Equal(k[:r.parentLen-1], layer) {
				s.items = append(s.items, ekItem{id: r.id, name: r.name, key: k, kind: r.kind, v: v})
			}
		})
	}

	// group the items by name, in order of first appearance
	s.gen++
	if s.gen == 0 { // wrapped: forget every stamp
		clear(s.stamp)
		s.gen = 1
	}
	if n := len(e.names); len(s.group) < n {
		s.group = append(s.group, make([]int32, n-len(s.group))...)
		s.stamp = append(s.stamp, make([]uint32, n-len(s.stamp))...)
	}
	s.order = s.order[:0]
	s.last = s.last[:0]
	s.next = s.next[:0]
	for i := range s.items {
		s.next = append(s.next, -1)
		id := s.items[i].id
		if s.stamp[id] != s.gen {
			s.stamp[id] = s.gen
			s.group[id] = int32(len(s.order))
			s.order = append(s.order, int32(i))
			s.last = append(s.last, int32(i))
			continue
		}
		g := s.group[id]
		s.next[s.last[g]] = int32(i)
		s.last[g] = int32(i)
	}

	w.open()
	for _, first := range s.order {
		it := &s.items[first]
		if it.nested {
			n := 0
			for i := first; i >= 0; i = s.next[i] {
				n++
			}
			w.key(`,`)
			w.b = appendString(w.b, it.name)
			w.b = append(w.b, ':')
			if n > 1 {
				w.openArray()
			}
			for i := first; i >= 0; i = s.next[i] {
				if n > 1 {
					w.elem()
				}
				e.writeLayer(s.items[i].key, s.items[i].v, nil, depth+1)
			}
			if n > 1 {
				w.closeArray()
			}
			continue
		}
		n := 0
		for i := first; i >= 0; i = s.next[i] {
			n += valueCount(s.items[i].kind, s.items[i].v)
		}
		if n == 0 {
			continue // only byte strings too long to keep
		}
		w.key(`,`)
		w.b = appendString(w.b, it.name)
		w.b = append(w.b, ':')
		if n != 1 {
			w.openArray()
		}
		for i := first; i >= 0; i = s.next[i] {
			e.writeValue(s.items[i].kind, s.items[i].v, n != 1)
		}
		if n != 1 {
			w.closeArray()
		}
	}
	w.close()
}

// collect gathers the items of layer object v (named layer in EK form),
// flattening the subtrees of the same protocol.
func (e *EKEncoder) collect(s *ekScratch, layer []byte, v *fastjson.Value, depth int) {
	o, err := v.Object()
	if err != nil {
		return
	}
	o.Visit(func(k []byte, cv *fastjson.Value) {
		if string(k) == "text" {
			return // tshark's unnamed text labels
		}
		t := cv.Type()
		if t == fastjson.TypeObject || t == fastjson.TypeArray && isObjectArray(cv) {
			switch {
			case isWS(k):
				name := k[len("_ws_"):]
				id := e.intern(name)
				if t == fastjson.TypeArray {
					// one item per object, so that they group into an array
					a, _ := cv.Array()
					for _, x := range a {
						s.items = append(s.items, ekItem{id: id, name: name, key: k, v: x, nested: true})
					}
				} else {
					s.items = append(s.items, ekItem{id: id, name: name, key: k, v: cv, nested: true})
				}
			case !hoisted(layer, k) && depth < 8:
				if t == fastjson.TypeArray {
					a, _ := cv.Array()
					for _, x := range a {
						e.collect(s, layer, x, depth+1)
					}
				} else {
					e.collect(s, layer, cv, depth+1)
				}
			}
			return
		}
		r := e.refAt(s, layer, k)
		s.items = append(s.items, ekItem{id: r.id, name: r.name, key: k, kind: r.kind, v: cv})
	})
}

// fieldName returns the document name of EK key k in layer (EK form), given
// the length pl of its "<parent>_" prefix: Wireshark's field name without
// its protocol prefix, dots as underscores ("ip_ip_src" in ip → "src",
// "ipv6_hopopts_ipv6_hopopts_nxt" in ipv6 → "hopopts_nxt",
// "dns_dns_qry_name" in mdns → "qry_name").
func fieldName(layer, k []byte, pl int) []byte {
	abbrev := k[pl:]
	if len(abbrev) > len(layer)+1 && bytes.HasPrefix(abbrev, layer) && abbrev[len(layer)] == '_' {
		return abbrev[len(layer)+1:]
	}
	if pl > 0 && len(abbrev) > pl && bytes.HasPrefix(abbrev, k[:pl]) {
		return abbrev[pl:]
	}
	return abbrev
}

// fieldName is fieldName with the prefix length from the field table.
func (e *EKEncoder) fieldName(layer, k []byte) []byte {
	return fieldName(layer, k, int(e.fields.lookup(k).parentLen))
}

// keep reports whether a value of a field of kind goes into the document:
// not a byte string longer than MaxBytesText.
func keep(kind EKKind, v *fastjson.Value) bool {
	if kind != EKBytes || v.Type() != fastjson.TypeString {
		return true
	}
	s, _ := v.StringBytes()
	return len(s) <= MaxBytesText
}

// valueCount returns how many values of v (one, or its elements if an
// array) go into the document.
func valueCount(kind EKKind, v *fastjson.Value) int {
	if v.Type() != fastjson.TypeArray {
		if keep(kind, v) {
			return 1
		}
		return 0
	}
	a, _ := v.Array()
	if kind != EKBytes {
		return len(a)
	}
	n := 0
	for _, x := range a {
		if keep(kind, x) {
			n++
		}
	}
	return n
}

// writeValue writes the value(s) of a field of the given kind; with elem,
// each value as an array element.
func (e *EKEncoder) writeValue(kind EKKind, v *fastjson.Value, elem bool) {
	w := &e.enc.w
	t := v.Type()
	if t == fastjson.TypeArray {
		a, _ := v.Array()
		for _, x := range a {
			// without elem, the array holds one value that is kept
			e.writeValue(kind, x, elem)
		}
		return
	}
	if !keep(kind, v) {
		return
	}
	if elem {
		w.elem()
	}
	switch t {
	case fastjson.TypeTrue, fastjson.TypeNull: // FT_NONE items: present
		w.b = append(w.b, "true"...)
	case fastjson.TypeFalse:
		w.b = append(w.b, "false"...)
	case fastjson.TypeNumber:
		w.b = v.MarshalTo(w.b)
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if kind == EKFrameNum && e.frameNum != nil {
			if n, ok := parseUint(s); ok {
				w.b = appendUint(w.b, e.frameNum(n))
				break
			}
		}
		w.b = appendTyped(w.b, kind, s)
	default:
		w.b = append(w.b, "null"...) // not produced by tshark
	}
}

// appendTyped appends tshark's text s of a field of the given kind.
// Integers are read in tshark's bases ("0x0800", "6"); a value that does not
// read as its type is kept as a string.
func appendTyped(dst []byte, kind EKKind, s []byte) []byte {
	switch kind {
	case EKUint, EKInt, EKFrameNum:
		if v, ok := parseUint(s); ok {
			return appendUint(dst, v)
		}
		if kind == EKInt && len(s) > 1 && s[0] == '-' {
			if v, ok := parseUint(s[1:]); ok && v <= 1<<63 {
				return appendUint(append(dst, '-'), v)
			}
		}
	case EKFloat:
		if f, err := strconv.ParseFloat(string(s), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return strconv.AppendFloat(dst, f, 'f', -1, 64)
		}
	case EKProtocol:
		return append(dst, "true"...)
	case EKBool:
		if v, ok := parseUint(s); ok {
			if v != 0 {
				return append(dst, "true"...)
			}
			return append(dst, "false"...)
		}
	case EKInt8:
		if v, ok := parseUint(s); ok && v < 256 {
			return appendInt(dst, int64(int8(v)))
		}
	case EKFixed16:
		if v, ok := parseUint(s); ok && v < 1<<32 {
			return strconv.AppendFloat(dst, float64(v)/65536, 'f', -1, 64)
		}
	}
	return appendString(dst, s)
}

// parseUint reads an unsigned integer as tshark prints one: decimal, or hex
// with 0x.
func parseUint(s []byte) (uint64, bool) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		v, err := strconv.ParseUint(string(s[2:]), 16, 64)
		return v, err == nil
	}
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// uintOf returns the unsigned integer in a tshark string value, or 0.
func uintOf(v *fastjson.Value) uint64 {
	n, _ := parseUint(v.GetStringBytes())
	return n
}

// parseEpoch reads tshark's frame.time_epoch ("1438233730.468623000") as
// Unix nanoseconds.
func parseEpoch(s []byte) (int64, error) {
	sec, frac, _ := bytes.Cut(s, []byte("."))
	neg := len(sec) > 0 && sec[0] == '-'
	if neg {
		sec = sec[1:]
	}
	n, ok := parseUint(sec)
	if !ok || n > math.MaxInt64/1_000_000_000-1 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	var ns int64
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("bad time %q", s)
			}
			ns += int64(c - '0')
		}
	}
	t := int64(n)*1e9 + ns
	if neg {
		t = -t
	}
	return t, nil
}

// DropLastLayer returns the colon-separated protocol chain without its last
// occurrence of protocol p ("eth:ethertype:ip:tcp:http:data" without http:
// "eth:ethertype:ip:tcp:data"); chain itself when p is not in it.
func DropLastLayer(chain, p string) string {
	for i := len(chain); i > 0; {
		j := strings.LastIndexByte(chain[:i], ':')
		if chain[j+1:i] == p {
			if j < 0 {
				return strings.TrimPrefix(chain[i:], ":")
			}
			return chain[:j] + chain[i:]
		}
		if j < 0 {
			break
		}
		i = j
	}
	return chain
}

// httpContinuation reports whether the packet's HTTP layer is a
// continuation segment: neither a request nor a response line.
func (e *EKEncoder) httpContinuation() bool {
	h := e.firstLayer("http")
	return h != nil && h.Type() == fastjson.TypeObject &&
		h.Get("http_http_request_method") == nil && h.Get("http_http_response_code") == nil &&
		h.Get("http_http_response_version") == nil && h.Get("http_http_request_version") == nil
}

// firstLayer returns the first occurrence of the layer with EK key k.
func (e *EKEncoder) firstLayer(k string) *fastjson.Value {
	for i := range e.layers {
		if string(e.layers[i].key) == k {
			return e.layers[i].v
		}
	}
	return nil
}

// nthLayer returns occurrence n (0: the first) of the layer with EK key k.
func (e *EKEncoder) nthLayer(k string, n int) *fastjson.Value {
	for i := range e.layers {
		if string(e.layers[i].key) == k {
			if n == 0 {
				return e.layers[i].v
			}
			n--
		}
	}
	return nil
}

// countLayer returns how many times protocol p is in the colon-separated
// chain.
func countLayer(chain, p string) int {
	n := 0
	for rest := chain; rest != ""; {
		var q string
		q, rest, _ = strings.Cut(rest, ":")
		if q == p {
			n++
		}
	}
	return n
}

// ecs writes the ECS summary fields of the innermost IP header that an
// ICMP error does not quote and the transport header right after it in the
// protocol chain (as the native engine does: see Encoder.ecs), and reports
// whether that IP header is a fragment.
func (e *EKEncoder) ecs(chain []byte, info *EKInfo) (fragment bool) {
	// the innermost IP layer of the packet itself and what follows it in
	// the chain, with their occurrence numbers among the layers of their
	// name (0: the outermost), and where the IP layer ends in the chain
	var ipName, next string
	var ipN, nextN, ipEnd int
	var ipv, tv *fastjson.Value // their layers
	app := ""
	c := unsafeString(chain)
	own := OwnChain(c)
	for rest := c; rest != ""; {
		var p string
		p, rest, _ = strings.Cut(rest, ":")
		at := len(c) - len(rest) // the end of p (and its colon)
		if at > len(own)+1 || (at > len(own) && rest == "") {
			break // a datagram an ICMP error quotes
		}
		if a, ok := ekApp[p]; ok && !(app == "quic" && a == "tls") {
			app = a // TLS in QUIC is QUIC
		}
		switch {
		case p == "ip" || p == "ipv6":
			ipName, ipN, next, ipEnd = p, countLayer(c[:at], p)-1, "", at
		case ipName != "" && next == "" && !strings.HasPrefix(p, "ipv6."):
			next, nextN = p, countLayer(c[:at], p)-1
		}
	}
	var src, dst []byte
	var proto uint8
	netType := ""
	if ipName != "" {
		ip := e.nthLayer(ipName, ipN)
		ipv = ip
		if ip == nil {
			ipName = ""
		} else if ipName == "ip" {
			src = e.parseAddr(0, ip.GetStringBytes("ip_ip_src"))
			dst = e.parseAddr(1, ip.GetStringBytes("ip_ip_dst"))
			proto = uint8(uintOf(ip.Get("ip_ip_proto")))
			netType = "ipv4"
			fragment = ip.GetBool("ip_ip_flags_mf") || uintOf(ip.Get("ip_ip_frag_offset")) > 0
		} else {
			src = e.parseAddr(0, ip.GetStringBytes("ipv6_ipv6_src"))
			dst = e.parseAddr(1, ip.GetStringBytes("ipv6_ipv6_dst"))
			proto = uint8(uintOf(ip.Get("ipv6_ipv6_nxt")))
			netType = "ipv6"
			for _, x := range [...][2]string{
				{"ipv6_hopopts", "ipv6_hopopts_ipv6_hopopts_nxt"},
				{"ipv6_routing", "ipv6_routing_ipv6_routing_nxt"},
				{"ipv6_fraghdr", "ipv6_fraghdr_ipv6_fraghdr_nxt"},
				{"ipv6_dstopts", "ipv6_dstopts_ipv6_dstopts_nxt"},
			} {
				if h := ip.Get(x[0]); h != nil {
					if n := h.Get(x[1]); n != nil {
						proto = uint8(uintOf(n))
					}
					if x[0] == "ipv6_fraghdr" {
						fragment = true
					}
				}
			}
		}
		if src == nil || dst == nil || len(src) != len(dst) {
			ipName, src, dst, netType = "", nil, nil, ""
		}
	}
	var sport, dport uint16
	transport := ""
	hasPorts := false
	if ipName != "" {
		switch next {
		case "tcp", "udp", "sctp", "icmp", "icmpv6":
			k := ekTransportKeys[next]
			if t := e.nthLayer(k[0], nextN); t != nil {
				tv = t
				sport = uint16(uintOf(t.Get(k[1])))
				dport = uint16(uintOf(t.Get(k[2])))
				transport, hasPorts = k[3], next == "tcp" || next == "udp" || next == "sctp"
			}
		}
	}
	cidOK := ipName != "" && (transport != "" || !fragment)
	e.enc.writeECS(ipName != "", src, dst, proto, netType, sport, dport, transport, hasPorts, app, cidOK)
	if e.fp != nil && ipName != "" {
		h := &e.fh
		*h = flow.Header{Src: src, Dst: dst, Proto: proto}
		info.Flow = e.flowPacket(c, own, ipEnd, ipv, next, tv, sport, dport)
	}
	return fragment
}

// ekTransportKeys are, per transport in the protocol chain, its layer's EK
// key, the keys of the fields ECS takes as source and destination port
// (ICMP: type and code) and its network.transport name.
var ekTransportKeys = map[string][4]string{
	"tcp":    {"tcp", "tcp_tcp_srcport", "tcp_tcp_dstport", "tcp"},
	"udp":    {"udp", "udp_udp_srcport", "udp_udp_dstport", "udp"},
	"sctp":   {"sctp", "sctp_sctp_srcport", "sctp_sctp_dstport", "sctp"},
	"icmp":   {"icmp", "icmp_icmp_type", "icmp_icmp_code", "icmp"},
	"icmpv6": {"icmpv6", "icmpv6_icmpv6_type", "icmpv6_icmpv6_code", "ipv6-icmp"},
}

// unsafeString returns b as a string without copying, for reading only
// while b is not modified (the parsed tshark line).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// parseAddr reads an IPv4 or IPv6 address into the encoder's slot i.
func (e *EKEncoder) parseAddr(i int, s []byte) []byte {
	a, err := netip.ParseAddr(unsafeString(s))
	if err != nil {
		return nil
	}
	if a.Is4() {
		b := a.As4()
		return append(e.addr[i][:0], b[:]...)
	}
	b := a.As16()
	return append(e.addr[i][:0], b[:]...)
}

// tags writes tags and error.message: malformed when tshark added its
// _ws.malformed layer, snaplen_truncated, ip_fragment, continuation (cont:
// an HTTP continuation segment). It reports whether the packet is
// malformed.
func (e *EKEncoder) tags(m *Meta, fragment, cont bool) bool {
	mal := e.firstLayer("_ws_malformed")
	trunc := m.CapLen < m.OrigLen
	if mal == nil && !trunc && !fragment && !cont {
		return false
	}
	w := &e.enc.w
	w.key(`,"tags":`)
	w.openArray()
	for _, t := range [...]struct {
		on   bool
		name string
	}{{mal != nil, "malformed"}, {trunc, "snaplen_truncated"}, {fragment, "ip_fragment"}, {cont, "continuation"}} {
		if t.on {
			w.elem()
			w.b = append(w.b, '"')
			w.b = append(w.b, t.name...)
			w.b = append(w.b, '"')
		}
	}
	w.closeArray()
	if mal != nil {
		msg := mal.GetStringBytes("_ws_expert", "_ws_expert__ws_expert_message")
		if len(msg) == 0 {
			msg = mal.GetStringBytes("_ws_malformed")
		}
		if len(msg) == 0 {
			msg = []byte("Malformed Packet")
		}
		w.object(`,"error":`)
		w.str(`,"message":`, msg)
		w.close()
	}
	return mal != nil
}
