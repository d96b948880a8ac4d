#!/usr/bin/env bash
# tamperwatchd attached in XDP mode to both links of a gateway namespace sees
# real HTTP (v4, v6) and DNS crossing it, and leaves nothing attached.
# The gateway's own traffic is seen one way (what it sends arrives on no
# watched link): a connection from the server to the gateway's port 82, which
# its own firewall drops, is counted in stats.flows_one_way_attachment and
# never judged (docs/configuration.md "Vantage points"), while what it
# forwards is judged as ever.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
. tests/live/traffic.sh
need_root
topo_up
printf '%s\n' "table inet twgwfw {" "  chain input {" "    type filter hook input priority 0; policy accept;" \
  "    tcp dport 82 drop" "  }" "}" | ip netns exec $NS_G nft -f - || fail "nft on the gateway"
tw_start "$WORK/xdp.json" -i gw-cli -i gw-srv --mode xdp --set flows.tcp_idle=4
ip -n $NS_G -d link show dev gw-cli | grep -q 'prog/xdp' || fail "no XDP program on gw-cli while running"
run_traffic
ip netns exec $NS_S curl -s -o /dev/null --connect-timeout 4 http://203.0.113.1:82/ && fail "port 82 answered"
tw_stop "$WORK/xdp.json"
assert_detached
assert_events "$WORK/xdp.json"
python3 - "$WORK/xdp.json" <<'PY' || fail "the gateway's own flow"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
own = [r for r in ev if r["event_type"] == "flow" and r["dest_ip"] == "203.0.113.1" and r["dest_port"] == 82]
assert own and own[0]["flow"].get("one_way") and own[0]["flow"]["to_server"]["syn"] >= 2, own
assert not [r for r in ev if r["event_type"] == "tamper"], [r for r in ev if r["event_type"] == "tamper"]
st = [r for r in ev if r["event_type"] == "stats" and r["final"]][-1]["stats"]
fwd = [r for r in ev if r["event_type"] == "flow" and r["dest_ip"] in ("203.0.113.10", "2001:db8:2::10")]
print("gateway's own one-way flows:", st["flows_one_way_attachment"], "one way on the path:", st["flows_one_way"],
      "forwarded flows:", len(fwd))
assert st["flows_one_way_attachment"] >= 1 and fwd and not any(r["flow"].get("one_way") for r in fwd), st
PY
ok "the gateway's own SYNs (port 82): one way, counted in flows_one_way_attachment, no verdict; forwarded flows both ways"
grep -q "xdp native" "$WORK/xdp.json.stderr" && ok "native XDP on veth"
