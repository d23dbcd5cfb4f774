package flow

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"time"
	"unsafe"

	"github.com/espcap/espcap-fast/decode"
)

// EndReason tells why a flow record was written.
type EndReason uint8

// End reasons.
const (
	// Active: an interim update of a flow still in progress.
	Active EndReason = iota
	// EndFIN: both sides sent FIN (or a new SYN reused the closed key).
	EndFIN
	// EndRST: a side sent RST.
	EndRST
	// EndIdle: no packet for the idle timeout.
	EndIdle
	// EndCapture: the capture ended (Flush).
	EndCapture
	// EndEvicted: the table was full and this was its least recently seen flow.
	EndEvicted
)

var reasonNames = [...]string{"active", "fin", "rst", "idle", "end-of-capture", "evicted"}

// String returns the reason as flow.end_reason writes it.
func (r EndReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return ""
}

// Default idle timeouts, Zeek's (tcp_inactivity_timeout 5 min,
// udp_inactivity_timeout and icmp_inactivity_timeout 1 min). Suricata's
// defaults are longer (TCP established 1 h, UDP established 5 min), which
// keeps more state for little gain: a TCP connection quiet for 5 minutes
// has usually been dropped by NAT and firewalls, and an interim update
// (--flow-update) covers long-lived ones. CloseDelay is how long a closed
// TCP flow (FIN both ways, or RST) waits for its last ACKs and stray
// retransmissions before it is written (Zeek's tcp_close_delay, 5 s).
const (
	DefaultTCPTimeout   = 5 * time.Minute
	DefaultUDPTimeout   = time.Minute
	DefaultOtherTimeout = time.Minute
	DefaultCloseDelay   = 5 * time.Second
	// DefaultMaxFlows is the default bound on the flows one table tracks.
	DefaultMaxFlows = 1 << 18
)

// Config configures a Table. Zero values take the defaults.
type Config struct {
	// TCPTimeout, UDPTimeout and OtherTimeout are the idle timeouts per
	// transport (ICMP and other IP protocols share OtherTimeout).
	TCPTimeout, UDPTimeout, OtherTimeout time.Duration
	// CloseDelay: see DefaultCloseDelay.
	CloseDelay time.Duration
	// Update, when positive, makes the table emit an interim record
	// (Final false, Reason Active) of a flow whenever it sees a packet of it
	// and the last record of that flow is older than Update.
	Update time.Duration
	// MaxFlows bounds the flows tracked at once; beyond it the least
	// recently seen flow is written (EndEvicted) and its entry reused.
	MaxFlows int
	// Emit receives every record the table writes. The record is valid
	// only during the call.
	Emit func(r *Record)
	// Inspect is how many packets with a transport payload of each flow
	// have their application layers read (Zeek's dpd_max_packets, nDPI's
	// and Suricata's give-up points): past them, or once the flow's
	// application said all a flow keeps of it (see AppSummary.complete),
	// the flow is settled and its packets are only counted. 0 takes
	// DefaultInspect; a negative value reads every packet.
	Inspect int
}

// DefaultInspect is the default Config.Inspect.
const DefaultInspect = 32

// MaxInspect is the largest Config.Inspect that is not "every packet".
const MaxInspect = 255

// Stats counts what a table did.
type Stats struct {
	Flows   uint64 // flows started
	Records uint64 // records emitted (interim and final)
	Evicted uint64 // flows ended because the table was full
	Active  int    // flows tracked now
}

// Per-side TCP state bits.
const (
	stSyn    = 1 << iota // a SYN without ACK
	stSynAck             // a SYN with ACK
	stFin
	stRst
	stData
)

// History letters, in the order of the bits of a side's letter set.
const histLetters = "SHADFR"

const (
	hS = 1 << iota
	hH
	hA
	hD
	hF
	hR
)

// Lists of entries by last-seen time, one per timeout.
const (
	listTCP = iota
	listUDP
	listOther
	listClosed
	numLists
)

