package filter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/net/bpf"
)

// maxSnaplen is libpcap's MAXIMUM_SNAPLEN.
const maxSnaplen = 262144

// LibraryNames are the names tried, in order, to load libpcap with dlopen
// on first use. "libpcap.so" alone is only installed with the development
// package.
var LibraryNames = []string{"libpcap.so.1", "libpcap.so.0.8", "libpcap.so"}

// ErrUnavailable is returned (wrapped) by Compile and Available when libpcap
// cannot be used: it is not installed, or this binary was built without cgo.
// Test with errors.Is.
var ErrUnavailable = errors.New("libpcap not available")

// Program is a compiled filter: the classic BPF program libpcap's
// pcap_compile made for Expr on link type LinkType.
type Program struct {
	// Expr is the filter expression, as given to Compile.
	Expr string
	// LinkType is the link type given to Compile: a LINKTYPE_ value as
	// stored in pcap and pcapng files (a DLT_ value for Options.Live).
	LinkType int
	// DLT is the libpcap DLT_ value the program was compiled for. It
	// equals LinkType except for the few link types whose LINKTYPE_ and
	// DLT_ values differ (for example LINKTYPE_RAW 101 is DLT_RAW 12 on
	// Linux).
	DLT int
	// Snaplen is the snapshot length libpcap compiled with (after its own
	// adjustment of 0 or too large values); an accepting program returns
	// it.
	Snaplen int
	// Options are the options given to CompileOptions.
	Options Options
	// Raw is the program as libpcap made it. For Options.Live it is meant
	// for the kernel (SO_ATTACH_FILTER via golang.org/x/net/bpf or
	// unix.SockFprog).
	Raw []bpf.RawInstruction
}

// Options are the less common inputs of CompileOptions.
type Options struct {
	// Snaplen is the capture's snapshot length; 0 lets libpcap choose
	// (262144 for most link types). It only changes the value an accepting
	// program returns, never which packets match.
	Snaplen int
	// ByteOrder is the byte order of the capture file (or pcapng section)
	// the packets come from; nil means this machine's. libpcap needs it
	// for link types whose header is in the capturing host's byte order:
	// BSD loopback (LINKTYPE_NULL 0) and OpenBSD enc (109).
	ByteOrder binary.ByteOrder
	// Live compiles for a live capture on this machine, as libpcap does
	// for a pcap_open_dead handle: LinkType is then a DLT_ value, and the
	// program may use Linux kernel extensions ("inbound" loads the packet
	// type from the kernel), so it is meant for SO_ATTACH_FILTER, not for a
	// Matcher. Without Live the program is the one tcpdump -r compiles for
	// a capture file, and "inbound"/"outbound" fail on link types that do
	// not record the direction.
	Live bool
}

// swapped reports whether o.ByteOrder differs from this machine's.
func (o Options) swapped() bool {
	if o.ByteOrder == nil {
		return false
	}
	b := []byte{1, 2}
	return o.ByteOrder.Uint16(b) != binary.NativeEndian.Uint16(b)
}

// CompileError is the error Compile returns when libpcap rejects an
// expression, either because it is malformed or because it does not apply
// to the link type (for example "vlan" on raw IP).
type CompileError struct {
	// Expr is the expression that failed to compile.
	Expr string
	// LinkType is the link type (LINKTYPE_ value) it was compiled for.
	LinkType int
	// LinkName is libpcap's name for the link type, if known.
	LinkName string
	// Msg is libpcap's message (pcap_geterr).
	Msg string
}

// Error returns a message such as
// `filter: "tcp prot 80" (link type 1, EN10MB): can't parse filter
// expression: syntax error`.
func (e *CompileError) Error() string {
	lt := fmt.Sprintf("link type %d", e.LinkType)
	if e.LinkName != "" {
		lt += ", " + e.LinkName
	}
	return fmt.Sprintf("filter: %q (%s): %s", e.Expr, lt, e.Msg)
}

// pcapMu serialises every call into libpcap: pcap_compile is not thread
// safe in libpcap before 1.8.
var pcapMu sync.Mutex

