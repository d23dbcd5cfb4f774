package ring

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/espcap/espcap-fast/filter"
)

// Defaults of Config, chosen for a 10 Gbit/s link: 64 blocks of 1 MiB is
// 64 MiB per ring, about 50 ms of a saturated 10G link for one worker, and a
// block is handed over at the latest 50 ms after its first packet.
const (
	DefaultSnaplen      = 262144
	DefaultBlockSize    = 1 << 20
	DefaultBlockCount   = 64
	DefaultFrameTimeout = 50 * time.Millisecond
)

// Config configures the capture on one interface.
type Config struct {
	// Interface is the network interface's name.
	Interface string
	// Rings is the number of sockets (one per worker) in the fanout group;
	// 0 means 1.
	Rings int
	// Fanout is how the kernel spreads packets over the rings.
	Fanout FanoutMode
	// BPF is a tcpdump filter expression run in the kernel ("": every
	// packet).
	BPF string
	// Snaplen is the most bytes kept of a packet (0: DefaultSnaplen).
	Snaplen int
	// Promisc puts the interface in promiscuous mode while the sockets
	// are open.
	Promisc bool
	// BlockSize is the size of a ring block in bytes, a multiple of the
	// page size (0: DefaultBlockSize).
	BlockSize int
	// BlockCount is the number of blocks per ring (0: DefaultBlockCount).
	BlockCount int
	// FrameTimeout is how long the kernel keeps a block that is not full
	// before handing it over (0: DefaultFrameTimeout; rounded to ms).
	FrameTimeout time.Duration
}

func (c *Config) defaults() error {
	if c.Rings <= 0 {
		c.Rings = 1
	}
	if c.Snaplen <= 0 {
		c.Snaplen = DefaultSnaplen
	}
	if c.BlockSize <= 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.BlockCount <= 0 {
		c.BlockCount = DefaultBlockCount
	}
	if c.FrameTimeout <= 0 {
		c.FrameTimeout = DefaultFrameTimeout
	}
	if c.FrameTimeout < time.Millisecond {
		c.FrameTimeout = time.Millisecond
	}
	page := os.Getpagesize()
	if c.BlockSize%page != 0 {
		return fmt.Errorf("block size %d is not a multiple of the page size %d", c.BlockSize, page)
	}
	if c.BlockSize < 2*page {
		return fmt.Errorf("block size %d is too small (at least %d)", c.BlockSize, 2*page)
	}
	if uint64(c.BlockSize)*uint64(c.BlockCount) > 1<<32-1 {
		return fmt.Errorf("ring of %d blocks of %d bytes is larger than 4 GiB", c.BlockCount, c.BlockSize)
	}
	return nil
}

// ErrStopped is returned by Ring.Next once Group.Stop has been called and
// no filled block is waiting.
var ErrStopped = errors.New("ring: capture stopped")

// ErrNoPermission is wrapped by Open's error when the process may not open
// packet sockets (it lacks CAP_NET_RAW). Test with errors.Is.
var ErrNoPermission = errors.New("live capture needs CAP_NET_RAW: run as root, or give the binary the capability (setcap cap_net_raw,cap_net_admin=eip espcap-fast)")

// Group is the capture on one interface: its rings, all in one fanout
// group.
type Group struct {
	cfg      Config
	ifindex  int
	linkType uint16 // LINKTYPE_ value of the packets
	fanoutID uint16
	rings    []*Ring
	wake     int // eventfd, readable once Stop was called
	tagged   *filter.Program

	stopOnce sync.Once
	closed   atomic.Bool
}

