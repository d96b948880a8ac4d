#!/usr/bin/env bash
# tamperwatchd on a host watching its own traffic (docs/configuration.md
# "Vantage points"): started with no --mode in the client namespace, which
# forwards nothing and whose default route leaves by its veth (c-eth).  It
# must choose TC (ingress and egress) by itself and say why, and then see
# what XDP alone could not there: the handshakes (its own SYNs leave, they
# never arrive), both directions of each flow (none one_way or syn_missed),
# and a SYN that nothing answers (the gateway drops TCP to port 81) as a
# blackhole SYN->timeout verdict.  Then the same namespace with --mode xdp,
# to show the test can tell: no handshake event, flows one way.
# One way because of the attachment (docs/configuration.md): a connection
# from the server to the host's port 82, which the host's own firewall
# drops, is one way on both attachments.  With TC (both directions) it is
# judged like the dropped SYN to port 81 and counted in stats.flows_one_way;
# with XDP (ingress only) every flow is one way because of the attachment:
# stats.flows_one_way_attachment counts them and no flow gets a verdict, not
# even the port-82 SYNs that TC judged.  With TC that counter stays 0.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
need_root
topo_up
[ "$(ip netns exec $NS_C cat /proc/sys/net/ipv4/conf/all/forwarding)" = 0 ] || fail "client namespace forwards"
# nft_drop NS HOOK PORT: drop TCP to PORT in NS's forward (a censor on the
# way) or input (the host's own firewall) hook
nft_drop() {
  printf '%s\n' "table inet twdrop$3 {" "  chain c {" "    type filter hook $2 priority 0; policy accept;" \
    "    tcp dport $3 drop" "  }" "}" | ip netns exec "$1" nft -f - || fail "nft in $1"
}
nft_drop $NS_G forward 81
nft_drop $NS_C input 82

host_start() { # host_start OUT ARGS...: the daemon in the client namespace
  local out=$1; shift
  # --events: the test reads the per-packet events (off by default live)
  ip netns exec $NS_C "$TW" --alerts "$out" --set output.stats_interval=0 --control "$out.ctl.sock" --events \
    -i c-eth --set flows.tcp_idle=4 "$@" 2>"$out.stderr" &
  TW_PID=$!
  for i in $(seq 50); do
    grep -q "watching" "$out.stderr" 2>/dev/null && return 0
    kill -0 $TW_PID 2>/dev/null || fail "tamperwatchd exited: $(cat "$out.stderr")"
    sleep 0.1
  done
  fail "tamperwatchd did not attach: $(cat "$out.stderr")"
}
traffic() {
  client curl -s -o /dev/null http://203.0.113.10/ || fail "curl www"
  client curl -s -o /dev/null http://203.0.113.10/big.bin || fail "curl big"
  client curl -s -o /dev/null --connect-timeout 4 http://203.0.113.10:81/ && fail "port 81 answered"
  ip netns exec $NS_S curl -s -o /dev/null --connect-timeout 4 http://198.51.100.2:82/ && fail "port 82 answered"
  sleep 1
}

out=$WORK/host.json
host_start "$out"
grep -q "this host forwards no packets" "$out.stderr" || fail "no word on the choice: $(cat "$out.stderr")"
grep -q "watching c-eth (tc clsact ingress+egress)" "$out.stderr" || fail "not TC: $(cat "$out.stderr")"
ok "no --mode on a host: $(grep -m1 'forwards' "$out.stderr" | cut -c1-90)"
traffic
tw_stop "$out"
[ -z "$(tc -n $NS_C filter show dev c-eth ingress 2>/dev/null)$(tc -n $NS_C filter show dev c-eth egress 2>/dev/null)" ] ||
  fail "c-eth still has a TC filter"
python3 - "$out" <<'PY' || fail "host: both directions"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
hs = [r for r in ev if r["event_type"] == "handshake" and r["dest_port"] == 80]
fl = [r for r in ev if r["event_type"] == "flow" and r["proto"] == "TCP" and r["dest_port"] == 80]
print("handshakes:", len(hs), "port-80 flows:", len(fl))
assert len(hs) >= 2 and len(fl) >= 2, (len(hs), len(fl))
for r in fl:
    f = r["flow"]
    assert not f.get("one_way") and not f.get("syn_missed"), f
    assert f["to_server"]["pkts"] > 0 and f["to_client"]["pkts"] > 0, f
bh = [r for r in ev if r["event_type"] == "tamper" and r["dest_port"] == 81]
assert bh and bh[0]["tamper"]["method"] == "blackhole" and bh[0]["tamper"]["signature"] == "SYN->timeout", bh
print("blackhole:", bh[0]["tamper"])
fw = [r for r in ev if r["event_type"] == "tamper" and r["dest_port"] == 82]
assert fw and fw[0]["tamper"]["signature"] == "SYN->timeout", fw
st = [r for r in ev if r["event_type"] == "stats" and r["final"]][-1]["stats"]
print("one way: path", st["flows_one_way"], "attachment", st["flows_one_way_attachment"])
assert st["flows_one_way_attachment"] == 0 and st["flows_one_way"] >= 2, st
PY
ok "host, TC by default: handshakes, both directions, the dropped SYNs blackhole SYN->timeout verdicts, one-way flows judged (flows_one_way_attachment 0)"

out=$WORK/host-xdp.json
host_start "$out" --mode xdp
grep -q "XDP sees only what arrives: flows seen one way are counted (flows_one_way_attachment), not judged" "$out.stderr" ||
  fail "no word on the ingress-only attachment: $(cat "$out.stderr")"
traffic
tw_stop "$out"
python3 - "$out" <<'PY' || fail "host with --mode xdp"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
hs = [r for r in ev if r["event_type"] == "handshake"]
fl = [r for r in ev if r["event_type"] == "flow" and r["proto"] == "TCP" and r["dest_port"] == 80]
assert not hs and fl and all(r["flow"].get("one_way") or r["flow"].get("syn_missed") for r in fl), (len(hs), fl[:1])
# the port-82 SYNs arrive (ingress) and were resent: TC judged this very flow
fw = [r for r in ev if r["event_type"] == "flow" and r["dest_port"] == 82]
assert fw and fw[0]["flow"]["to_server"]["syn"] >= 2 and fw[0]["flow"].get("one_way"), fw
tamper = [r for r in ev if r["event_type"] in ("tamper", "redirect")]
assert not tamper, tamper
st = [r for r in ev if r["event_type"] == "stats" and r["final"]][-1]["stats"]
allflows = [r for r in ev if r["event_type"] == "flow"]
print("one way: attachment", st["flows_one_way_attachment"], "path", st["flows_one_way"], "flows", len(allflows))
assert st["flows_one_way_attachment"] >= 3 and st["flows_one_way"] == 0, st
assert st["flows_one_way_attachment"] == sum(1 for r in allflows if r["flow"].get("one_way")), st
PY
ok "the same host with --mode xdp: no handshake, flows one way, the dropped SYN unseen (what the default avoids); every flow counted one way because of the attachment, none judged"
