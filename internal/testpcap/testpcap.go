// Package testpcap loads the packets of test captures into memory, for
// tests, fuzz seeds and benchmarks.
package testpcap

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/internal/need"
)

// Packet is one captured packet.
type Packet struct {
	File      string
	Number    int
	Data      []byte
	OrigLen   int
	Timestamp int64
	LinkType  uint16
}

// FuzzSeeds returns the seed frames of the decoder and encoder fuzz
// targets, from the test data directory testdata: every 7th of the first
// 2000 packets of the good captures, and the first 500 of the malformed
// ones.
func FuzzSeeds(testdata string) []Packet {
	var seeds []Packet
	pk, _ := Load(filepath.Join(testdata, "pcaps", "*"), 2000)
	for i := 0; i < len(pk); i += 7 {
		seeds = append(seeds, pk[i])
	}
	mal, _ := Load(filepath.Join(testdata, "malformed", "*"), 500)
	return append(seeds, mal...)
}

// Load reads every packet of the captures matching pattern (a filepath.Glob
// pattern), in file-name order; it is an error when no file matches, up to max packets (0: all). Damaged files
// contribute the packets before the damage.
func Load(pattern string, max int) ([]Packet, error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("testpcap: no capture matches %s", pattern)
	}
	sort.Strings(files)
	var out []Packet
	var rec capfile.Record
	for _, f := range files {
		r, err := capfile.Open(f)
		if err != nil {
			continue
		}
		for n := 1; max == 0 || len(out) < max; n++ {
			if err := r.Next(&rec); err != nil {
				break // io.EOF, or damage: keep what came before
			}
			n += rec.FramesBefore // tshark numbers pcapng Custom Blocks as frames
			out = append(out, Packet{
				File: f, Number: n, Data: append([]byte(nil), rec.Data...),
				OrigLen: rec.OrigLen, Timestamp: rec.Timestamp, LinkType: rec.LinkType,
			})
		}
		r.Close()
	}
	return out, nil
}

// Gopacket returns the packets of a capture as gopacket Packets, decoded
// with gopacket's default decoders, in file order (for tests that compare
// against gopacket's own view of a packet).
func Gopacket(path string) ([]gopacket.Packet, error) {
	pk, err := Load(path, 0)
	if err != nil {
		return nil, err
	}
	out := make([]gopacket.Packet, len(pk))
	for i, p := range pk {
		out[i] = gopacket.NewPacket(p.Data, layers.LinkType(p.LinkType), gopacket.Default)
	}
	return out, nil
}

// SharedDir returns the shared capture corpus (the folder holding
// INDEX.md), or "" when there is none; see need.SharedDir.
func SharedDir() string { return need.SharedDir() }

// MustLoad is Load for tests: it fails t when pattern matches no capture or
// the captures hold no packet.
func MustLoad(t testing.TB, pattern string, max int) []Packet {
	t.Helper()
	pk, err := Load(pattern, max)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk) == 0 {
		t.Fatalf("testpcap: the captures matching %s hold no packet", pattern)
	}
	return pk
}

// SharedCaptures returns the captures of real traffic in the shared corpus
// dir, sorted: every .pcap, .pcapng and .cap file except the malformed
// folders, the oracle and expected-output folders, and pcapng-format (its
// packets are placeholders, for container parsing only; see INDEX.md).
func SharedCaptures(dir string) []string {
	return captures(dir, func(n string) bool {
		return n == "oracle" || n == "expected" || n == "pcapng-format" || strings.HasSuffix(n, "-malformed")
	})
}

// AllCaptures returns every .pcap, .pcapng and .cap file under dir,
// recursively and sorted: the malformed and placeholder captures included.
func AllCaptures(dir string) []string {
	return captures(dir, func(string) bool { return false })
}

// captures returns the capture files under dir, sorted, skipping the
// folders whose name skip accepts.
func captures(dir string, skip func(name string) bool) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if skip(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".pcap", ".pcapng", ".cap":
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files
}
