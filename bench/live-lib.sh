# live-lib.sh - what bench/live-rate.sh and bench/live-node.sh share: a
# veth pair into a network namespace of their own, and the figures read
# from tcpreplay's and espcap-fast's output. Sourced, not run.

# veth_up NS OUT IN: a namespace NS and a veth pair OUT (here) / IN (in NS),
# IPv6 and ARP off (no traffic of their own), MTU 9000.
veth_up() {
	local ns=$1 out=$2 in=$3
	ip netns add "$ns"
	ip link add "$out" type veth peer name "$in" netns "$ns"
	echo 1 >/proc/sys/net/ipv6/conf/"$out"/disable_ipv6
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip link set "$out" mtu 9000 arp off up
	ip -n "$ns" link set "$in" mtu 9000 arp off up
}

# veth_down NS OUT: remove them again (errors ignored: for EXIT traps).
veth_down() {
	ip link del "$2" 2>/dev/null || true
	ip netns del "$1" 2>/dev/null || true
}

# live_figures REPLAY ERR: sets sent and pps from tcpreplay's output
# (file REPLAY) and kpk and kdr (kernel packets and drops) from
# espcap-fast's stderr (file ERR).
live_figures() {
	sent=$(awk '/Successful packets:/ {print $3}' "$1")
	pps=$(awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i == "pps") print $(i-1)}' "$1" | head -1)
	kpk=$(awk '/kernel:/ {for (i = 1; i <= NF; i++) if ($i == "packets,") print $(i-1)}' "$2" | head -1)
	kdr=$(awk '/kernel:/ {for (i = 1; i <= NF; i++) if ($i == "dropped,") print $(i-1)}' "$2" | head -1)
}
