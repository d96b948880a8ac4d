#!/usr/bin/env bash
# quic_interference by forged packets, live (docs/detection.md "QUIC"): a real
# QUIC client (ngtcp2's gtlsclient) and server (gtlsserver), and a censor in
# the gateway (tests/live/quic_forge.py beside nftables) that drops the
# Initial of a blocked connection and answers it with a forged packet from
# the server's address:
#   vn.lab     a Version Negotiation that lists the client's own version
#              (no server speaking it sends one; the client discards it)
#   reset.lab  a stateless reset (a short-header datagram) before the
#              server ever answered
# The SNI is encrypted in the Initial, so the censor cannot read it: the test
# gives the blocked connections a Destination Connection ID of its choosing
# (--dcid) and the censor matches those bytes (as tests/live/
# test_live_quic_block.sh does); to the detector it is a forgery after an
# Initial with that SNI.  www.lab over QUIC is the control, answered.
# Expected (vantage profile, TC on both gateway links): INITIAL->VN verdicts
# with quic_forged_version_negotiation naming vn.lab, INITIAL->RESET with
# quic_reset_before_handshake naming reset.lab, all at 0.5 or more; one alert
# (quic_interference, 2009) for each name; nothing for www.lab.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
need_root
need_quic
command -v nft >/dev/null || skip "nft not installed"
topo_up
mkdir -p /etc/netns/$NS_C || fail "/etc/netns/$NS_C"
trap 'rm -rf /etc/netns/$NS_C; topo_down' EXIT
printf '203.0.113.10 www.lab vn.lab reset.lab\n' >/etc/netns/$NS_C/hosts
quic_server_start

VN=0f0f0f0f0f0f0f0f RESET=5e5e5e5e5e5e5e5e
printf '%s\n' "table inet twforge {" "  chain censor {" \
  "    type filter hook forward priority 0; policy accept;" \
  "    udp dport 443 @th,104,8 8 @th,112,64 0x$VN drop" \
  "    udp dport 443 @th,104,8 8 @th,112,64 0x$RESET drop" "  }" "}" | ip netns exec $NS_G nft -f - ||
  fail "nft censor"
ip netns exec $NS_G python3 tests/live/quic_forge.py --iface gw-cli --vn $VN --reset $RESET \
  --log "$WORK/forged.jsonl" --ready "$WORK/forge.ready" >"$WORK/forge.log" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do [ -e "$WORK/forge.ready" ] && break; sleep 0.1; done
[ -e "$WORK/forge.ready" ] || fail "quic_forge.py did not start: $(cat "$WORK/forge.log")"

out=$WORK/quic-forged.json
tw_start "$out" -i gw-cli -i gw-srv --mode tc --profile vantage --set flows.udp_idle=4 --set flows.silence_hold=4
for i in $(seq 20); do quic www.lab && break; sleep 0.3; done # the server may still be starting
quic www.lab || fail "www.lab over QUIC: $(tail -3 "$WORK/quic-client.log")"
for i in 1 2 3 4; do
  quic vn.lab --dcid=$VN && fail "vn.lab went through the censor"
  quic reset.lab --dcid=$RESET && fail "reset.lab went through the censor"
  quic www.lab || fail "www.lab over QUIC: $(tail -3 "$WORK/quic-client.log")"
done
nvn=$(grep -c '"forged": "vn"' "$WORK/forged.jsonl") nrs=$(grep -c '"forged": "reset"' "$WORK/forged.jsonl")
[ "$nvn" -ge 4 ] && [ "$nrs" -ge 4 ] || fail "the censor forged $nvn VN and $nrs resets, want 4 each: $(cat "$WORK/forge.log")"
ok "the censor forged $nvn Version Negotiations and $nrs stateless resets; www.lab answered every round"
sleep 6 # the last flows go idle
tw_stop "$out"
assert_detached
python3 - "$out" <<'PY' || fail "quic_interference verdicts and alerts of forged packets"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t = [r["tamper"] for r in ev if r["event_type"] == "tamper" and r["tamper"]["method"] == "quic_interference"]
for x in t:
    print("verdict:", x["sni"], x["signature"], x["confidence"], x["anomalies"])
vn = [x for x in t if x["sni"] == "vn.lab"]
rs = [x for x in t if x["sni"] == "reset.lab"]
assert len(vn) >= 4 and all(x["signature"] == "INITIAL->VN" and x["confidence"] >= 0.5 and
                             "quic_forged_version_negotiation" in x["anomalies"] for x in vn), vn
assert len(rs) >= 4 and all(x["signature"] == "INITIAL->RESET" and x["confidence"] >= 0.5 and
                             "quic_reset_before_handshake" in x["anomalies"] for x in rs), rs
assert not [x for x in t if x["sni"] == "www.lab"], "verdict for www.lab"
al = [r for r in ev if r["event_type"] == "alert"]
for a in al:
    print("alert:", a["alert"]["state"], a["alert"]["signature"], a["censorship"]["method"])
raised = [a for a in al if a["alert"]["state"] == "raised"]
names = sorted(a["target"]["domain"] for a in raised)
assert names == ["reset.lab", "vn.lab"], names
assert all(a["censorship"]["method"] == "quic_interference" and a["alert"]["signature_id"] == 2009 for a in raised), raised
assert "198.51.100.2" not in json.dumps(ev), "a client address in the output"
PY
ok "quic_interference by forgery: INITIAL->VN for vn.lab, INITIAL->RESET for reset.lab (>= 0.5), one alert each (2009); nothing for www.lab"
