package filter

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/bpf"
)

func TestBadExpression(t *testing.T) {
	needLibpcap(t)
	_, err := Compile("tcp prot 80", 1, 0)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile of a bad expression: got %v, want a *CompileError", err)
	}
	want := `filter: "tcp prot 80" (link type 1, EN10MB): can't parse filter expression: syntax error`
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Error("a syntax error must not look like a missing libpcap")
	}
}

func TestNotForLinkType(t *testing.T) {
	needLibpcap(t)
	for _, c := range []struct {
		expr     string
		linkType int
		msg      string
	}{
		{"vlan", 101, `filter: "vlan" (link type 101, RAW): no VLAN support for Raw IP`},
		{"ether broadcast", 228, `filter: "ether broadcast" (link type 228, IPV4): not a broadcast link`},
		{"inbound", 1, `filter: "inbound" (link type 1, EN10MB): inbound/outbound not supported on Ethernet when reading savefiles`},
	} {
		_, err := Compile(c.expr, c.linkType, 0)
		if err == nil || err.Error() != c.msg {
			t.Errorf("Compile(%q, %d): got %v, want %s", c.expr, c.linkType, err, c.msg)
		}
	}
}

func TestMissingLibpcap(t *testing.T) {
	restore := setLibNamesForTest([]string{"libpcap-espcap-test-missing.so.9", "libpcap-espcap-test-missing.so"})
	defer restore()
	_, err := Compile("tcp", 1, 0)
	if err == nil {
		t.Fatal("Compile without libpcap succeeded")
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("error %v does not wrap ErrUnavailable", err)
	}
	if err2 := Available(); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("Available() = %v, want %v", err2, err)
	}
	msg := err.Error()
	wantParts := []string{"--bpf", "libpcap0.8"}
	if cgoEnabled {
		wantParts = append(wantParts, "libpcap-espcap-test-missing.so.9, libpcap-espcap-test-missing.so", "cannot open shared object file")
	} else {
		wantParts = append(wantParts, "CGO_ENABLED=0")
	}
	for _, w := range wantParts {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
	t.Log(msg)
	restore()
	if cgoEnabled && Available() == nil {
		if _, err := Compile("tcp", 1, 0); err != nil {
			t.Errorf("after restoring: %v", err)
		}
	}
}

func TestCacheAndSet(t *testing.T) {
	needLibpcap(t)
	cache := NewCache("tcp port 80", 0)
	s1, s2 := cache.NewSet(), cache.NewSet()
	m1, err := s1.For(1)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := s2.For(1)
	if err != nil {
		t.Fatal(err)
	}
	if m1 == m2 {
		t.Error("two Sets share a Matcher")
	}
	if m1.Program() != m2.Program() {
		t.Error("the program was compiled twice for one link type")
	}
	if again, _ := s1.For(1); again != m1 {
		t.Error("For made a new Matcher for the same link type")
	}
	raw, err := s1.For(101)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Program().DLT != 12 || m1.Program().DLT != 1 {
		t.Errorf("DLTs %d and %d, want 12 (DLT_RAW) and 1", raw.Program().DLT, m1.Program().DLT)
	}
	if again, _ := s1.For(1); again != m1 {
		t.Error("For lost the Ethernet matcher")
	}

	// BSD loopback depends on the file's byte order: AF_INET is 2 in the
	// capturing host's order.
	v4le := append([]byte{2, 0, 0, 0}, ipv4TCP...)
	v4be := append([]byte{0, 0, 0, 2}, ipv4TCP...)
	ls := NewSet("ip", 0)
	le, err := ls.ForByteOrder(0, binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	be, err := ls.ForByteOrder(0, binary.BigEndian)
	if err != nil {
		t.Fatal(err)
	}
	if !le.Match(v4le, -1) || le.Match(v4be, -1) || !be.Match(v4be, -1) || be.Match(v4le, -1) {
		t.Error("BSD loopback matching ignores the file byte order")
	}

	// An expression that does not apply to a link type is an error every
	// time, not a silent drop.
	vs := NewSet("vlan", 0)
	if _, err := vs.For(1); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ok, err := vs.Match(101, ipv4TCP, -1)
		var ce *CompileError
		if ok || !errors.As(err, &ce) || ce.LinkType != 101 {
			t.Errorf("vlan on raw IP: got %v, %v; want a *CompileError", ok, err)
		}
	}
}

func TestCacheConcurrent(t *testing.T) {
	needLibpcap(t)
	cache := NewCache("tcp or arp", 0)
	progs := make(chan *Program, 8*3)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := cache.NewSet()
			for _, lt := range []int{1, 113, 228} {
				m, err := s.For(lt)
				if err != nil {
					t.Error(err)
					return
				}
				m.Match(ipv4TCP, -1)
				progs <- m.Program()
			}
		}()
	}
	wg.Wait()
	close(progs)
	distinct := map[*Program]bool{}
	for p := range progs {
		distinct[p] = true
	}
	if len(distinct) != 3 {
		t.Errorf("%d programs compiled for 3 link types", len(distinct))
	}
}

