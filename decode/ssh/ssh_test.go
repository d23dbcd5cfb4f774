package ssh

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// kexinit builds a clear-text SSH_MSG_KEXINIT packet with the given
// name-lists (missing ones empty), padded as RFC 4253 6 asks.
func kexinit(lists map[int]string) []byte {
	p := []byte{MsgKexInit}
	p = append(p, make([]byte, 16)...) // cookie
	for i := 0; i < numLists; i++ {
		p = binary.BigEndian.AppendUint32(p, uint32(len(lists[i])))
		p = append(p, lists[i]...)
	}
	p = append(p, 0, 0, 0, 0, 0) // first_kex_packet_follows, reserved
	pad := 8 - (5+len(p))%8
	if pad < 4 {
		pad += 8
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(p)+pad))
	b = append(b, byte(pad))
	b = append(b, p...)
	return append(b, make([]byte, pad)...)
}

// The Cyberduck 6.7.1 client of the HASSH README (salesforce/hassh,
// "Example 1"), whose published hassh is 8a8ae540028bf433cd68356c1b9e8d5b.
var cyberduck = map[int]string{
	Kex:           "curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,diffie-hellman-group15-sha512,diffie-hellman-group16-sha512,diffie-hellman-group17-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256@ssh.com,diffie-hellman-group15-sha256,diffie-hellman-group15-sha256@ssh.com,diffie-hellman-group15-sha384@ssh.com,diffie-hellman-group16-sha256,diffie-hellman-group16-sha384@ssh.com,diffie-hellman-group16-sha512@ssh.com,diffie-hellman-group18-sha512@ssh.com",
	ServerHostKey: "ssh-rsa",
	EncC2S:        "aes128-cbc,aes128-ctr,aes192-cbc,aes192-ctr,aes256-cbc,aes256-ctr,blowfish-cbc,blowfish-ctr,cast128-cbc,cast128-ctr,idea-cbc,idea-ctr,serpent128-cbc,serpent128-ctr,serpent192-cbc,serpent192-ctr,serpent256-cbc,serpent256-ctr,3des-cbc,3des-ctr,twofish128-cbc,twofish128-ctr,twofish192-cbc,twofish192-ctr,twofish256-cbc,twofish256-ctr,twofish-cbc,arcfour,arcfour128,arcfour256",
	EncS2C:        "aes128-ctr",
	MACC2S:        "hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96,hmac-sha2-256,hmac-sha2-512",
	MACS2C:        "hmac-sha1",
	CompC2S:       "zlib@openssh.com,zlib,none",
	CompS2C:       "none",
}

// The OpenSSH 5.3 server of the README's "Example 2" (its hasshServer
// algorithms string is published; the hash is its MD5).
var openssh53 = map[int]string{
	Kex:     "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1",
	EncC2S:  "aes128-ctr",
	EncS2C:  "aes128-ctr,aes192-ctr,aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,aes192-cbc,aes256-cbc,arcfour,rijndael-cbc@lysator.liu.se",
	MACC2S:  "hmac-sha1",
	MACS2C:  "hmac-md5,hmac-sha1,umac-64@openssh.com,hmac-ripemd160,hmac-ripemd160@openssh.com,hmac-sha1-96,hmac-md5-96",
	CompC2S: "none",
	CompS2C: "none,zlib@openssh.com",
}