// Open opens cfg.Rings sockets on cfg.Interface, each with its own
// TPACKET_V3 ring and kernel filter, joined in one fanout group. A bad
// filter expression, an unknown interface and a missing CAP_NET_RAW are
// errors here, before any packet is read.
func Open(cfg Config) (*Group, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("ring: %s: %w", cfg.Interface, err)
	}
	ifc, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("ring: interface %q: %w", cfg.Interface, err)
	}
	lt, dlt, err := linkTypeOf(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("ring: %s: %w", cfg.Interface, err)
	}
	prog, err := Program(cfg.BPF, dlt, cfg.Snaplen)
	if err != nil {
		return nil, fmt.Errorf("ring: %s: %w", cfg.Interface, err)
	}
	g := &Group{cfg: cfg, ifindex: ifc.Index, linkType: lt, wake: -1}
	if cfg.BPF != "" && lt == 1 {
		// frames that had a VLAN tag pass the kernel filter: this one,
		// tcpdump -r's program, decides (see Program)
		if g.tagged, err = filter.Compile(cfg.BPF, int(lt), cfg.Snaplen); err != nil {
			return nil, fmt.Errorf("ring: %s: --bpf: %w", cfg.Interface, err)
		}
	}
	g.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("ring: eventfd: %w", err)
	}
	for i := 0; i < cfg.Rings; i++ {
		r, err := g.openRing(i, prog)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("ring: %s: socket %d: %w", cfg.Interface, i, err)
		}
		g.rings = append(g.rings, r)
	}
	return g, nil
}

