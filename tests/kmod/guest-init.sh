#!/bin/busybox sh
# /init of the kmod test's guest (tests/kmod/test_kmod_qemu.sh): no systemd,
# no network; a veth pair carries the test's captures into veth1, which the
# kernel module (netfilter) watches.  (The BPF backend is compared on the
# host; its own guest is tests/kmod/bpf-guest-init.sh.)
# Results go to the second serial port (/dev/ttyS1) as marked files.
# mounts, say/put/finish/wait_for, D=/tw (tests/kmod/guest-common.sh)
. /tw/guest-common.sh
insmod $D/veth.ko 2>/tmp/err || say "insmod veth failed: $(cat /tmp/err)"
/sbin/ip link add veth0 type veth peer name veth1 2>/tmp/err || say "veth failed: $(cat /tmp/err)"
/sbin/ip link set veth1 address 02:02:02:02:02:02
for i in veth0 veth1; do
	echo 1 >/proc/sys/net/ipv6/conf/$i/disable_ipv6
	/sbin/ip link set $i up
done
/sbin/ip link set lo up
[ -e /sys/class/net/veth1 ] || finish

# --- 1. the captures through the module ---
insmod $D/tamperwatch.ko
say "insmod tamperwatch rc=$?"
$D/tamperwatchd -i veth1 --mode kmod --events --alerts /tmp/kmod.json --control /tmp/kmod.sock 2>/tmp/kmod.err &
KPID=$!
wait_for /tmp/kmod.err "watching veth1" 60 || say "kmod daemon did not start"
for c in rst_race blockpage dns_race; do
	tcpreplay -q -i veth0 $D/$c.pcap >>/tmp/replay.log 2>&1 || say "tcpreplay $c failed"
done
# the unanswered SYNs (the capture's last packet comes 300 s later: left out)
tcpreplay -q -L 3 -i veth0 $D/syn_timeout.pcap >>/tmp/replay.log 2>&1 || say "tcpreplay syn_timeout failed"
sleep 1
kill -TERM $KPID
wait $KPID
say "kmod daemon rc=$?"
for f in kmod.json kmod.err replay.log; do put $f /tmp/$f; done

# --- 2. a daemon too slow for the traffic: events lost, and counted ---
tcpreplay -q -K --loop=0 --pps=4000 -i veth0 $D/rst_race.pcap $D/dns_race.pcap >/dev/null 2>&1 &
TPID=$!
$D/tamperwatchd -i veth1 --mode kmod --events --alerts /tmp/kmod2.json --control /tmp/kmod2.sock 2>/tmp/kmod2.err &
KPID=$!
wait_for /tmp/kmod2.err "watching veth1" 60 || say "kmod daemon 2 did not start"
sleep 1
kill -STOP $KPID
sleep 15
kill -CONT $KPID
sleep 2
kill -TERM $KPID
wait $KPID
say "kmod daemon 2 rc=$?"
put kmod2.json /tmp/kmod2.json
put kmod2.err /tmp/kmod2.err

# --- 3. unload under traffic, a daemon attached (it stops, saying why) ---
$D/tamperwatchd -i veth1 --mode kmod --events --alerts /tmp/kmod3.json --control /tmp/kmod3.sock 2>/tmp/kmod3.err &
KPID=$!
wait_for /tmp/kmod3.err "watching veth1" 60 || say "kmod daemon 3 did not start"
sleep 2
grep -q '^tamperwatch ' /proc/modules && say "module loaded under traffic"
rmmod tamperwatch
say "rmmod rc=$?"
grep -q '^tamperwatch ' /proc/modules && say "module still loaded"
sleep 1
kill -TERM $KPID
wait $KPID
say "kmod daemon 3 rc=$?"
kill $TPID
wait $TPID
put kmod3.err /tmp/kmod3.err

# --- 4. a module of another netlink API version is refused ---
insmod $D/tamperwatch-api99.ko
say "insmod api99 rc=$?"
$D/tamperwatchd -i veth1 --mode kmod --events --alerts /tmp/kmod4.json --control /tmp/kmod4.sock 2>/tmp/kmod4.err
say "api99 daemon rc=$?"
put kmod4.err /tmp/kmod4.err
rmmod tamperwatch
say "rmmod api99 rc=$?"
finish
