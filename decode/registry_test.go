package decode

import "testing"

// TestRegistryDerivedTables checks the tables derived from the registry
// against what Wireshark's defaults say for a few ports and names.
func TestRegistryDerivedTables(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		name string
		app  bool
	}{
		{KindEthernet, "eth", false},
		{KindLinuxSLL2, "sll", false},
		{KindDNS, "dns", true},
		{KindHTTP, "http", true},
		{KindTLS, "tls", true},
		{KindQUIC, "quic", true},
		{KindTCP, "tcp", false},
	} {
		if got := c.kind.Name(); got != c.name {
			t.Errorf("kind %d: name %q, want %q", c.kind, got, c.name)
		}
		if got := c.kind.App(); got != c.app {
			t.Errorf("%s: App() %v, want %v", c.name, got, c.app)
		}
	}
	for k := KindNone + 1; k < numBuiltin; k++ {
		if k.Name() == "" {
			t.Errorf("built-in kind %d has no registry entry", k)
		}
	}
	for _, c := range []struct {
		name  string
		known bool
	}{{"mdns", true}, {"llmnr", true}, {"ssdp", true}, {"ethertype", true}, {"ip", true}, {"data", false}, {"smb2", false}} {
		if Known(c.name) != c.known {
			t.Errorf("Known(%q) = %v, want %v", c.name, !c.known, c.known)
		}
	}
	for _, c := range []struct {
		port uint16
		want string
	}{{53, "dns"}, {5353, "mdns"}, {1900, "ssdp"}, {443, "quic"}, {4789, "vxlan"}, {80, ""}} {
		got := ""
		if e := udpEntry[c.port]; e != 0 {
			got = registry[e-1].Name
		}
		if got != c.want {
			t.Errorf("UDP port %d: %q, want %q", c.port, got, c.want)
		}
	}
	for _, c := range []struct {
		port uint16
		want Kind
	}{{53, KindDNS}, {443, KindTLS}, {8080, KindHTTP}, {5061, KindTLS}, {9999, KindNone}} {
		if got := tcpKind[c.port]; got != c.want {
			t.Errorf("TCP port %d: kind %s, want %s", c.port, got.Name(), c.want.Name())
		}
	}
	// a claimed port stays claimed until an entry decodes it
	// (or while the entry's probe may turn a payload down)
	if !udpPortClaimed(69) || udpPortClaimed(53) || !udpPortClaimed(443) {
		t.Errorf("claimed UDP ports: 69 %v, 53 %v, 443 %v", udpPortClaimed(69), udpPortClaimed(53), udpPortClaimed(443))
	}
	if got := AppNames()["mdns"]; got != "mdns" {
		t.Errorf("AppNames()[mdns] = %q", got)
	}
}

// TestEveryStepHasAFunction: the dispatch loop calls steps[nx] for every
// step below nApp.
func TestEveryStepHasAFunction(t *testing.T) {
	for nx := nDone + 1; nx < nApp; nx++ {
		if steps[nx] == nil {
			t.Errorf("step %d has no function", nx)
		}
	}
}

// TestHeuristicsInRegistryOrder: the TCP heuristics are those of the
// protocols Wireshark has TCP heuristics for (and SSH, and a strict one for
// DNS over TCP), in registry order.
func TestHeuristicsInRegistryOrder(t *testing.T) {
	got := ""
	for _, pr := range heuristics {
		got += pr.Name + " "
	}
	if want := "dns http tls ssh sip "; got != want {
		t.Errorf("heuristics %q, want %q", got, want)
	}
}
