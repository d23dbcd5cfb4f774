// Package filter compiles tcpdump filter expressions (the --bpf option) to
// classic BPF and runs them on packets.
//
// Compilation is done by libpcap's own pcap_compile, so an expression means
// exactly what it means to tcpdump. libpcap is not linked at build time: it
// is loaded at run time with dlopen (see [LibraryNames]), so the binary
// builds and runs without libpcap; only [Compile] (and with it --bpf) then
// fails, with an error saying what is missing. With CGO_ENABLED=0 Compile
// always fails with a clear error.
//
// A compiled [Program] keeps the raw instructions ([Program.Raw]), ready for
// the kernel (SO_ATTACH_FILTER) in live capture. For packets read from files
// a [Matcher] runs the program with a small classic-BPF interpreter in this
// package that follows libpcap's bpf_filter exactly: out-of-range loads
// reject the packet, and BPF_LD|BPF_LEN ("len", "greater", "less") loads the
// packet's original (wire) length, not the captured length. The
// golang.org/x/net/bpf VM is not used for matching because it returns the
// captured length for such loads (so "greater 1000" disagrees with tcpdump on
// snaplen-truncated captures), does not implement BPF_NEG, and is slower; it
// allocates nothing either way, see BenchmarkMatch.
//
// Files may mix link types (pcapng interfaces), and an expression compiles
// to a different program per link type. [Cache] compiles an expression at
// most once per link type for all workers; each worker takes its own [Set]
// from it and asks [Set.For] for the matcher of a packet's link type.
package filter