// Record is one flow. Side 0 is the key's A endpoint, side 1 its B.
type Record struct {
	// the fields a packet touches come first: two cache lines

	Key Key
	// OrigSide is the initiator's side: the SYN sender, else the sender of
	// the first packet seen.
	OrigSide uint8
	// Flags ORs the TCP flags each side sent.
	Flags [2]uint8
	tcp   [2]uint8 // st* bits per side
	hist  [2]uint8 // h* letters seen per side
	list  uint8
	// inspected counts the packets with a payload whose application
	// layers were read; settled: no more will be (Config.Inspect)
	inspected uint8
	settled   bool
	// Start and End are the first and last packet times (Unix ns).
	End, Start int64
	// Packets and Bytes (frame length on the wire) sent by each side.
	Packets    [2]uint64
	Bytes      [2]uint64
	lastReport int64
	linked     int64 // End when the entry was put at the tail of its list
	prev, next int32 // neighbours in the list, -1 none

	// ID is the flow.id: 22 characters of base64url of a SHA-256 of the
	// key, the initiator and the start time, so that reading the same
	// capture again gives the same ID.
	ID [22]byte
	// Final is false for an interim update.
	Final  bool
	Reason EndReason
	// History holds the Zeek history letters (see HistoryBytes).
	History [16]byte
	HistLen uint8
	// App is the first application protocol seen ("" if none).
	App string
	// Summary is what the application layers said.
	Summary AppSummary
	// Positions are where the flow's first MaxPositions packets lie in
	// capture files, filled by the caller (AddPosition); PositionsCut
	// counts the packets past them. The slice's array is kept when the
	// entry is reused.
	Positions    []Position
	PositionsCut uint64

	// the size a multiple of 64 bytes, so that in a slab starting on a
	// cache line (a large allocation does) the fields a packet touches
	// stay in two cache lines
	_ [8]byte
}

// Src returns the initiator's side, Dst the responder's.
func (r *Record) Src() int { return int(r.OrigSide) }

// Dst returns the responder's side.
func (r *Record) Dst() int { return 1 - int(r.OrigSide) }

// Addr returns the address of side s.
func (r *Record) Addr(s int) []byte {
	if s == 0 {
		return r.Key.A[:r.Key.AddrLen()]
	}
	return r.Key.B[:r.Key.AddrLen()]
}

// Port returns the port of side s (for ICMP: the key's port value).
func (r *Record) Port(s int) uint16 {
	if s == 0 {
		return r.Key.PortA
	}
	return r.Key.PortB
}

// HistoryBytes returns the Zeek-style history: one letter per first event
// of its kind in each direction, upper case from the initiator, lower case
// from the responder (S SYN, H SYN-ACK, A pure ACK, D data, F FIN, R RST).
func (r *Record) HistoryBytes() []byte { return r.History[:r.HistLen] }

// ConnState returns Zeek's conn_state of the flow.
func (r *Record) ConnState() string {
	o, d := r.tcp[r.Src()], r.tcp[r.Dst()]
	if r.Key.Proto != protoTCP {
		switch {
		case r.Packets[r.Src()] > 0 && r.Packets[r.Dst()] > 0:
			return "SF"
		case r.Packets[r.Src()] > 0:
			return "S0"
		}
		return "OTH"
	}
	origSyn := o&stSyn != 0
	respSynAck := d&stSynAck != 0
	switch {
	case origSyn && !respSynAck:
		switch {
		case d&stRst != 0:
			return "REJ"
		case o&stRst != 0:
			return "RSTOS0"
		case o&stFin != 0:
			return "SH"
		case r.Packets[r.Dst()] == 0:
			return "S0"
		}
		return "OTH"
	case !origSyn && respSynAck:
		switch {
		case d&stRst != 0:
			return "RSTRH"
		case d&stFin != 0:
			return "SHR"
		}
		return "OTH"
	case origSyn && respSynAck:
		switch {
		case o&stRst != 0:
			return "RSTO"
		case d&stRst != 0:
			return "RSTR"
		case o&stFin != 0 && d&stFin != 0:
			return "SF"
		case o&stFin != 0:
			return "S2"
		case d&stFin != 0:
			return "S3"
		}
		return "S1"
	}
	return "OTH"
}

