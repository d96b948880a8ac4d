#!/usr/bin/env bash
# Clear one-line errors: no such interface, not root, someone else's XDP
# program on the interface (refused, never replaced), bad flags.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
need_root
topo_up

out=$("$TW" -i no-such-if0 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "no such interface: no-such-if0" || fail "no such interface: rc=$rc '$out'"
ok "no such interface -> $out"

out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$TW" -i lo 2>&1); rc=$?
[ $rc -eq 3 ] && echo "$out" | grep -q "needs root" || fail "not root: rc=$rc '$out'"
ok "not root -> $out"

out=$("$TW" --mode bogus -i lo 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "expected xdp, tc or kmod" || fail "bad mode: rc=$rc '$out'"
out=$("$TW" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "nothing to watch" || fail "no args: rc=$rc '$out'"
out=$("$TW" --events --replay x.pcap --set flows.tcp_idle=abc 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "flows.tcp_idle" || fail "bad --set: rc=$rc '$out'"
ok "bad flags rejected"

# a first daemon owns gw-cli's XDP hook; a second must refuse, not replace it
tw_start "$WORK/a.json" -i gw-cli --mode xdp
first=$(ip -n $NS_G -d link show dev gw-cli | grep -o 'prog/xdp id [0-9]*')
out=$(ip netns exec $NS_G "$TW" -i gw-cli --mode xdp --alerts /dev/null --control "$WORK/b.sock" 2>&1); rc=$?
[ $rc -eq 3 ] && echo "$out" | grep -q "already carries an XDP program" || fail "busy interface: rc=$rc '$out'"
now=$(ip -n $NS_G -d link show dev gw-cli | grep -o 'prog/xdp id [0-9]*')
[ "$first" = "$now" ] || fail "the first program was replaced ($first -> $now)"
ok "busy interface -> $out"
tw_stop "$WORK/a.json"
assert_detached
