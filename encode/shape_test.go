package encode

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	espcapfast "github.com/espcap/espcap-fast"
	"github.com/espcap/espcap-fast/decode"
	"github.com/espcap/espcap-fast/internal/testpcap"
)

// TestShapeCacheWritesTheSameDocuments: documents written through the shape
// cache (missed, then hit) hold exactly the fields and values that the
// general path writes for the same packets.
func TestShapeCacheWritesTheSameDocuments(t *testing.T) {
	shaped, general := cachedAndUncached(t)
	d := decode.NewDecoder()
	var k shapeKey
	n, hits, taggedHits := 0, 0, 0
	for _, pattern := range []string{"../testdata/pcaps/*", "../testdata/malformed/*", "tagged", "qinq"} {
		var pk []testpcap.Packet
		switch pattern {
		case "tagged": // the HTTP sample as if captured on a trunk port
			pk = withTags(t, "../testdata/pcaps/seed_test_http.pcap", 0x8100)
		case "qinq":
			pk = withTags(t, "../testdata/pcaps/seed_test_http.pcap", 0x88a8, 0x8100)
		default:
			pk = testpcap.MustLoad(t, pattern, 0)
		}
		for round := 0; round < 2; round++ {
			for i := range pk {
				p := &pk[i]
				m := Meta{Timestamp: p.Timestamp, Number: uint64(p.Number), CapLen: len(p.Data), OrigLen: p.OrigLen, FileName: p.File}
				dp := d.Decode(p.Data, p.LinkType, p.OrigLen)
				k = shapeKey{}
				if vlans, ok := shapeOf(dp, &k); ok {
					n++
					hit := false
					if s := shaped.shapes.slot(&k); s.valid && s.key == k {
						hits++
						hit = true
					}
					if vlans > 0 && hit {
						taggedHits++
					}
				}
				sameDocument(t, fmt.Sprintf("%s frame %d", p.File, p.Number), shaped.Encode(nil, &m, dp), general.Encode(nil, &m, dp))
			}
		}
	}
	t.Logf("%d packets of the cached shape, %d written from the cache (%d with VLAN tags)", n, hits, taggedHits)
	if hits < n/3 || taggedHits == 0 {
		t.Errorf("only %d of %d packets of the cached shape hit the cache, %d with VLAN tags", hits, n, taggedHits)
	}
}

// FuzzShapeCache: for any frame, an encoder with the shape cache (warm
// from the frames before) and one without write the same fields and values.
func FuzzShapeCache(f *testing.F) {
	pk := testpcap.MustLoad(f, "../testdata/pcaps/*", 3000)
	pk = append(pk, withTags(f, "../testdata/pcaps/seed_test_http.pcap", 0x8100)[:200]...)
	pk = append(pk, withTags(f, "../testdata/pcaps/seed_test_http.pcap", 0x88a8, 0x8100)[:200]...)
	for i, p := range pk {
		if i%5 == 0 {
			f.Add(p.LinkType, p.Data)
		}
	}
	shaped, general := cachedAndUncached(f)
	d := decode.NewDecoder()
	var m Meta
	f.Fuzz(func(t *testing.T, lt uint16, data []byte) {
		m.Number++
		m.CapLen, m.OrigLen = len(data), len(data)
		a := shaped.Encode(nil, &m, d.Decode(data, lt, len(data)))
		sameDocument(t, "frame", a, general.Encode(nil, &m, d.Decode(data, lt, len(data))))
	})
}

// cachedAndUncached returns two encoders: one with the shape cache, one
// without.
func cachedAndUncached(t testing.TB) (shaped, general *Encoder) {
	protos, err := ParseProtocols(espcapfast.ProtocolsList)
	if err != nil {
		t.Fatal(err)
	}
	shaped, general = NewEncoder(protos), NewEncoder(protos)
	general.noShapes = true
	return shaped, general
}

// sameDocument fails unless a (through the shape cache) and b (without)
// are valid JSON with the same fields and values.
func sameDocument(t *testing.T, what string, a, b []byte) {
	t.Helper()
	var da, db map[string]any
	if err := json.Unmarshal(a, &da); err != nil {
		t.Fatalf("%s: invalid JSON: %v\n%s", what, err, a)
	}
	if err := json.Unmarshal(b, &db); err != nil {
		t.Fatalf("%s: invalid JSON: %v\n%s", what, err, b)
	}
	if !reflect.DeepEqual(da, db) {
		t.Fatalf("%s: through the shape cache\n%s\nwithout\n%s", what, a, b)
	}
}

// withTags returns the Ethernet frames of a capture with VLAN tags of the
// given TPIDs inserted after the MAC addresses (VLAN ids 100, 200, ...).
func withTags(t testing.TB, file string, tpids ...uint16) []testpcap.Packet {
	pk, err := testpcap.Load(file, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pk {
		p := &pk[i]
		var tags []byte
		for j, tpid := range tpids {
			tci := uint16(3<<13 | (j+1)*100)
			tags = append(tags, byte(tpid>>8), byte(tpid), byte(tci>>8), byte(tci))
		}
		d := append(append(append([]byte(nil), p.Data[:12]...), tags...), p.Data[12:]...)
		p.Data, p.OrigLen = d, p.OrigLen+len(tags)
	}
	return pk
}
