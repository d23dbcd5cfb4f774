package ring

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/ring/ringtest"
)

// benchBlock is a 4 MiB block of the packets of seed_test_http.pcap
// (repeated), as the kernel lays them out.
func benchBlock(b *testing.B) ([]byte, int) {
	pkts := readPcap(b, pcapDir+"seed_test_http.pcap")
	var many []capfile.Record
	for len(many) < 20000 {
		many = append(many, pkts...)
	}
	return synthBlock(b, 4<<20, many)
}

// BenchmarkBlockNext is the ring's own cost per packet: walking a filled
// block (ns/op is per packet).
func BenchmarkBlockNext(b *testing.B) {
	buf, n := benchBlock(b)
	var blk Block
	var p Packet
	var bytes int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		blk.set(buf)
		for i < b.N && blk.Next(&p) {
			bytes += len(p.Data)
			i++
		}
	}
	b.ReportMetric(float64(n), "packets/block")
}

// BenchmarkBlockDecodeEncode is a live worker's cost per packet: walking
// the block, decoding in place and encoding the document (ns/op is per
// packet).
func BenchmarkBlockDecodeEncode(b *testing.B) {
	buf, _ := benchBlock(b)
	protos, err := encode.ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		b.Fatal(err)
	}
	dec := decode.NewDecoder()
	enc := encode.NewEncoder(protos)
	meta := encode.Meta{Interface: "eth0"}
	out := make([]byte, 0, 4<<20)
	var blk Block
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		blk.set(buf)
		for i < b.N && blk.Next(&p) {
			dp := dec.Decode(p.Data, 1, p.Len)
			meta.Timestamp, meta.Number = p.Timestamp, uint64(i+1)
			meta.CapLen, meta.OrigLen = len(p.Data), p.Len
			if len(out) > 3<<20 {
				out = out[:0]
			}
			out = enc.Encode(out, &meta, dp)
			i++
		}
	}
}

// BenchmarkVethRing is the ring fed by the kernel: b.N 64-byte frames are
// sent into a veth pair from its namespace and read from one ring (ns/op is
// per packet received, sender included: both share this machine's CPUs).
func BenchmarkVethRing(b *testing.B) {
	v := ringtest.NewVeth(b)
	g, err := Open(Config{Interface: v.Outside, Rings: 1, FrameTimeout: 2 * time.Millisecond, BlockCount: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	nsfd, err := unix.Open("/run/netns/"+v.NS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(nsfd)
	frame := make([]byte, 64)
	copy(frame, []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5}) // local experimental EtherType
	var sent atomic.Int64
	stop := make(chan struct{})
	senderErr := make(chan error, 1)
	go func() {
		// this thread moves into the namespace and is never given back
		runtime.LockOSThread()
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			senderErr <- err
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			senderErr <- err
			return
		}
		defer unix.Close(fd)
		ifc, err := ifIndexIn(v.Inside)
		if err != nil {
			senderErr <- err
			return
		}
		sa := &unix.SockaddrLinklayer{Ifindex: ifc, Halen: 6}
		senderErr <- nil
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Sendto(fd, frame, 0, sa); err == nil {
				sent.Add(1)
			}
		}
	}()
	if err := <-senderErr; err != nil {
		b.Fatal(err)
	}
	r := g.Rings()[0]
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	got := 0
	for got < b.N {
		blk, err := r.Next(time.Second)
		if err != nil || blk == nil {
			b.Fatalf("ring: %v (after %d packets)", err, got)
		}
		for blk.Next(&p) {
			got++
		}
		blk.Release()
	}
	b.StopTimer()
	close(stop)
	st, _, _ := g.Stats()
	b.ReportMetric(float64(st.Drops)/float64(st.Packets)*100, "%dropped")
}

// ifIndexIn returns an interface's index in the calling thread's network
// namespace (net.InterfaceByName may run on another thread).
func ifIndexIn(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}