// Compile compiles expr with libpcap's pcap_compile exactly as tcpdump -r
// does for a capture file of link type linkType (a LINKTYPE_ value, as in
// pcap and pcapng files) and snapshot length snaplen (0: libpcap's
// default): optimised, with netmask 0. A malformed expression, or one that
// does not apply to the link type, gives a *CompileError; if libpcap cannot
// be loaded the error wraps ErrUnavailable and says what to install.
func Compile(expr string, linkType int, snaplen int) (*Program, error) {
	return CompileOptions(expr, linkType, Options{Snaplen: snaplen})
}

// CompileOptions is Compile with more options.
func CompileOptions(expr string, linkType int, o Options) (*Program, error) {
	if o.Snaplen < 0 {
		o.Snaplen = 0
	}
	if o.Live && o.Snaplen == 0 {
		o.Snaplen = maxSnaplen // pcap_open_dead does not choose one itself
	}
	pcapMu.Lock()
	raw, dlt, snap, msg, err := compileRaw(expr, linkType, o)
	name := ""
	if err == nil && msg != "" {
		d := linkType
		if !o.Live {
			d = LinkTypeToDLT(linkType)
		}
		name = dltName(d)
	}
	pcapMu.Unlock()
	if err != nil {
		return nil, err
	}
	if msg != "" {
		return nil, &CompileError{Expr: expr, LinkType: linkType, LinkName: name, Msg: msg}
	}
	if err := validate(raw); err != nil {
		return nil, fmt.Errorf("filter: %q (link type %d): libpcap made a program this package cannot run: %w", expr, linkType, err)
	}
	return &Program{Expr: expr, LinkType: linkType, DLT: dlt, Snaplen: snap, Options: o, Raw: raw}, nil
}

// Available returns nil if libpcap can be loaded, so that Compile can work,
// and otherwise the same error Compile would return.
func Available() error {
	pcapMu.Lock()
	defer pcapMu.Unlock()
	return loadLib()
}

// LinkTypeToDLT maps a LINKTYPE_ value (as stored in pcap and pcapng files)
// to the DLT_ value libpcap uses on Linux, like libpcap's own
// linktype_to_dlt (Compile needs no help: libpcap maps it itself). Most
// values are the same; the exceptions are old ones whose DLT_ values differ
// between operating systems.
func LinkTypeToDLT(linkType int) int {
	switch linkType {
	case 100: // LINKTYPE_ATM_RFC1483
		return 11 // DLT_ATM_RFC1483
	case 101: // LINKTYPE_RAW
		return 12 // DLT_RAW
	case 102: // LINKTYPE_SLIP_BSDOS
		return 15 // DLT_SLIP_BSDOS
	case 103: // LINKTYPE_PPP_BSDOS
		return 16 // DLT_PPP_BSDOS
	case 106: // LINKTYPE_ATM_CLIP
		return 19 // DLT_ATM_CLIP
	}
	return linkType
}

// Matcher runs a Program on packets. Make one per worker goroutine with
// Program.Matcher; a Matcher must not be used by two goroutines at once.
type Matcher struct {
	prog *Program
	insn []bpf.RawInstruction
}

// Matcher returns a new Matcher for p.
func (p *Program) Matcher() *Matcher {
	return &Matcher{prog: p, insn: p.Raw}
}

// Program returns the program m runs.
func (m *Matcher) Program() *Program { return m.prog }

// Match reports whether the packet passes the filter, as tcpdump would
// decide: pkt is the captured bytes, starting at the link-layer header of
// the program's link type, and origLen the packet's original length on the
// wire, which "len", "greater" and "less" test (a negative origLen means
// len(pkt)). Match allocates nothing.
func (m *Matcher) Match(pkt []byte, origLen int) bool {
	if origLen < 0 {
		origLen = len(pkt)
	}
	return run(m.insn, pkt, uint32(origLen)) != 0
}