// Table tracks flows. It is not safe for concurrent use.
type Table struct {
	cfg     Config
	timeout [numLists]int64
	slack   [numLists]int64 // timeout/16: see Observe
	// Observe calls Expire only once the packet time reaches nextExpire,
	// every expireEvery (the smallest slack) of capture time, or goes back
	// before expireFrom (nextExpire-2*expireEvery: see setNextExpire)
	nextExpire, expireEvery int64
	expireFrom              int64
	update                  int64
	emit                    func(*Record)
	inspect                 int // Config.Inspect, negative: every packet

	recs []Record // the slab; grows to MaxFlows
	free []int32  // free entries in recs
	// index is open addressing with linear probing: a slot holds the
	// entry+1 in its low 32 bits (0: empty) and the low 32 bits of its
	// key's hash in the high ones, so that a probe skips other keys and
	// grow and unindex find an entry's home slot without reading its
	// record (the index has at most 2^32 slots)
	index []uint64
	mask  uint64
	head  [numLists]int32
	tail  [numLists]int32

	frags   [256]fragSlot // recent first fragments: their ports
	fragTmp Packet

	stats Stats
}

// fragSlot remembers the ports of a datagram's first fragment, for the
// fragments after it (which have no transport header).
type fragSlot struct {
	key   Key // the first fragment's key, ports included
	id    uint32
	fromB bool
	valid bool
}

// fragSlot returns the cache slot of a fragment of datagram id with key k
// (ports ignored).
func (t *Table) fragSlot(k *Key, id uint32) *fragSlot {
	kk := *k
	kk.PortA, kk.PortB, kk.HasPorts = 0, 0, false
	return &t.frags[(kk.Hash()^uint64(id)*0x9e3779b97f4a7c15)>>56]
}

// fragment gives a later fragment of a datagram the ports of its first
// fragment, when that was seen (IP reassembly would; tshark counts the
// datagram in the transport conversation).
func (t *Table) fragment(p *Packet) *Packet {
	if p.fragFirst && p.Key.HasPorts {
		s := t.fragSlot(&p.Key, p.fragID)
		s.key, s.id, s.fromB, s.valid = p.Key, p.fragID, p.FromB, true
		return p
	}
	if !p.fragLater {
		return p
	}
	s := t.fragSlot(&p.Key, p.fragID)
	if !s.valid || s.id != p.fragID || s.key.A != p.Key.A || s.key.B != p.Key.B || s.key.Proto != p.Key.Proto || s.key.VLAN != p.Key.VLAN {
		return p
	}
	t.fragTmp = *p
	t.fragTmp.Key, t.fragTmp.FromB, t.fragTmp.hashed = s.key, s.fromB, false
	return &t.fragTmp
}

