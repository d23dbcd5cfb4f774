// Package testpcap loads the packets of test captures into memory, for
// tests, fuzz seeds and benchmarks.
package testpcap

import (
	"io"
	"path/filepath"
	"sort"

	"github.com/espcap/espcap-fast/capfile"
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

// Load reads every packet of the captures matching pattern (a filepath.Glob
// pattern), in file-name order, up to max packets (0: all). Damaged files
// contribute the packets before the damage.
func Load(pattern string, max int) ([]Packet, error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
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
				if err != io.EOF {
					break
				}
				break
			}
			out = append(out, Packet{
				File: f, Number: n, Data: append([]byte(nil), rec.Data...),
				OrigLen: rec.OrigLen, Timestamp: rec.Timestamp, LinkType: rec.LinkType,
			})
		}
		r.Close()
	}
	return out, nil
}