// ipv4TCP is an IPv4 TCP SYN to port 80 (from seed/test_http.pcap).
var ipv4TCP = []byte{
	0x45, 0x00, 0x00, 0x40, 0x35, 0x4d, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
	0x0a, 0x00, 0x00, 0x04, 0xb8, 0x33, 0x66, 0x51,
	0xe9, 0x9b, 0x00, 0x50, 0xaf, 0x29, 0x5b, 0xfb, 0x00, 0x00, 0x00, 0x00,
	0xb0, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
}

// TestVM checks the interpreter on hand-written programs for cases real
// captures rarely reach.
func TestVM(t *testing.T) {
	ins := func(op uint16, jt, jf uint8, k uint32) bpf.RawInstruction {
		return bpf.RawInstruction{Op: op, Jt: jt, Jf: jf, K: k}
	}
	retA := ins(clsRET|retA, 0, 0, 0)
	pkt := []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0x45}
	for _, c := range []struct {
		name    string
		prog    []bpf.RawInstruction
		pkt     []byte
		wirelen int
		want    uint32
	}{
		{"len is the wire length", []bpf.RawInstruction{ins(clsLD|szW|mdLEN, 0, 0, 0), retA}, pkt, 1500, 1500},
		{"ldx len", []bpf.RawInstruction{ins(clsLDX|szW|mdLEN, 0, 0, 0), ins(clsMISC|miscTXA, 0, 0, 0), retA}, pkt, 99, 99},
		{"ld word", []bpf.RawInstruction{ins(clsLD|szW|mdABS, 0, 0, 2), retA}, pkt, -1, 0x56789a45},
		{"ld word past end", []bpf.RawInstruction{ins(clsLD|szW|mdABS, 0, 0, 3), retA}, pkt, -1, 0},
		{"ld half past end", []bpf.RawInstruction{ins(clsLD|szH|mdABS, 0, 0, 5), retA}, pkt, -1, 0},
		{"ld byte past end", []bpf.RawInstruction{ins(clsLD|mdIMM, 0, 0, 7), ins(clsLD|szB|mdABS, 0, 0, 6), retA}, pkt, -1, 0},
		{"ld ind overflow", []bpf.RawInstruction{ins(clsLDX|mdIMM, 0, 0, 0xffffffff), ins(clsLD|szB|mdIND, 0, 0, 2), retA}, pkt, -1, 0},
		{"ld ind byte just past end", []bpf.RawInstruction{ins(clsLDX|mdIMM, 0, 0, 1), ins(clsLD|szB|mdIND, 0, 0, 5), ins(clsRET|retK, 0, 0, 1)}, pkt, -1, 0},
		{"ld ind half just past end", []bpf.RawInstruction{ins(clsLDX|mdIMM, 0, 0, 1), ins(clsLD|szH|mdIND, 0, 0, 4), ins(clsRET|retK, 0, 0, 1)}, pkt, -1, 0},
		{"ld ind word just past end", []bpf.RawInstruction{ins(clsLDX|mdIMM, 0, 0, 1), ins(clsLD|szW|mdIND, 0, 0, 2), ins(clsRET|retK, 0, 0, 1)}, pkt, -1, 0},
		{"ld ind word at end", []bpf.RawInstruction{ins(clsLDX|mdIMM, 0, 0, 1), ins(clsLD|szW|mdIND, 0, 0, 1), retA}, pkt, -1, 0x56789a45},
		{"ld ind byte at end", []bpf.RawInstruction{ins(clsLDX|mdIMM, 0, 0, 1), ins(clsLD|szB|mdIND, 0, 0, 4), retA}, pkt, -1, 0x45},
		{"ld ind", []bpf.RawInstruction{ins(clsLDX|mdIMM, 0, 0, 1), ins(clsLD|szH|mdIND, 0, 0, 3), retA}, pkt, -1, 0x9a45},
		{"msh", []bpf.RawInstruction{ins(clsLDX|szB|mdMSH, 0, 0, 5), ins(clsMISC|miscTXA, 0, 0, 0), retA}, pkt, -1, 20},
		{"msh past end", []bpf.RawInstruction{ins(clsLDX|szB|mdMSH, 0, 0, 6), ins(clsRET|retK, 0, 0, 1)}, pkt, -1, 0},
		{"neg", []bpf.RawInstruction{ins(clsLD|mdIMM, 0, 0, 64), ins(clsALU|aluNEG, 0, 0, 0), retA}, pkt, -1, 0xffffffc0},
		{"div by X 0", []bpf.RawInstruction{ins(clsLD|mdIMM, 0, 0, 64), ins(clsALU|aluDIV|srcX, 0, 0, 0), ins(clsRET|retK, 0, 0, 1)}, pkt, -1, 0},
		{"mod by X 0", []bpf.RawInstruction{ins(clsLD|mdIMM, 0, 0, 64), ins(clsALU|aluMOD|srcX, 0, 0, 0), ins(clsRET|retK, 0, 0, 1)}, pkt, -1, 0},
		{"shift by 32", []bpf.RawInstruction{ins(clsLD|mdIMM, 0, 0, 64), ins(clsLDX|mdIMM, 0, 0, 32), ins(clsALU|aluLSH|srcX, 0, 0, 0), retA}, pkt, -1, 0},
		{"scratch", []bpf.RawInstruction{ins(clsLD|mdIMM, 0, 0, 7), ins(clsST, 0, 0, 15), ins(clsLDX|mdMEM, 0, 0, 15), ins(clsMISC|miscTXA, 0, 0, 0), retA}, pkt, -1, 7},
		{"jset", []bpf.RawInstruction{ins(clsLD|szB|mdABS, 0, 0, 0), ins(clsJMP|jmpJSET|srcK, 1, 0, 0x10), ins(clsRET|retK, 0, 0, 0), ins(clsRET|retK, 0, 0, 9)}, pkt, -1, 9},
		{"backward jump loop is bounded", []bpf.RawInstruction{ins(clsLD|mdIMM, 0, 0, 1), ins(clsJMP|jmpJA, 0, 0, 0xfffffffe), retA}, pkt, -1, 0},
	} {
		if err := validate(c.prog); err != nil {
			t.Errorf("%s: validate: %v", c.name, err)
			continue
		}
		if got := run(c.prog, c.pkt, uint32(max(c.wirelen, len(c.pkt)))); got != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, got, c.want)
		}
	}
	for name, prog := range map[string][]bpf.RawInstruction{
		"empty":            nil,
		"no return at end": {ins(clsLD|mdIMM, 0, 0, 1)},
		"jump past end":    {ins(clsJMP|jmpJEQ|srcK, 1, 0, 1), retA},
		"ja before start":  {ins(clsJMP|jmpJA, 0, 0, 0xfffffffd), retA},
		"scratch 16":       {ins(clsST, 0, 0, 16), retA},
		"div by 0":         {ins(clsALU|aluDIV|srcK, 0, 0, 0), retA},
		"unknown op":       {ins(0xff, 0, 0, 0), retA},
		"extension":        {ins(clsLD|szB|0xe0, 0, 0, 0), retA},
	} {
		if validate(prog) == nil {
			t.Errorf("validate accepted %s", name)
		}
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	needLibpcap(t)
	p, err := Compile("ip6 protochain 6 or (tcp port 80 and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420)", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := p.Matcher()
	pkt := append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00}, ipv4TCP...)
	if n := testing.AllocsPerRun(1000, func() { m.Match(pkt, len(pkt)) }); n != 0 {
		t.Errorf("Match allocates %v times per packet", n)
	}
}

