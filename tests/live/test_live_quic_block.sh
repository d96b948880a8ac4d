#!/usr/bin/env bash
# quic_interference live (docs/detection.md "QUIC"), with the vantage
# profile's thresholds (one client prefix; docs/configuration.md "Vantage
# points").  A real QUIC server (ngtcp2's gtlsserver) at 203.0.113.10:443
# and a real client (gtlsclient).  The censor is nftables in the gateway's
# forward chain, GFW-style: an Initial of the blocked connection is dropped
# and its 3-tuple (client, server, port 443) is dropped for 20 s after
# (residual blocking).  The SNI is encrypted in the Initial, so nft cannot
# read it: the test gives the blocked connections (SNI blocked.lab) a
# Destination Connection ID of its choosing (--dcid) and the censor matches
# those header bytes — to the detector it is the same thing, a drop after an
# Initial with that SNI while the server answers QUIC for other names.
#   1. www.lab over QUIC, twice (answered: the server speaks QUIC; a control)
#   2. blocked.lab over QUIC, 6 times: dropped, every retry on the tuple too
#   3. after the residual blocking ends: www.lab answered again
#   4. the benign look-alike: noquic.lab at 203.0.113.20, where nothing
#      listens on UDP/443 (a server that does not speak QUIC), twice, while
#      TCP to it works (the lab's HTTP server listens on every address)
# Expected: quic_interference INITIAL->timeout verdicts >= 0.5 naming
# blocked.lab, with quic_server_answers_others; one alert, for blocked.lab;
# no verdict >= 0.4 and no alert for noquic.lab; no verdict for www.lab's
# answered flows.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
need_root
need_quic
command -v nft >/dev/null || skip "nft not installed"
topo_up
ip -n $NS_S addr add 203.0.113.20/24 dev s-eth || fail "second server address"
# gtlsclient sends "localhost" as the SNI of a numeric host, --sni or not:
# the names resolve in the client's namespace (ip netns exec bind-mounts
# /etc/netns/NAME/hosts over /etc/hosts)
mkdir -p /etc/netns/$NS_C || fail "/etc/netns/$NS_C"
trap 'rm -rf /etc/netns/$NS_C; topo_down' EXIT
printf '203.0.113.10 www.lab blocked.lab\n203.0.113.20 noquic.lab\n' >/etc/netns/$NS_C/hosts
quic_server_start

DCID=b10cb10cb10cb10c
ip netns exec $NS_G nft -f - <<EOF || fail "nft censor"
table inet twcensor {
  set residual { type ipv4_addr . ipv4_addr . inet_service; flags timeout; }
  chain censor {
    type filter hook forward priority 0; policy accept;
    ip saddr . ip daddr . udp dport @residual drop
    udp dport 443 @th,104,8 8 @th,112,64 0x$DCID add @residual { ip saddr . ip daddr . udp dport timeout 20s } drop
  }
}
EOF

out=$WORK/quic-block.json
# udp_idle 5 s: each flow ends, and is judged, during the run
tw_start "$out" -i gw-cli -i gw-srv --mode tc --profile vantage --set flows.udp_idle=5 --set flows.silence_hold=5
for i in $(seq 20); do quic www.lab && break; sleep 0.3; done # the server may still be starting
quic www.lab || fail "www.lab over QUIC: $(tail -3 "$WORK/quic-client.log")"
ok "www.lab answered over QUIC (control)"
for i in $(seq 6); do
  quic blocked.lab --dcid=$DCID && fail "blocked.lab went through the censor"
done
ip netns exec $NS_G nft list set inet twcensor residual | grep -q 203.0.113.10 || fail "the censor never blocked"
ok "blocked.lab dropped by the censor, 6 times"
sleep 21 # the residual blocking ends
quic www.lab || fail "www.lab after the residual blocking: $(tail -3 "$WORK/quic-client.log")"
for i in 1 2; do
  quic noquic.lab && fail "something answered QUIC at 203.0.113.20"
  client curl -s -o /dev/null -H "Host: noquic.lab" http://203.0.113.20/ || fail "TCP to noquic.lab"
done
ok "www.lab answered again; noquic.lab: no QUIC server, TCP answered"
sleep 7 # the last flows go idle and out of the hold
tw_stop "$out"
assert_detached
python3 - "$out" <<'PY' || fail "quic_interference verdicts and alerts"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t = [r for r in ev if r["event_type"] == "tamper" and r["tamper"]["method"] == "quic_interference"]
for r in t:
    x = r["tamper"]
    print("verdict:", x["sni"], x["signature"], x["confidence"], x["anomalies"])
blocked = [r["tamper"] for r in t if r["tamper"]["sni"] == "blocked.lab"]
assert len(blocked) >= 5, len(blocked)
for x in blocked:
    assert x["signature"] == "INITIAL->timeout" and x["confidence"] >= 0.5, x
    assert "quic_server_answers_others" in x["anomalies"], x
assert any("quic_residual_block" in x["anomalies"] for x in blocked), blocked
noquic = [r["tamper"] for r in t if r["tamper"]["sni"] == "noquic.lab"]
assert noquic and all(x["confidence"] < 0.4 for x in noquic), noquic
assert not [r for r in t if r["tamper"]["sni"] == "www.lab"], "verdict for www.lab"
al = [r for r in ev if r["event_type"] == "alert"]
for a in al:
    print("alert:", a["alert"]["state"], a["alert"]["signature"], a["censorship"]["method"])
raised = [a for a in al if a["alert"]["state"] == "raised"]
assert len(raised) == 1, raised
a = raised[0]
assert a["censorship"]["method"] == "quic_interference" and a["alert"]["signature_id"] == 2009, a
assert "blocked.lab" in a["alert"]["signature"], a
assert "198.51.100.2" not in json.dumps(ev), "a client address in the output"
PY
ok "quic_interference: blocked.lab >= 0.5 (server answers others), one alert (2009); noquic.lab < 0.4, no alert; nothing for www.lab"
