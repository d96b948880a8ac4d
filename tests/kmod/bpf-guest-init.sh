#!/bin/busybox sh
# /init of the BPF guest (tests/kmod/test_bpf_guest.sh): Debian 12's 6.1
# kernel, no systemd, no network.  The BPF object is loaded three ways:
# test runs (BPF_PROG_TEST_RUN, --replay-engine bpf) of the crafted
# captures, then attached to veth1 as XDP and as TC while tcpreplay sends
# the captures through veth0.  Results go to /dev/ttyS1 as marked files.
# mounts, say/put/finish/wait_for, D=/tw (tests/kmod/guest-common.sh)
. /tw/guest-common.sh
for m in veth sch_ingress cls_bpf; do
	insmod $D/$m.ko 2>/tmp/err || say "insmod $m failed: $(cat /tmp/err)"
done
/sbin/ip link add veth0 type veth peer name veth1 2>/tmp/err || say "veth failed: $(cat /tmp/err)"
/sbin/ip link set veth1 address 02:02:02:02:02:02
for i in veth0 veth1; do
	echo 1 >/proc/sys/net/ipv6/conf/$i/disable_ipv6
	/sbin/ip link set $i up
done
/sbin/ip link set lo up
[ -e /sys/class/net/veth1 ] || finish

# --- 1. test runs of the XDP program (no attach) ---
$D/tamperwatchd --events --replay-engine bpf --alerts /tmp/replay.json \
	--replay $D/rst_race.pcap --replay $D/blockpage.pcap --replay $D/dns_race.pcap 2>/tmp/replay.err
say "bpf replay rc=$?"
put replay.json /tmp/replay.json
put replay.err /tmp/replay.err

# --- 2. attached to veth1: XDP, then TC ---
for m in xdp tc; do
	$D/tamperwatchd -i veth1 --mode $m --events --alerts /tmp/$m.json --control /tmp/$m.sock 2>/tmp/$m.err &
	P=$!
	if wait_for /tmp/$m.err "watching veth1" 90; then
		say "$m attached"
		for c in rst_race blockpage dns_race; do
			tcpreplay -q -i veth0 $D/$c.pcap >>/tmp/$m-replay.log 2>&1 || say "tcpreplay $c ($m) failed"
		done
		sleep 1
	fi
	kill -TERM $P
	wait $P
	say "$m daemon rc=$?"
	put $m.json /tmp/$m.json
	put $m.err /tmp/$m.err
done
finish
