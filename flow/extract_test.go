package flow

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/need"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// TestExtractSame: Extract, which takes the flow's IP header from
// decode.Packet.LastIP, walks the layers only for packets with VLAN tags or
// ICMP layers and has a path of its own for TCP and UDP over IPv4 and IPv6,
// fills the same flow packet as extractAny after a walk over every layer
// (scanLayers), for every packet of testdata and of the shared corpus,
// malformed captures included.
func TestExtractSame(t *testing.T) {
	checkExtract(t, testpcap.MustLoad(t, "../testdata/pcaps/*", 0))
	dir := need.Shared(t)
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "/oracle/") {
			switch filepath.Ext(p) {
			case ".pcap", ".pcapng", ".cap":
				files = append(files, p)
			}
		}
		return nil
	})
	n := 0
	for _, f := range files {
		pk, err := testpcap.Load(f, 0)
		if err != nil || len(pk) == 0 {
			continue
		}
		n += len(pk)
		checkExtract(t, pk)
	}
	if n < 10000 {
		t.Fatalf("only %d packets in the shared corpus's %d captures", n, len(files))
	}
}

func checkExtract(t *testing.T, pk []testpcap.Packet) {
	t.Helper()
	d := decode.NewDecoder()
	var got, want Packet
	bad := 0
	for _, p := range pk {
		dp := d.Decode(p.Data, p.LinkType, p.OrigLen)
		ipAt, end, vlan := scanLayers(dp)
		okRef := extractAny(dp, &want, ipAt, end, vlan)
		ok := Extract(dp, &got)
		if ok != okRef || ok && !reflect.DeepEqual(got, want) {
			if bad++; bad <= 10 {
				t.Errorf("%s packet %d: Extract %v %+v %v %d %v %v %v, the walk %v %+v %v %d %v %v %v", p.File, p.Number, ok, got.Key, got.FromB, got.Payload, got.fragID, got.fragFirst, got.fragLater, okRef, want.Key, want.FromB, want.Payload, want.fragID, want.fragFirst, want.fragLater)
			}
		}
	}
}
