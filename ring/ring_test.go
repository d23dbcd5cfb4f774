package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/filter"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

const pcapDir = "../testdata/pcaps/"

// readPcap returns the packets of a capture file.
func readPcap(t testing.TB, name string) []capfile.Record {
	t.Helper()
	r, err := capfile.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []capfile.Record
	for {
		var rec capfile.Record
		err := r.Next(&rec)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Data = append([]byte(nil), rec.Data...)
		out = append(out, rec)
	}
}

// synthBlock lays packets out in a TPACKET_V3 block as the kernel does
// (header, sockaddr_ll, room, frame; 16-byte aligned), with VLAN tags taken
// out of tagged Ethernet frames into the header.
func synthBlock(t testing.TB, size int, pkts []capfile.Record) (blk []byte, n int) {
	blk = make([]byte, size)
	const first = 48 // offset of the first packet after the block descriptor
	off := first
	prev := -1
	for i, p := range pkts {
		data := p.Data
		var tci uint16
		var status uint32 = unix.TP_STATUS_USER
		if len(data) >= 18 && binary.BigEndian.Uint16(data[12:]) == unix.ETH_P_8021Q {
			tci = binary.BigEndian.Uint16(data[14:])
			data = append(append([]byte(nil), data[:12]...), data[16:]...)
			status |= unix.TP_STATUS_VLAN_VALID
		}
		mac := 96 + vlanTagLen - 14 // as tpacket_rcv computes for a 14-byte header
		need := (mac + len(data) + 15) &^ 15
		if off+need > size {
			break
		}
		h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&blk[off]))
		h.Sec = uint32(p.Timestamp / 1e9)
		h.Nsec = uint32(p.Timestamp % 1e9)
		h.Snaplen = uint32(len(data))
		h.Len = uint32(p.OrigLen - (len(p.Data) - len(data)))
		h.Status = status
		h.Mac = uint16(mac)
		h.Net = uint16(mac + 14)
		h.Hv1.Vlan_tci = uint32(tci)
		copy(blk[off+mac:], data)
		if prev >= 0 {
			(*unix.Tpacket3Hdr)(unsafe.Pointer(&blk[prev])).Next_offset = uint32(off - prev)
		}
		prev = off
		off += need
		n = i + 1
	}
	binary.NativeEndian.PutUint32(blk[offBlockStatus:], unix.TP_STATUS_USER)
	binary.NativeEndian.PutUint32(blk[offNumPkts:], uint32(n))
	binary.NativeEndian.PutUint32(blk[offFirstPkt:], first)
	binary.NativeEndian.PutUint32(blk[offBlockLen:], uint32(off))
	return blk, n
}

func TestBlockSynthetic(t *testing.T) {
	var pkts []capfile.Record
	for _, f := range []string{"seed_test_dns.pcap", "arkime_twovlan.pcap", "zeek_q-in-q.pcap"} {
		pkts = append(pkts, readPcap(t, pcapDir+f)...)
	}
	blk, n := synthBlock(t, 1<<20, pkts)
	if n != len(pkts) {
		t.Fatalf("block holds %d of %d packets", n, len(pkts))
	}
	var b Block
	b.set(blk)
	if b.Len() != n {
		t.Fatalf("Len %d, want %d", b.Len(), n)
	}
	var p Packet
	i := 0
	for b.Next(&p) {
		want := pkts[i]
		if !bytes.Equal(p.Data, want.Data) {
			t.Fatalf("packet %d: data differs (VLAN tag not put back?)\n got %x\nwant %x", i, p.Data, want.Data)
		}
		if p.Len != want.OrigLen || p.Timestamp != want.Timestamp {
			t.Fatalf("packet %d: len %d ts %d, want %d %d", i, p.Len, p.Timestamp, want.OrigLen, want.Timestamp)
		}
		i++
	}
	if i != n || b.Remaining() != 0 {
		t.Fatalf("read %d packets, want %d", i, n)
	}
	b.Release()
	if binary.NativeEndian.Uint32(blk[offBlockStatus:]) != unix.TP_STATUS_KERNEL {
		t.Fatal("Release did not give the block back")
	}
}

func TestBlockDamaged(t *testing.T) {
	pkts := readPcap(t, pcapDir+"seed_test_dns.pcap")
	blk, n := synthBlock(t, 1<<16, pkts)
	// a packet count larger than what is there, and a next offset past the end
	binary.NativeEndian.PutUint32(blk[offNumPkts:], uint32(n+5))
	var b Block
	b.set(blk)
	var p Packet
	got := 0
	for b.Next(&p) {
		got++
	}
	if got < n-1 || got > n {
		t.Fatalf("read %d packets of a damaged block of %d", got, n)
	}
}