func TestParse(t *testing.T) {
	md5hex := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	srvAlgs := "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1;aes128-ctr,aes192-ctr,aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,aes192-cbc,aes256-cbc,arcfour,rijndael-cbc@lysator.liu.se;hmac-md5,hmac-sha1,umac-64@openssh.com,hmac-ripemd160,hmac-ripemd160@openssh.com,hmac-sha1-96,hmac-md5-96;none,zlib@openssh.com"
	kexCut := kexinit(cyberduck)
	for _, c := range []struct {
		name    string
		in      []byte
		server  bool
		err     error
		banner  string
		code    int // -1: no packet
		hassh   string
		algs    string
		kexList string
	}{
		{name: "banner CRLF", in: []byte("SSH-2.0-OpenSSH_7.8\r\n"), banner: "SSH-2.0-OpenSSH_7.8", code: -1},
		{name: "banner LF", in: []byte("SSH-2.0-dropbear_2016.74\n"), banner: "SSH-2.0-dropbear_2016.74", code: -1},
		{name: "banner cut", in: []byte("SSH-1.99-Cisco"), banner: "SSH-1.99-Cisco", code: -1},
		{name: "client kexinit (README hassh)", in: kexinit(cyberduck), code: MsgKexInit,
			hassh: "8a8ae540028bf433cd68356c1b9e8d5b", kexList: cyberduck[Kex]},
		{name: "server kexinit (README hasshServer algorithms)", in: kexinit(openssh53), server: true, code: MsgKexInit,
			hassh: md5hex(srvAlgs), algs: srvAlgs, kexList: openssh53[Kex]},
		{name: "kexinit cut short: header only", in: kexCut[:100], code: 0},
		{name: "newkeys", in: []byte{0, 0, 0, 12, 10, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, code: 21},
		{name: "encrypted", in: []byte{0x8f, 0x12, 0x44, 0x01, 0x99, 0x10, 0x20}, err: ErrNoPacket},
		{name: "length not a multiple of 8", in: []byte{0, 0, 0, 13, 10, 21, 0}, err: ErrNoPacket},
		{name: "short", in: []byte{0, 0, 0}, err: ErrShort},
	} {
		var m Message
		err := m.Parse(c.in, c.server)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		if string(m.Banner) != c.banner {
			t.Errorf("%s: banner %q, want %q", c.name, m.Banner, c.banner)
		}
		if got := map[bool]int{false: -1, true: int(m.Code)}[m.HasPacket]; got != c.code || m.Complete != (c.code > 0) {
			t.Errorf("%s: message code %d, want %d", c.name, got, c.code)
		}
		if c.hassh == "" {
			if m.KexInit {
				t.Errorf("%s: KEXINIT decoded", c.name)
			}
			continue
		}
		if !m.KexInit {
			t.Errorf("%s: no KEXINIT", c.name)
			continue
		}
		if string(m.HASSH[:]) != c.hassh {
			t.Errorf("%s: hassh %s, want %s (algorithms %s)", c.name, m.HASSH[:], c.hassh, m.HASSHAlgorithms)
		}
		if c.algs != "" && string(m.HASSHAlgorithms) != c.algs {
			t.Errorf("%s: algorithms\n%s\nwant\n%s", c.name, m.HASSHAlgorithms, c.algs)
		}
		if string(m.Lists[Kex]) != c.kexList {
			t.Errorf("%s: kex_algorithms %q", c.name, m.Lists[Kex])
		}
		if m.Server != c.server || strings.Count(string(m.HASSHAlgorithms), ";") != 3 {
			t.Errorf("%s: server %v, algorithms %q", c.name, m.Server, m.HASSHAlgorithms)
		}
	}
}

// TestParseReusesBuffer: a Message parsed again keeps its buffer, so a
// second KEXINIT allocates nothing.
func TestParseReusesBuffer(t *testing.T) {
	var m Message
	b := kexinit(cyberduck)
	_ = m.Parse(b, false)
	if n := testing.AllocsPerRun(100, func() { _ = m.Parse(b, false) }); n != 0 {
		t.Errorf("Parse allocates %.0f times per KEXINIT", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_7.8\r\n"), false)
	f.Add(kexinit(cyberduck), false)
	f.Add(kexinit(openssh53), true)
	f.Fuzz(func(t *testing.T, b []byte, server bool) {
		var m Message
		if err := m.Parse(b, server); err != nil {
			return
		}
		if m.KexInit {
			sum := md5.Sum(m.HASSHAlgorithms)
			if hex.EncodeToString(sum[:]) != string(m.HASSH[:]) {
				t.Fatalf("HASSH %s is not the MD5 of %q", m.HASSH[:], m.HASSHAlgorithms)
			}
		}
		if m.Banner != nil && !Probe(b) {
			t.Fatalf("banner %q from a segment that does not start with SSH-", m.Banner)
		}
	})
}