// Run runs the program and returns its result as libpcap's bpf_filter
// does: 0 rejects the packet, any other value accepts it and is the number
// of bytes to keep.
func (m *Matcher) Run(pkt []byte, origLen int) uint32 {
	if origLen < 0 {
		origLen = len(pkt)
	}
	return run(m.insn, pkt, uint32(origLen))
}

// Cache compiles one expression at most once per link type (and file byte
// order), for all workers; it is safe for concurrent use. Compile errors
// are cached too.
type Cache struct {
	expr    string
	snaplen int

	mu    sync.Mutex
	progs map[cacheKey]cacheEntry
}

// cacheKey identifies a program: byte order only matters to libpcap for a
// few link types, but is kept apart for all.
type cacheKey struct {
	linkType int
	swapped  bool
}

type cacheEntry struct {
	prog *Program
	err  error
}

// NewCache returns a Cache for expr, compiling with snapshot length snaplen
// (0: libpcap's default).
func NewCache(expr string, snaplen int) *Cache {
	return &Cache{expr: expr, snaplen: snaplen, progs: make(map[cacheKey]cacheEntry)}
}

// Expr returns the cached expression.
func (c *Cache) Expr() string { return c.expr }

// Program returns the program for linkType (a LINKTYPE_ value) in a file of
// byte order order (nil: this machine's), compiling it on first use. An
// expression that does not apply to linkType gives a *CompileError.
func (c *Cache) Program(linkType int, order binary.ByteOrder) (*Program, error) {
	o := Options{Snaplen: c.snaplen, ByteOrder: order}
	key := cacheKey{linkType, o.swapped()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.progs[key]; ok {
		return e.prog, e.err
	}
	p, err := CompileOptions(c.expr, linkType, o)
	c.progs[key] = cacheEntry{p, err}
	return p, err
}

// NewSet returns a new Set drawing its programs from c, for one worker.
func (c *Cache) NewSet() *Set {
	return &Set{cache: c, matchers: make(map[cacheKey]*Matcher)}
}

// Set holds one worker's matchers, one per link type, made lazily from a
// Cache. A Set must not be used by two goroutines at once; give each worker
// its own with Cache.NewSet.
type Set struct {
	cache    *Cache
	lastKey  cacheKey
	last     *Matcher
	matchers map[cacheKey]*Matcher
}

// NewSet returns a Set for expr with its own Cache; use Cache.NewSet to
// share compiled programs between workers.
func NewSet(expr string, snaplen int) *Set {
	return NewCache(expr, snaplen).NewSet()
}

// For returns the matcher for linkType (a LINKTYPE_ value) in a file in
// this machine's byte order, compiling the expression for it on first use.
// If the expression does not apply to linkType (libpcap refuses it, for
// example "vlan" on raw IP) the error is a *CompileError, every time For is
// asked for that link type: packets of that link type must not be silently
// dropped.
func (s *Set) For(linkType int) (*Matcher, error) {
	key := cacheKey{linkType: linkType}
	if key == s.lastKey && s.last != nil {
		return s.last, nil
	}
	return s.lookup(key, nil)
}

// ForByteOrder is For for a file (or pcapng section) in byte order order,
// which matters for BSD loopback captures; see Options.ByteOrder.
func (s *Set) ForByteOrder(linkType int, order binary.ByteOrder) (*Matcher, error) {
	key := cacheKey{linkType, Options{ByteOrder: order}.swapped()}
	if key == s.lastKey && s.last != nil {
		return s.last, nil
	}
	return s.lookup(key, order)
}

func (s *Set) lookup(key cacheKey, order binary.ByteOrder) (*Matcher, error) {
	m, ok := s.matchers[key]
	if !ok {
		p, err := s.cache.Program(key.linkType, order)
		if err != nil {
			return nil, err
		}
		m = p.Matcher()
		s.matchers[key] = m
	}
	s.lastKey, s.last = key, m
	return m, nil
}

// Match reports whether a packet of link type linkType passes the filter;
// see Matcher.Match and Set.For.
func (s *Set) Match(linkType int, pkt []byte, origLen int) (bool, error) {
	m, err := s.For(linkType)
	if err != nil {
		return false, err
	}
	return m.Match(pkt, origLen), nil
}