// openRing opens and sets up one socket; the first one creates the fanout
// group the others join.
func (g *Group) openRing(i int, prog []unix.SockFilter) (*Ring, error) {
	// protocol 0: the socket receives nothing until it is bound below,
	// after the ring and the filter are in place.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("opening AF_PACKET socket: %w: %w", err, ErrNoPermission)
		}
		return nil, fmt.Errorf("opening AF_PACKET socket: %w", err)
	}
	r := &Ring{g: g, index: i, fd: fd}
	fail := func(what string, err error) (*Ring, error) {
		r.close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("PACKET_VERSION TPACKET_V3", err)
	}
	// room before the link header to put back a VLAN tag the kernel took
	// out (as libpcap does)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, vlanTagLen); err != nil {
		return fail("PACKET_RESERVE", err)
	}
	cfg := &g.cfg
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.BlockCount),
		Frame_size:     frameSize,
		Frame_nr:       uint32(cfg.BlockSize / frameSize * cfg.BlockCount),
		Retire_blk_tov: uint32(cfg.FrameTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail(fmt.Sprintf("PACKET_RX_RING (%d blocks of %d bytes)", cfg.BlockCount, cfg.BlockSize), err)
	}
	r.mem, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.BlockCount, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mapping the ring", err)
	}
	r.blockSize = cfg.BlockSize
	r.blockCount = cfg.BlockCount
	if err := attach(fd, prog); err != nil {
		return fail("attaching the filter", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: g.ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("binding to the interface", err)
	}
	if err := g.joinFanout(fd, i); err != nil {
		return fail("joining the fanout group", err)
	}
	if cfg.Promisc {
		mreq := unix.PacketMreq{Ifindex: int32(g.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	r.block.ring = r
	return r, nil
}

// joinFanout makes the first socket create a fanout group with an ID the
// kernel picks, and the others join it.
func (g *Group) joinFanout(fd, i int) error {
	mode := g.cfg.Fanout.kernel()
	if i == 0 {
		arg := (mode | unix.PACKET_FANOUT_FLAG_UNIQUEID) << 16
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return fmt.Errorf("creating the group (%s): %w", g.cfg.Fanout, err)
		}
		v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
		if err != nil {
			return fmt.Errorf("reading the group's ID: %w", err)
		}
		g.fanoutID = uint16(v)
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(g.fanoutID)|mode<<16); err != nil {
		return fmt.Errorf("group %d (%s): %w", g.fanoutID, g.cfg.Fanout, err)
	}
	return nil
}

// Interface returns the interface's name.
func (g *Group) Interface() string { return g.cfg.Interface }

// LinkType returns the link type (a LINKTYPE_ value, as decode takes it)
// of the packets.
func (g *Group) LinkType() uint16 { return g.linkType }

// TaggedFilter returns the program that decides for packets whose VLAN tag
// the kernel had taken out (Packet.TagRestored), which its filter lets
// through: a reader must drop those the program rejects. It is nil when
// there is no filter, or no VLAN tags on the link type.
func (g *Group) TaggedFilter() *filter.Program { return g.tagged }

// Rings returns the group's rings, one per worker.
func (g *Group) Rings() []*Ring { return g.rings }

// Config returns the configuration the group was opened with, defaults
// filled in.
func (g *Group) Config() Config { return g.cfg }

// Quiesce replaces every socket's filter by one that accepts nothing, so
// that no packet enters the rings any more while what is in them is read.
// Packets the kernel already accepted stay in the rings; the block it is
// filling is handed over within two frame timeouts.
func (g *Group) Quiesce() error {
	var first error
	reject := []unix.SockFilter{{Code: opRetK, K: 0}}
	for _, r := range g.rings {
		if err := attach(r.fd, reject); err != nil && first == nil {
			first = fmt.Errorf("ring: %s: stopping capture on socket %d: %w", g.cfg.Interface, r.index, err)
		}
	}
	return first
}

// DrainTimeout is how long a ring must stay empty after Quiesce before
// everything the kernel accepted has certainly been handed over.
func (g *Group) DrainTimeout() time.Duration {
	return 2*g.cfg.FrameTimeout + 50*time.Millisecond
}

// Stop makes Ring.Next return ErrStopped instead of waiting, in every
// ring of the group, once no filled block is left. It may be called from
// any goroutine, more than once.
func (g *Group) Stop() {
	g.stopOnce.Do(func() {
		var one [8]byte
		*(*uint64)(unsafe.Pointer(&one[0])) = 1
		unix.Write(g.wake, one[:])
	})
}

// Close closes the sockets and unmaps the rings. No Block may be in use.
func (g *Group) Close() error {
	if g.closed.Swap(true) {
		return nil
	}
	var first error
	for _, r := range g.rings {
		if err := r.close(); err != nil && first == nil {
			first = fmt.Errorf("ring: %s: %w", g.cfg.Interface, err)
		}
	}
	if g.wake >= 0 {
		unix.Close(g.wake)
	}
	return first
}

// Stats returns the kernel counters of every socket and their total.
func (g *Group) Stats() (total Stats, perRing []Stats, err error) {
	for _, r := range g.rings {
		s, e := r.Stats()
		if e != nil && err == nil {
			err = e
		}
		perRing = append(perRing, s)
		total.Add(s)
	}
	return total, perRing, err
}

// Stats are a socket's kernel counters (PACKET_STATISTICS), summed since
// it was opened.
type Stats struct {
	// Packets is the number of packets the socket's filter accepted,
	// including the dropped ones.
	Packets uint64
	// Drops is the number of accepted packets lost because the ring was
	// full.
	Drops uint64
	// Freezes is the number of times the ring was full (the kernel froze
	// the queue until a block was released).
	Freezes uint64
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Drops += o.Drops
	s.Freezes += o.Freezes
}

// Ring is one socket with its memory-mapped ring. Its Next and the Blocks
// it returns belong to one goroutine; Stats may be called from any.
type Ring struct {
	g          *Group
	index      int
	fd         int
	mem        []byte
	blockSize  int
	blockCount int
	cur        int   // next block to read
	block      Block // the block handed out (one at a time)

	statsMu sync.Mutex
	stats   Stats
	closed  bool
}

// Index returns the ring's position in its group.
func (r *Ring) Index() int { return r.index }

// Group returns the ring's group.
func (r *Ring) Group() *Group { return r.g }

// Next returns the next block the kernel has filled, waiting for one up to
// timeout (negative: without limit). It returns (nil, nil) when the time
// is up, and ErrStopped when Group.Stop was called and no block is ready
// (Drain reads the blocks left after Stop). The previous block must have
// been released.
func (r *Ring) Next(timeout time.Duration) (*Block, error) {
	return r.next(timeout, true)
}

// Drain is Next for after Group.Stop: it returns the blocks still in the
// ring, waiting up to timeout for one, and (nil, nil) when none came.
func (r *Ring) Drain(timeout time.Duration) (*Block, error) {
	return r.next(timeout, false)
}

func (r *Ring) next(timeout time.Duration, stoppable bool) (*Block, error) {
	if r.block.buf != nil {
		return nil, errors.New("ring: Next called before the previous block was released")
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}, {Fd: int32(r.g.wake), Events: unix.POLLIN}}
	if !stoppable {
		fds = fds[:1]
	}
	for {
		blk := r.mem[r.cur*r.blockSize : (r.cur+1)*r.blockSize]
		if atomic.LoadUint32(blockStatus(blk))&unix.TP_STATUS_USER != 0 {
			r.block.set(blk)
			return &r.block, nil
		}
		ms := -1
		if timeout >= 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return nil, nil
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		fds[0].Revents, fds[len(fds)-1].Revents = 0, 0
		n, err := unix.Poll(fds, ms)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, fmt.Errorf("ring: %s: poll: %w", r.g.cfg.Interface, err)
		}
		if n == 0 {
			continue // the deadline check above ends the wait
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			if e, _ := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR); e != 0 {
				return nil, fmt.Errorf("ring: %s: %w", r.g.cfg.Interface, unix.Errno(e))
			}
			if fds[0].Revents&unix.POLLNVAL != 0 {
				return nil, fmt.Errorf("ring: %s: socket closed", r.g.cfg.Interface)
			}
		}
		if stoppable && fds[1].Revents&unix.POLLIN != 0 {
			if atomic.LoadUint32(blockStatus(blk))&unix.TP_STATUS_USER != 0 {
				continue
			}
			return nil, ErrStopped
		}
	}
}

