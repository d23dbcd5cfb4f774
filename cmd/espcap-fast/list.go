package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

// arphrdLinkType maps the ARPHRD_* type Linux reports for an interface to
// the capture link type name.
var arphrdLinkType = map[int]string{
	1:     "EN10MB (Ethernet)",
	772:   "EN10MB (Ethernet, loopback)",
	512:   "PPP",
	65534: "RAW (no link header)",
	776:   "RAW (IPv6-in-IPv4)",
	778:   "RAW (GRE)",
	801:   "IEEE802_11",
	803:   "IEEE802_11_RADIO",
	280:   "CAN",
}

// listInterfaces prints the interfaces with index, flags, MTU, link type
// and addresses, without tshark or libpcap.
func listInterfaces(w io.Writer) error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("listing interfaces: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tFLAGS\tMTU\tLINK TYPE\tADDRESSES")
	for _, in := range ifs {
		var flags []string
		if in.Flags&net.FlagUp != 0 {
			flags = append(flags, "up")
		}
		if in.Flags&net.FlagRunning != 0 {
			flags = append(flags, "running")
		}
		if in.Flags&net.FlagLoopback != 0 {
			flags = append(flags, "loopback")
		}
		lt := "unknown"
		if b, err := os.ReadFile("/sys/class/net/" + in.Name + "/type"); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if name, ok := arphrdLinkType[n]; ok {
					lt = name
				} else {
					lt = "ARPHRD " + strconv.Itoa(n)
				}
			}
		}
		var addrs []string
		if in.HardwareAddr != nil {
			addrs = append(addrs, in.HardwareAddr.String())
		}
		if as, err := in.Addrs(); err == nil {
			for _, a := range as {
				addrs = append(addrs, a.String())
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", in.Index, in.Name, strings.Join(flags, ","), in.MTU, lt, strings.Join(addrs, " "))
	}
	return tw.Flush()
}