// BenchmarkMatch runs "tcp port 80" over every packet of a real capture,
// with this package's interpreter and, for comparison, with
// golang.org/x/net/bpf's VM (which gets "len" wrong on truncated packets).
func BenchmarkMatch(b *testing.B) {
	dir := corpusDir(b)
	needLibpcap(b)
	c, err := readCaptureFile(filepath.Join(dir, "nDPI/1kxun.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	for _, expr := range []string{"tcp port 80", "not (udp port 53 or arp) and net 192.168.0.0/16 and greater 100"} {
		p, err := Compile(expr, c.packets[0].linkType, c.snaplen)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("own/"+expr, func(b *testing.B) {
			m := p.Matcher()
			b.ReportAllocs()
			kept := 0
			for i := 0; b.Loop(); i++ {
				pk := &c.packets[i%len(c.packets)]
				if m.Match(pk.data, pk.origLen) {
					kept++
				}
			}
		})
		b.Run("x-net-bpf/"+expr, func(b *testing.B) {
			insns, _ := bpf.Disassemble(p.Raw)
			vm, err := bpf.NewVM(insns)
			if err != nil {
				b.Skip(err)
			}
			b.ReportAllocs()
			kept := 0
			for i := 0; b.Loop(); i++ {
				pk := &c.packets[i%len(c.packets)]
				if n, _ := vm.Run(pk.data); n != 0 {
					kept++
				}
			}
		})
	}
}

// FuzzRun checks that no program validate accepts can make run panic or
// loop forever, whatever the packet.
func FuzzRun(f *testing.F) {
	f.Add([]byte{0x28, 0, 0, 0, 12, 0, 0, 0, 0x15, 0, 0, 1, 0, 8, 0, 0, 0x06, 0, 0, 0, 1, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0, 0}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0}, uint32(14))
	f.Add([]byte{0x00, 0, 0, 0, 1, 0, 0, 0, 0x05, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x16, 0, 0, 0, 0, 0, 0, 0}, []byte{}, uint32(0))
	f.Fuzz(func(t *testing.T, code, pkt []byte, wirelen uint32) {
		var prog []bpf.RawInstruction
		for i := 0; i+8 <= len(code); i += 8 {
			prog = append(prog, bpf.RawInstruction{
				Op: uint16(code[i]), Jt: code[i+2], Jf: code[i+3],
				K: binary.LittleEndian.Uint32(code[i+4:]),
			})
		}
		if validate(prog) != nil {
			return
		}
		run(prog, pkt, wirelen)
	})
}
