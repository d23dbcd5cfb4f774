package quicinitial

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
	"testing"
)

// checkResult verifies the invariants of a Parse result.
func checkResult(t *testing.T, data []byte, in *Initial, err error) {
	t.Helper()
	if err != nil {
		return
	}
	if !IsLongHeaderInitial(data) {
		t.Fatalf("Parse succeeded on %x, IsLongHeaderInitial false", data[:min(len(data), 16)])
	}
	if in.Packets < 1 || lookupVersion(in.Version) == nil {
		t.Fatalf("success with %d packets, version %#x", in.Packets, in.Version)
	}
	h := in.ClientHello
	if len(h) > len(data) {
		t.Fatalf("ClientHello %d bytes from a %d byte datagram", len(h), len(data))
	}
	if len(h) > 0 && h[0] != 1 {
		t.Fatalf("ClientHello type %d", h[0])
	}
	if in.Complete && (len(h) < 4 || len(h) != 4+(int(h[1])<<16|int(h[2])<<8|int(h[3]))) {
		t.Fatalf("complete ClientHello of %d bytes, header %x", len(h), h[:min(4, len(h))])
	}
}

// FuzzParse feeds arbitrary datagrams to Parse. The seeds are real and RFC
// Initial packets; most mutations fail authentication, so FuzzFrames
// covers the decrypted part.
func FuzzParse(f *testing.F) {
	f.Add(unhex(f, rfc9001ClientInitial))
	f.Add(unhex(f, rfc9369ClientInitial))
	f.Add(unhex(f, rfc9001ServerInitial))
	if pcaps != "" {
		for _, c := range []string{"arkime/quicietf.pcap", "tcpdump/quic_retry.pcap", "suricata-verify/quic-frag-unordered.pcap"} {
			for _, pl := range udpPayloads(f, filepath.Join(pcaps, c)) {
				if pl != nil {
					f.Add(pl)
				}
			}
		}
	}
	var p Parser
	var in Initial
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		err := p.Parse(data, &in)
		if !bytes.Equal(data, orig) {
			t.Fatal("Parse modified its input")
		}
		checkResult(t, data, &in, err)
		// and as a server Initial of the RFC's connection
		if err := p.ParseServer(data, unhexRFCDCID, &in); err == nil {
			if h := in.ServerHello; len(h) > len(data) || len(h) > 0 && h[0] != 2 || len(in.ClientHello) > 0 {
				t.Fatalf("ParseServer: ServerHello %x, ClientHello %d bytes", h[:min(len(h), 8)], len(in.ClientHello))
			}
		}
		if !bytes.Equal(data, orig) {
			t.Fatal("ParseServer modified its input")
		}
	})
}

// unhexRFCDCID is the connection ID of the RFC 9001 Appendix A packets.
var unhexRFCDCID, _ = hex.DecodeString(rfcDCID)

// fuzzSealer protects payloads as v1 client Initial packets of one
// connection ID, with ciphers made once.
type fuzzSealer struct {
	dcid []byte
	aead cipher.AEAD
	hp   cipher.Block
	iv   []byte
}

func newFuzzSealer(t testing.TB) *fuzzSealer {
	dcid := unhex(t, rfcDCID)
	key, iv, hp := refKeys(t, &infoV1, dcid)
	blk, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(blk)
	hpb, _ := aes.NewCipher(hp)
	return &fuzzSealer{dcid, aead, hpb, iv}
}

// seal appends to dst a protected Initial packet with packet number pn
// (1 byte) carrying payload, padded to the 20 bytes the sample needs.
func (s *fuzzSealer) seal(dst []byte, pn byte, payload []byte) []byte {
	for len(payload) < 20 {
		payload = append(payload, 0)
	}
	start := len(dst)
	dst = append(dst, 0xc0)
	dst = binary.BigEndian.AppendUint32(dst, Version1)
	dst = append(dst, byte(len(s.dcid)))
	dst = append(dst, s.dcid...)
	dst = append(dst, 0, 0) // no SCID, no token
	dst = binary.BigEndian.AppendUint32(dst, 0x80000000|uint32(1+len(payload)+16))
	pnOff := len(dst) - start
	dst = append(dst, pn)
	nonce := bytes.Clone(s.iv)
	nonce[11] ^= pn
	dst = s.aead.Seal(dst, nonce, payload, dst[start:])
	pkt := dst[start:]
	var mask [16]byte
	s.hp.Encrypt(mask[:], pkt[pnOff+4:pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	pkt[pnOff] ^= mask[1]
	return dst
}

// FuzzFrames seals arbitrary frame sequences into one or two coalesced
// valid Initial packets, so that the fuzzer exercises the frame walk and the
// CRYPTO reassembly behind the AEAD.
func FuzzFrames(f *testing.F) {
	frame := unhex(f, rfcCryptoFrame)
	f.Add(frame, []byte{}, byte(0))
	f.Add(frame[:100], append([]byte{0x06, 0x40, 100 - 4, 0x40, 0xf1 - 96}, frame[100:]...), byte(1))
	f.Add([]byte{0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x02, 0x06, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00}, []byte{0x03, 0, 0, 0, 0, 1, 2, 3}, byte(2))
	f.Add(cryptoFrame(3, []byte{0, 0, 0}), cryptoFrame(0, []byte{1, 0, 0, 2}), byte(3))
	s := newFuzzSealer(f)
	var p Parser
	var in Initial
	var dgram []byte
	f.Fuzz(func(t *testing.T, a, b []byte, pn byte) {
		if len(a) > 1400 || len(b) > 1400 {
			return
		}
		dgram = s.seal(dgram[:0], pn, a)
		if len(b) > 0 {
			dgram = s.seal(dgram, pn+1, b)
		}
		err := p.Parse(dgram, &in)
		if err == nil && len(b) > 0 && in.Packets != 2 {
			// Both packets decrypt; malformed frames in the first
			// return an error.
			t.Fatalf("%d packets decrypted, want 2", in.Packets)
		}
		checkResult(t, dgram, &in, err)
	})
}
