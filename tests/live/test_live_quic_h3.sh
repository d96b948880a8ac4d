#!/usr/bin/env bash
# quic_interference live: the name's DNS offer of HTTP/3 (docs/detection.md
# "QUIC", quic_h3_advertised), with the vantage profile (one client).  Real
# QUIC servers (ngtcp2's gtlsserver) at 203.0.113.10 (www.lab) and
# 203.0.113.30 (h3only.lab), a real resolver (unbound) at 203.0.113.53
# serving h3only.lab an HTTPS record (RFC 9460) with alpn h3, and
# noquic.lab (203.0.113.20, nothing on UDP/443) none.  The censor (nftables
# in the gateway) drops all UDP to 203.0.113.30:443: no other flow shows
# that server speaking QUIC, so quic_server_answers_others cannot decide;
# the client looks each name up (A and HTTPS, as a browser does) and
# connects:
#   1. www.lab over QUIC: answered (the client's network passes QUIC)
#   2. h3only.lab over QUIC, 5 times: silent, though its DNS offers HTTP/3
#   3. the look-alike: noquic.lab over QUIC, twice: silent, no offer, while
#      TCP to it works
# Expected: INITIAL->timeout verdicts >= 0.5 for h3only.lab with
# quic_h3_advertised and quic_client_answered_elsewhere (and not
# quic_server_answers_others), and one alert, for h3only.lab (5 silent
# flows: alerts.blackhole_min_flows); noquic.lab under 0.4 without
# quic_h3_advertised and no alert; nothing for www.lab.  After the detector stops, the
# censor goes and h3only.lab answers over QUIC: the server was up.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
need_root
command -v gtlsclient >/dev/null && command -v gtlsserver >/dev/null ||
  skip "ngtcp2-client / ngtcp2-server not installed (scripts/install-deps.sh)"
command -v nft >/dev/null || skip "nft not installed"
topo_up
for a in 203.0.113.20 203.0.113.30 203.0.113.53; do
  ip -n $NS_S addr add $a/24 dev s-eth || fail "server address $a"
done
mkdir -p /etc/netns/$NS_C "$WORK/dns2" || fail "/etc/netns/$NS_C"
trap 'rm -rf /etc/netns/$NS_C; topo_down' EXIT
printf '203.0.113.10 www.lab\n203.0.113.30 h3only.lab\n203.0.113.20 noquic.lab\n' >/etc/netns/$NS_C/hosts
unbound_start $NS_S "$WORK/dns2" lab. 203.0.113.53 -- \
  "www.lab. 300 IN A 203.0.113.10" "www.lab. 300 IN HTTPS 1 . alpn=h3" \
  "h3only.lab. 300 IN A 203.0.113.30" "h3only.lab. 300 IN HTTPS 1 . alpn=h3,h2" \
  "noquic.lab. 300 IN A 203.0.113.20"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/key.pem" \
  -out "$WORK/cert.pem" -days 1 -subj /CN=www.lab >/dev/null 2>&1 || fail "openssl certificate"
for a in 203.0.113.10 203.0.113.30; do
  ip netns exec $NS_S gtlsserver --quiet -d "$WORK/www" $a 443 "$WORK/key.pem" "$WORK/cert.pem" \
    >"$WORK/quic-server-$a.log" 2>&1 &
  PIDS+=($!)
done
for i in $(seq 50); do
  client timeout 1 dig +short +tries=1 +time=1 @203.0.113.53 h3only.lab HTTPS 2>/dev/null | grep -q 'alpn="h3,h2"' &&
    break
  [ "$i" = 50 ] && fail "resolver at 203.0.113.53: $(tail -3 "$WORK/dns2/unbound.log")"
  sleep 0.2
done

quic() { # quic NAME: look NAME up (A, HTTPS), then 0 if the download over QUIC worked
  local sni=$1
  client dig +short +tries=1 +time=1 @203.0.113.53 "$sni" A >/dev/null
  client dig +short +tries=1 +time=1 @203.0.113.53 "$sni" HTTPS >/dev/null
  rm -f "$WORK/dl/index.html"; mkdir -p "$WORK/dl"
  client timeout 6 gtlsclient --quiet --exit-on-all-streams-close --handshake-timeout=3s \
    --download="$WORK/dl" "$sni" 443 "https://$sni/index.html" >>"$WORK/quic-client.log" 2>&1 &&
    cmp -s "$WORK/dl/index.html" "$WORK/www/index.html"
}

ip netns exec $NS_G nft -f - <<EOF2 || fail "nft censor"
table inet twcensor {
  chain censor {
    type filter hook forward priority 0; policy accept;
    ip daddr 203.0.113.30 udp dport 443 drop
  }
}
EOF2

out=$WORK/quic-h3.json
tw_start "$out" -i gw-cli -i gw-srv --mode tc --profile vantage --set flows.udp_idle=5 --set flows.silence_hold=5
for i in $(seq 20); do quic www.lab && break; sleep 0.3; done # the server may still be starting
quic www.lab || fail "www.lab over QUIC: $(tail -3 "$WORK/quic-client.log")"
ok "www.lab answered over QUIC (the client's network passes QUIC)"
for i in 1 2 3 4 5; do
  quic h3only.lab && fail "h3only.lab went through the censor"
done
ok "h3only.lab dropped by the censor, 5 times, its DNS offering HTTP/3"
for i in 1 2; do
  quic noquic.lab && fail "something answered QUIC at 203.0.113.20"
  client curl -s -o /dev/null -H "Host: noquic.lab" http://203.0.113.20/ || fail "TCP to noquic.lab"
done
ok "noquic.lab: no QUIC server, no offer, TCP answered"
sleep 7 # the last flows go idle and out of the hold
tw_stop "$out"
assert_detached
ip netns exec $NS_G nft delete table inet twcensor || fail "nft delete"
quic h3only.lab || fail "h3only.lab without the censor: $(tail -3 "$WORK/quic-client.log")"
ok "without the censor h3only.lab answers over QUIC"
python3 - "$out" <<'PY' || fail "quic_interference verdicts"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t = [r["tamper"] for r in ev if r["event_type"] == "tamper" and r["tamper"]["method"] == "quic_interference"]
for x in t:
    print("verdict:", x["sni"], x["signature"], x["confidence"], x["anomalies"])
h3 = [x for x in t if x["sni"] == "h3only.lab"]
assert len(h3) >= 5, len(h3)
for x in h3:
    assert x["signature"] == "INITIAL->timeout" and x["confidence"] >= 0.5, x
    assert "quic_h3_advertised" in x["anomalies"] and "quic_client_answered_elsewhere" in x["anomalies"], x
    assert "quic_server_answers_others" not in x["anomalies"], x
noquic = [x for x in t if x["sni"] == "noquic.lab"]
assert noquic, "no verdict for noquic.lab"
for x in noquic:
    assert x["confidence"] < 0.4 and "quic_h3_advertised" not in x["anomalies"], x
assert not [x for x in t if x["sni"] == "www.lab"], "verdict for www.lab"
raised = [r["alert"] for r in ev if r["event_type"] == "alert" and r["alert"]["state"] == "raised"]
for a in raised:
    print("alert:", a["signature"])
assert len(raised) == 1 and "h3only.lab" in raised[0]["signature"], raised
assert "198.51.100.2" not in json.dumps(ev), "a client address in the output"
PY
ok "quic_interference: h3only.lab >= 0.5 (its DNS offers HTTP/3, the client's QUIC works); one alert for h3only.lab; noquic.lab < 0.4; nothing for www.lab"