// NewTable returns an empty table.
func NewTable(cfg Config) *Table {
	if cfg.TCPTimeout <= 0 {
		cfg.TCPTimeout = DefaultTCPTimeout
	}
	if cfg.UDPTimeout <= 0 {
		cfg.UDPTimeout = DefaultUDPTimeout
	}
	if cfg.OtherTimeout <= 0 {
		cfg.OtherTimeout = DefaultOtherTimeout
	}
	if cfg.CloseDelay <= 0 {
		cfg.CloseDelay = DefaultCloseDelay
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.Emit == nil {
		cfg.Emit = func(*Record) {}
	}
	switch {
	case cfg.Inspect == 0:
		cfg.Inspect = DefaultInspect
	case cfg.Inspect > MaxInspect:
		cfg.Inspect = MaxInspect
	}
	t := &Table{cfg: cfg, emit: cfg.Emit, update: int64(cfg.Update), inspect: cfg.Inspect}
	t.timeout = [numLists]int64{int64(cfg.TCPTimeout), int64(cfg.UDPTimeout), int64(cfg.OtherTimeout), int64(cfg.CloseDelay)}
	t.expireEvery = t.timeout[0]
	for l, d := range t.timeout {
		t.slack[l] = d / 16
		t.expireEvery = min(t.expireEvery, d/16)
	}
	t.setNextExpire(0)
	n := 1024
	for n < 2*min(cfg.MaxFlows, 4096) {
		n *= 2
	}
	t.index = make([]uint64, n)
	t.mask = uint64(n - 1)
	t.recs = make([]Record, 0, min(cfg.MaxFlows, 4096))
	for i := range t.head {
		t.head[i], t.tail[i] = -1, -1
	}
	return t
}

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	s := t.stats
	s.Active = len(t.recs) - len(t.free)
	return s
}

// slotEntry returns the entry+1 a slot holds (0: none).
func slotEntry(v uint64) int32 { return int32(uint32(v)) }

// slotHash returns the low 32 bits of the hash of the key a slot holds.
func slotHash(v uint64) uint32 { return uint32(v >> 32) }

// lookup returns the index slot of k, whose Hash is h: the one holding it,
// or the empty one where it would go.
func (t *Table) lookup(k *Key, h uint64) uint64 {
	i := h & t.mask
	for {
		v := t.index[i]
		if v == 0 || slotHash(v) == uint32(h) && t.recs[slotEntry(v)-1].Key.equal(k) {
			return i
		}
		i = (i + 1) & t.mask
	}
}

// setSlot makes slot i hold entry e, whose key's Hash is h.
func (t *Table) setSlot(i uint64, e int32, h uint64) {
	t.index[i] = uint64(uint32(h))<<32 | uint64(uint32(e+1))
}

// unindex removes entry e from the index (backward-shift deletion).
func (t *Table) unindex(e int32) {
	i := t.lookup(&t.recs[e].Key, t.recs[e].Key.Hash())
	if slotEntry(t.index[i]) != e+1 {
		return
	}
	for {
		t.index[i] = 0
		j := i
		for {
			j = (j + 1) & t.mask
			f := t.index[j]
			if f == 0 {
				return
			}
			h := uint64(slotHash(f)) & t.mask
			// move f back to i unless its home lies cyclically in (i, j]
			if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
				t.index[i] = f
				i = j
				break
			}
		}
	}
}