func TestProgram(t *testing.T) {
	p, err := Program("", 1, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 4 || p[3].Code != opRetK || p[3].K != 1500 || p[0].K != 0xfffff004 || p[1].K != unix.PACKET_OUTGOING {
		t.Fatalf("program without filter: %+v", p)
	}
	if err := filter.Available(); err != nil {
		ringtest.Unavailable(t, "libpcap: %v", err)
	}
	p, err = Program("udp port 53", 1, 65535)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) < 6 || p[2].Code != opRetK || p[2].K != 0 {
		t.Fatalf("program: %+v", p)
	}
	_, err = Program("udp prot 53", 1, 0)
	var ce *filter.CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("bad expression: error %v, want a *filter.CompileError", err)
	}
}

func TestParseFanout(t *testing.T) {
	for _, n := range FanoutModes() {
		m, err := ParseFanout(n)
		if err != nil || m.String() != n {
			t.Fatalf("%s: %v %v", n, m, err)
		}
	}
	if _, err := ParseFanout("flow"); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

// capture reads every ring of g in its own goroutine while send runs, until
// want packets were read or nothing came for a second after send
// returned, and returns the packets (their bytes copied).
func capture(t *testing.T, g *Group, want int, send func()) []Packet {
	t.Helper()
	sent := make(chan struct{})
	var mu sync.Mutex
	var got []Packet
	var wg sync.WaitGroup
	for _, r := range g.Rings() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p Packet
			for {
				blk, err := r.Next(time.Second)
				if err != nil {
					if !errors.Is(err, ErrStopped) {
						t.Error(err)
					}
					return
				}
				if blk == nil {
					mu.Lock()
					done := len(got) >= want
					mu.Unlock()
					select {
					case <-sent:
						done = true
					default:
					}
					if done {
						return
					}
					continue
				}
				mu.Lock()
				for blk.Next(&p) {
					c := p
					c.Data = append([]byte(nil), p.Data...)
					got = append(got, c)
				}
				mu.Unlock()
				blk.Release()
			}
		}()
	}
	go func() { defer close(sent); send() }()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		g.Stop()
		<-done
		t.Error("capture did not end")
	}
	return got
}

func sortBytes(b [][]byte) {
	sort.Slice(b, func(i, j int) bool { return bytes.Compare(b[i], b[j]) < 0 })
}

