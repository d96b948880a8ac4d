#!/usr/bin/env bash
# tamperwatchd attached in XDP mode to both links of a gateway namespace sees
# real HTTP (v4, v6) and DNS crossing it, and leaves nothing attached.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
. tests/live/traffic.sh
need_root
topo_up
tw_start "$WORK/xdp.json" -i gw-cli -i gw-srv --mode xdp
ip -n $NS_G -d link show dev gw-cli | grep -q 'prog/xdp' || fail "no XDP program on gw-cli while running"
run_traffic
tw_stop "$WORK/xdp.json"
assert_detached
assert_events "$WORK/xdp.json"
grep -q "xdp native" "$WORK/xdp.json.stderr" && ok "native XDP on veth"