// Stats returns the socket's kernel counters since it was opened. The
// kernel resets them on every read, so they are accumulated here.
func (r *Ring) Stats() (Stats, error) {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.closed {
		return r.stats, nil
	}
	if err := r.pullStats(); err != nil {
		return r.stats, fmt.Errorf("ring: %s: PACKET_STATISTICS: %w", r.g.cfg.Interface, err)
	}
	return r.stats, nil
}

// pullStats adds the kernel's counters since the last read to r.stats;
// r.statsMu is held.
func (r *Ring) pullStats() error {
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return err
	}
	r.stats.Add(Stats{Packets: uint64(st.Packets), Drops: uint64(st.Drops), Freezes: uint64(st.Freeze_q_cnt)})
	return nil
}

func (r *Ring) close() error {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.closed {
		return nil
	}
	_ = r.pullStats() // last counters before the socket goes
	r.closed = true
	var first error
	if r.mem != nil {
		if err := unix.Munmap(r.mem); err != nil {
			first = fmt.Errorf("unmapping ring: %w", err)
		}
		r.mem = nil
	}
	if err := unix.Close(r.fd); err != nil && first == nil {
		first = fmt.Errorf("closing socket: %w", err)
	}
	return first
}

// Layout constants of TPACKET_V3.
const (
	frameSize  = 2048 // only checked by the kernel for V3, never used
	vlanTagLen = 4
	// offsets in struct tpacket_block_desc
	offBlockStatus = 8
	offNumPkts     = 12
	offFirstPkt    = 16
	offBlockLen    = 20
	// size of struct tpacket3_hdr
	hdrLen = int(unsafe.Sizeof(unix.Tpacket3Hdr{}))
)

// MaxFrameLen returns how many bytes of an Ethernet frame fit in a ring
// block of blockSize bytes. The kernel cuts longer frames to this length
// (they arrive with a captured length below their length on the wire), so
// a snapshot length above it has no effect.
func MaxFrameLen(blockSize int) int {
	// the block descriptor (struct tpacket_block_desc, 48 bytes), then
	// the frame's tpacket3_hdr and sockaddr_ll, 16-byte aligned with room
	// for a link header of up to 16 bytes, then PACKET_RESERVE, minus the
	// Ethernet header that starts before the network header
	const blockDesc = 48
	hdrs := (align16(hdrLen) + int(unsafe.Sizeof(unix.RawSockaddrLinklayer{})) + 16 + 15) &^ 15
	return blockSize - blockDesc - (hdrs + vlanTagLen - 14)
}

func align16(n int) int { return (n + 15) &^ 15 }

func blockStatus(blk []byte) *uint32 {
	return (*uint32)(unsafe.Pointer(&blk[offBlockStatus]))
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// linkTypeOf returns the LINKTYPE_ value of an interface's packets and the
// DLT_ value to compile filters for, from its ARPHRD_ type.
func linkTypeOf(name string) (lt uint16, dlt int, err error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return 0, 0, fmt.Errorf("reading the link type: %w", err)
	}
	t, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the link type: %w", err)
	}
	switch t {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK, unix.ARPHRD_IEEE802:
		return 1, 1, nil // EN10MB
	case unix.ARPHRD_NONE, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6, unix.ARPHRD_SIT, unix.ARPHRD_PPP:
		return 101, 12, nil // RAW: packets start with the IP header
	}
	return 0, 0, fmt.Errorf("link type ARPHRD %d is not supported for live capture (Ethernet, loopback and raw IP interfaces are)", t)
}