// TestVethReplay replays real captures onto a veth pair and checks that
// every packet arrives, byte for byte, over two rings in a fanout group.
func TestVethReplay(t *testing.T) {
	v := ringtest.NewVeth(t)
	for _, tc := range []struct {
		file   string
		fanout FanoutMode
	}{
		{"seed_test_dns.pcap", FanoutHash},
		{"arkime_twovlan.pcap", FanoutLB},
		{"seed_test_http.pcap", FanoutHash},
	} {
		t.Run(tc.file, func(t *testing.T) {
			pkts := readPcap(t, pcapDir+tc.file)
			g, err := Open(Config{Interface: v.Outside, Rings: 2, Fanout: tc.fanout, BlockSize: 1 << 16, BlockCount: 64, FrameTimeout: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			var sent int
			captured := capture(t, g, len(pkts), func() { sent = v.Replay(t, pcapDir+tc.file) })
			if sent != len(pkts) {
				t.Fatalf("tcpreplay sent %d of %d packets", sent, len(pkts))
			}
			got := make([][]byte, len(captured))
			for i, p := range captured {
				got[i] = p.Data
			}
			want := make([][]byte, len(pkts))
			for i, p := range pkts {
				want[i] = p.Data
			}
			sortBytes(got)
			sortBytes(want)
			if len(got) != len(want) {
				t.Fatalf("captured %d packets, replayed %d", len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("captured packet differs from the file's:\n got %x\nwant %x", got[i], want[i])
				}
			}
			total, per, err := g.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if total.Packets != uint64(len(pkts)) || total.Drops != 0 {
				t.Fatalf("kernel stats %+v, want %d packets and no drops", total, len(pkts))
			}
			t.Logf("%s: per ring %+v", tc.file, per)
		})
	}
}

// TestVethFilter checks that the kernel filter is in place before the
// first packet: only DNS packets arrive.
func TestVethFilter(t *testing.T) {
	if err := filter.Available(); err != nil {
		ringtest.Unavailable(t, "libpcap: %v", err)
	}
	v := ringtest.NewVeth(t)
	pkts := readPcap(t, pcapDir+"seed_test_http.pcap")
	m, err := filter.Compile("tcp[tcpflags] & tcp-syn != 0", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, p := range pkts {
		if m.Matcher().Match(p.Data, p.OrigLen) {
			want++
		}
	}
	g, err := Open(Config{Interface: v.Outside, Rings: 2, BPF: "tcp[tcpflags] & tcp-syn != 0", FrameTimeout: 10 * time.Millisecond, BlockCount: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got := capture(t, g, len(pkts), func() { v.Replay(t, pcapDir+"seed_test_http.pcap", "--pps=20000") })
	if len(got) != want {
		t.Fatalf("filter kept %d packets, want %d", len(got), want)
	}
}

// TestLoopbackOnce checks that a packet sent over lo is captured once, not
// also as its outgoing copy.
func TestLoopbackOnce(t *testing.T) {
	ringtest.NeedRoot(t)
	if err := filter.Available(); err != nil {
		ringtest.Unavailable(t, "libpcap: %v", err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	g, err := Open(Config{Interface: "lo", Rings: 2, BPF: "udp dst port " + strconv.Itoa(port), FrameTimeout: 10 * time.Millisecond, BlockCount: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	const n = 100
	got := capture(t, g, 2*n, func() {
		c, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for i := 0; i < n; i++ {
			c.Write([]byte("espcap-fast loopback test"))
		}
	})
	if len(got) != n {
		t.Fatalf("captured %d packets on lo, sent %d", len(got), n)
	}
}

// TestNoPermission drops CAP_NET_RAW on one thread and checks the error.
func TestNoPermission(t *testing.T) {
	ringtest.NeedRoot(t)
	errc := make(chan error, 1)
	go func() {
		// this thread's capabilities change: it is never given back
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		data[0].Effective &^= 1 << unix.CAP_NET_RAW
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		_, err := Open(Config{Interface: "lo", BlockCount: 2, BlockSize: 1 << 16})
		errc <- err
	}()
	err := <-errc
	if !errors.Is(err, ErrNoPermission) {
		t.Fatalf("without CAP_NET_RAW: %v, want ErrNoPermission", err)
	}
	t.Log(err)
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Config{Interface: "no-such-if0"}); err == nil {
		t.Fatal("unknown interface accepted")
	}
	if _, err := Open(Config{Interface: "lo", BlockSize: 1000}); err == nil {
		t.Fatal("block size not a multiple of the page size accepted")
	}
	ringtest.NeedRoot(t)
	if err := filter.Available(); err != nil {
		ringtest.Unavailable(t, "libpcap: %v", err)
	}
	_, err := Open(Config{Interface: "lo", BPF: "tcp prot 80", BlockSize: 1 << 16, BlockCount: 2})
	var ce *filter.CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("bad filter: %v", err)
	}
	t.Log(err)
}

// TestVethFrameLongerThanBlock: with blocks smaller than a frame, the
// kernel cuts the frame to MaxFrameLen and says how long it was.
func TestVethFrameLongerThanBlock(t *testing.T) {
	v := ringtest.NewVeth(t)
	page := os.Getpagesize()
	blockSize := 2 * page
	if blockSize > 8192 {
		t.Skipf("page size %d: two pages hold a jumbo frame", page)
	}
	// three 8,500-byte frames (local experimental EtherType)
	const frameLen = 8500
	var frames [][]byte
	for i := range 3 {
		frame := make([]byte, frameLen)
		copy(frame, []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5, byte(i)})
		frames = append(frames, frame)
	}
	file := ringtest.WritePcap(t, frames...)
	g, err := Open(Config{Interface: v.Outside, Rings: 1, BlockSize: blockSize, BlockCount: 8, FrameTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var sent int
	got := capture(t, g, 3, func() { sent = v.Replay(t, file) })
	if sent != 3 {
		t.Fatalf("tcpreplay sent %d of 3 frames", sent)
	}
	want := MaxFrameLen(blockSize)
	if len(got) != 3 {
		t.Fatalf("captured %d frames, want 3", len(got))
	}
	for _, p := range got {
		if len(p.Data) != want || p.Len != frameLen {
			t.Errorf("captured %d of %d bytes, want %d of %d (MaxFrameLen(%d))", len(p.Data), p.Len, want, frameLen, blockSize)
		}
	}
}