// grow doubles the index and reinserts every live entry.
func (t *Table) grow() {
	old := t.index
	n := len(old) * 2
	t.index = make([]uint64, n)
	t.mask = uint64(n - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := uint64(slotHash(v)) & t.mask
		for t.index[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.index[i] = v
	}
}

func (t *Table) unlink(e int32) {
	r := &t.recs[e]
	l := r.list
	if r.prev >= 0 {
		t.recs[r.prev].next = r.next
	} else {
		t.head[l] = r.next
	}
	if r.next >= 0 {
		t.recs[r.next].prev = r.prev
	} else {
		t.tail[l] = r.prev
	}
}

func (t *Table) link(e int32, l uint8) {
	r := &t.recs[e]
	r.list = l
	r.linked = r.End
	r.next = -1
	r.prev = t.tail[l]
	if r.prev >= 0 {
		t.recs[r.prev].next = e
	} else {
		t.head[l] = e
	}
	t.tail[l] = e
}

// end emits entry e's final record and frees it.
func (t *Table) end(e int32, why EndReason) {
	r := &t.recs[e]
	r.Final, r.Reason = true, why
	t.stats.Records++
	t.emit(r)
	t.unindex(e)
	t.unlink(e)
	r.prev = -2
	t.free = append(t.free, e)
}

// Expire writes the flows idle past their timeout at time now (Unix ns).
func (t *Table) Expire(now int64) {
	for l := range numLists {
		for e := t.head[l]; e >= 0; e = t.head[l] {
			r := &t.recs[e]
			if now-r.linked <= t.timeout[l] {
				break
			}
			if now-r.End <= t.timeout[l] {
				// seen since it was linked: its place is at the tail
				t.unlink(e)
				t.link(e, uint8(l))
				continue
			}
			why := EndIdle
			if l == listClosed {
				why = EndFIN
				if r.tcp[0]&stRst != 0 || r.tcp[1]&stRst != 0 {
					why = EndRST
				}
			}
			t.end(e, why)
		}
	}
}

// Flush writes every flow still tracked (EndCapture), oldest first.
func (t *Table) Flush() {
	for {
		e := t.oldest()
		if e < 0 {
			return
		}
		t.end(e, EndCapture)
	}
}

// oldest returns the least recently seen entry, or -1.
func (t *Table) oldest() int32 {
	best := int32(-1)
	for l := range numLists {
		if e := t.head[l]; e >= 0 && (best < 0 || t.recs[e].linked < t.recs[best].linked) {
			best = e
		}
	}
	return best
}

// alloc returns a free entry, evicting the oldest flow if the table is full.
func (t *Table) alloc() int32 {
	if n := len(t.free); n > 0 {
		e := t.free[n-1]
		t.free = t.free[:n-1]
		return e
	}
	if len(t.recs) < t.cfg.MaxFlows {
		if 2*(len(t.recs)+1) > len(t.index) {
			t.grow()
		}
		t.recs = append(t.recs, Record{})
		return int32(len(t.recs) - 1)
	}
	t.stats.Evicted++
	t.end(t.oldest(), EndEvicted)
	n := len(t.free)
	e := t.free[n-1]
	t.free = t.free[:n-1]
	return e
}

// Prefetch starts loading the index slot of p's flow into the cache, for
// a packet that Observe gets a few packets later; PrefetchRecord, called
// after it (when the slot has had time to arrive), starts loading the
// flow's record. Both are hints: they change nothing but the time Observe
// waits for memory.
func (t *Table) Prefetch(p *Packet) {
	if p.hashed {
		decode.PrefetchAt((*byte)(unsafe.Pointer(&t.index[p.hash&t.mask])))
	}
}

// PrefetchRecord starts loading the fields Observe touches of the record
// in p's home index slot (see Prefetch).
func (t *Table) PrefetchRecord(p *Packet) {
	if !p.hashed {
		return
	}
	if e := slotEntry(t.index[p.hash&t.mask]); e != 0 {
		// the fields a packet touches: the first two cache lines
		decode.PrefetchAt((*byte)(unsafe.Pointer(&t.recs[e-1])))
	}
}

// Observe adds one packet sent at ts (Unix ns) with wireLen bytes on the wire
// and returns its flow's record, valid until the next call. Records that
// become due (idle flows, a closed flow whose key a new SYN reuses, interim
// updates) are emitted before it returns.
func (t *Table) Observe(p *Packet, ts int64, wireLen int) *Record {
	if ts >= t.nextExpire || ts < t.expireFrom {
		t.Expire(ts)
		t.setNextExpire(ts + t.expireEvery)
	}
	if p.fragFirst || p.fragLater {
		p = t.fragment(p)
	}
	side := 0
	if p.FromB {
		side = 1
	}
	h := p.keyHash()
	x := slotEntry(t.index[t.lookup(&p.Key, h)])
	if x == 0 {
		return t.start(p, side, ts, wireLen, h)
	}
	e := x - 1
	r := &t.recs[e]
	if p.Key.Proto == protoTCP && p.Flags&(SYN|ACK) == SYN &&
		(r.tcp[0]|r.tcp[1])&(stFin|stRst) != 0 {
		// a new connection on a closed one's ports
		why := EndFIN
		if (r.tcp[0]|r.tcp[1])&stRst != 0 {
			why = EndRST
		}
		t.end(e, why)
		return t.start(p, side, ts, wireLen, h)
	}
	r.count(p, side, ts, wireLen)
	t.inspected(r, p)
	// Moving an entry to the tail of its list on every packet would touch
	// its two neighbours (two cache misses): it moves when its list changes
	// or it was linked more than slack ago, and Expire moves an entry it
	// finds at the head but seen since. The eviction order is thus by
	// last-seen time within slack; and as Observe runs Expire only every
	// expireEvery of capture time, a flow ends at most 1/16 of the
	// smallest timeout after its own.
	if l := r.nextList(p); l != r.list || r.End-r.linked > t.slack[l] {
		t.unlink(e)
		t.link(e, l)
	}
	if t.update > 0 && ts-r.lastReport >= t.update {
		r.lastReport = ts
		r.Final, r.Reason = false, Active
		t.stats.Records++
		t.emit(r)
	}
	return r
}

// setNextExpire makes Observe run Expire once the packet time reaches at
// or goes back before at-2*expireEvery.
func (t *Table) setNextExpire(at int64) {
	t.nextExpire, t.expireFrom = at, at-2*t.expireEvery
}

// nextList returns listFor() after r counted packet p: its list, unless p
// has a flag that can close the flow (r.list is listFor() before the
// packet, and only FIN and RST change a TCP flow's list).
func (r *Record) nextList(p *Packet) uint8 {
	if p.Flags&(FIN|RST) == 0 {
		return r.list
	}
	return r.listFor()
}

// start makes a new flow for p, whose key's Hash is h.
func (t *Table) start(p *Packet, side int, ts int64, wireLen int, h uint64) *Record {
	e := t.alloc()
	r := &t.recs[e]
	pos := r.reusedPositions()
	*r = Record{}
	r.Key, r.Start, r.lastReport, r.Positions = p.Key, ts, ts, pos
	r.OrigSide = uint8(side)
	if p.Key.Proto == protoTCP && p.Flags&(SYN|ACK) == SYN|ACK {
		r.OrigSide = uint8(1 - side)
	}
	r.setID()
	r.count(p, side, ts, wireLen)
	t.inspected(r, p)
	// (alloc may have grown the index or evicted a flow: look again)
	t.setSlot(t.lookup(&p.Key, h), e, h)
	t.link(e, r.listFor())
	t.stats.Flows++
	return r
}

// inspected counts a packet with a payload, whose application layers
// count() has merged, against the flow's Config.Inspect, and settles the
// flow when they are spent or its application has said all a flow keeps.
func (t *Table) inspected(r *Record, p *Packet) {
	if r.settled || p.Payload <= 0 || t.inspect < 0 {
		return
	}
	r.inspected++
	if int(r.inspected) >= t.inspect || r.Summary.complete(r.App) {
		r.settled = true
	}
}

// Wants reports whether Observe would read the application layers of p,
// sent at ts: false when p has no payload, or when p's flow is tracked and
// settled (see Config.Inspect) and p continues it. A caller that has only
// parsed p's headers (see FromHeader) decodes it fully when Wants says
// true; it may say true where Observe then reads nothing.
func (t *Table) Wants(p *Packet, ts int64) bool {
	if p.Payload <= 0 {
		return false
	}
	if t.inspect < 0 || p.fragFirst || p.fragLater {
		return true
	}
	x := slotEntry(t.index[t.lookup(&p.Key, p.keyHash())])
	if x == 0 {
		return true
	}
	r := &t.recs[x-1]
	switch {
	case !r.settled:
		return true
	case p.Key.Proto == protoTCP && p.Flags&(SYN|ACK) == SYN:
		return true // may start a new flow on a closed one's ports
	}
	// Observe's Expire ends the flow first when it has been idle past
	// its timeout
	return ts-r.End > t.timeout[r.list]
}

// listFor returns the list (timeout) for the record's state.
func (r *Record) listFor() uint8 {
	switch r.Key.Proto {
	case protoTCP:
		if (r.tcp[0]|r.tcp[1])&stRst != 0 || r.tcp[0]&r.tcp[1]&stFin != 0 {
			return listClosed
		}
		return listTCP
	case protoUDP:
		return listUDP
	}
	return listOther
}

// tcpEvent is what a TCP segment with given flags adds to its side's
// state: st* bits, and h* history letters with payload (D added) and
// without (an ACK without SYN, FIN or RST is A).
type tcpEvent struct{ st, hist, histEmpty uint8 }

// tcpEvents is the tcpEvent of each value of the flags byte.
var tcpEvents = func() (ev [256]tcpEvent) {
	for i := range ev {
		f, e := uint8(i), &ev[i]
		switch {
		case f&(SYN|ACK) == SYN:
			e.st |= stSyn
			e.hist |= hS
		case f&SYN != 0:
			e.st |= stSynAck
			e.hist |= hH
		}
		if f&FIN != 0 {
			e.st |= stFin
			e.hist |= hF
		}
		if f&RST != 0 {
			e.st |= stRst
			e.hist |= hR
		}
		e.histEmpty = e.hist
		if f&(SYN|FIN|RST) == 0 && f&ACK != 0 {
			e.histEmpty |= hA
		}
	}
	return ev
}()

// count adds a packet to the record.
func (r *Record) count(p *Packet, side int, ts int64, wireLen int) {
	r.Packets[side]++
	r.Bytes[side] += uint64(wireLen)
	if ts < r.Start {
		r.Start = ts
	}
	if ts > r.End {
		r.End = ts
	}
	f := p.Flags
	r.Flags[side] |= f
	if !r.settled {
		if p.App != "" && r.App == "" {
			r.App = p.App
		}
		if p.Fields.set {
			r.Summary.merge(&p.Fields)
		}
	}
	var h uint8
	if p.Key.Proto == protoTCP {
		t := &tcpEvents[f]
		if p.Payload > 0 {
			r.tcp[side] |= t.st | stData
			h = t.hist | hD
		} else {
			r.tcp[side] |= t.st
			h = t.histEmpty
		}
	} else if p.Payload > 0 {
		h = hD
	}
	if nh := h &^ r.hist[side]; nh != 0 {
		r.hist[side] |= nh
		r.addHistory(nh, side == int(r.OrigSide))
	}
}

// addHistory appends the letters of the h* bits nh to the history, in the
// order of histLetters, upper case from the initiator (up), while there is
// room. It visits only the bits that are set (usually one).
func (r *Record) addHistory(nh uint8, up bool) {
	var lower byte
	if !up {
		lower = 'a' - 'A'
	}
	for ; nh != 0 && int(r.HistLen) < len(r.History); nh &= nh - 1 {
		r.History[r.HistLen] = histLetters[bits.TrailingZeros8(nh)] + lower
		r.HistLen++
	}
}

// setID computes the record's ID from its key, initiator and start time.
func (r *Record) setID() {
	var buf [64]byte
	k := &r.Key
	copy(buf[0:16], k.A[:])
	copy(buf[16:32], k.B[:])
	binary.BigEndian.PutUint16(buf[32:], k.PortA)
	binary.BigEndian.PutUint16(buf[34:], k.PortB)
	binary.BigEndian.PutUint16(buf[36:], k.VLAN[0])
	binary.BigEndian.PutUint16(buf[38:], k.VLAN[1])
	buf[40] = k.Proto
	if k.IPv6 {
		buf[41] = 1
	}
	buf[42] = r.OrigSide
	binary.BigEndian.PutUint64(buf[44:], uint64(r.Start))
	sum := sha256.Sum256(buf[:52])
	encodeID(&r.ID, (*[16]byte)(sum[:16]))
}
