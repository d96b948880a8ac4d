# The traffic both live tests send across the gateway, and what they assert.
run_traffic() {
  client timeout 10 curl -sf -o /dev/null http://203.0.113.10/index.html || fail "curl v4"
  client timeout 10 curl -sf -g -o /dev/null "http://[2001:db8:2::10]/index.html" || fail "curl v6"
  client timeout 20 curl -sf -o "$WORK/big.out" http://203.0.113.10/big.bin || fail "curl big"
  cmp -s "$WORK/big.out" "$WORK/www/big.bin" || fail "download corrupted"
  [ "$(client timeout 5 dig +short +tries=1 @203.0.113.10 www.lab A)" = 203.0.113.10 ] || fail "dig"
  sleep 0.5
}

assert_events() {
  local out=$1
  python3 - "$out" <<'PY' || fail "event assertions"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ev = [r for r in recs if r["event_type"] != "stats"]
def n(pred): return sum(1 for r in ev if pred(r))
checks = {
  "handshake v4 :80": n(lambda r: r["event_type"] == "handshake" and r["dest_ip"] == "203.0.113.10" and r["dest_port"] == 80),
  "handshake v6 :80": n(lambda r: r["event_type"] == "handshake" and r["dest_ip"] == "2001:db8:2::10"),
  "request payload": n(lambda r: r["event_type"] == "payload" and r["direction"] == "to_server" and r["dest_port"] == 80),
  "response payload": n(lambda r: r["event_type"] == "payload" and r["direction"] == "to_client" and r["dest_port"] == 80),
  "fin to_server": n(lambda r: r["event_type"] == "fin" and r["direction"] == "to_server"),
  "fin to_client": n(lambda r: r["event_type"] == "fin" and r["direction"] == "to_client"),
  "dns query": n(lambda r: r["event_type"] == "dns" and r["direction"] == "to_server" and r["dest_port"] == 53),
  "dns response": n(lambda r: r["event_type"] == "dns" and r["direction"] == "to_client" and r["dest_port"] == 53),
  "flow end": n(lambda r: r["event_type"] == "flow"),
  "big download": n(lambda r: r["event_type"] == "flow" and r["flow"]["to_client"]["payload_bytes"] >= 300000),
  # rate evidence (README "Throttling"): all of it acknowledged, RTTs through both sides
  "big download rate": n(lambda r: r["event_type"] == "flow" and
                         r.get("rate", {}).get("to_client", {}).get("delivered", 0) >= 300000 and
                         "rtt_min_us" in r["rate"]["to_server"] and "rtt_min_us" in r["rate"]["to_client"]),
}
need = {"handshake v4 :80": 2, "handshake v6 :80": 1, "request payload": 3, "response payload": 3,
        "fin to_server": 3, "fin to_client": 3, "dns query": 1, "dns response": 1, "flow end": 4, "big download": 1,
        "big download rate": 1}
bad = 0
for k, v in checks.items():
    print(f"{k}: {v} (need >= {need[k]})")
    if v < need[k]:
        bad = 1
for r in ev:
    if r["event_type"] in ("payload", "handshake") and r["dest_port"] == 80 and r["src_prefix"] not in ("198.51.100.0/24", "2001:db8:1::/48"):
        print("wrong orientation or prefix:", r); bad = 1
stats = [r for r in recs if r["event_type"] == "stats" and r["final"]]
if len(stats) != 1:
    print("no final stats record"); bad = 1
else:
    s = stats[0]["stats"]
    print("final stats:", json.dumps(s))
    if s["events_lost"] or s["events_malformed"] or s["output_write_errors"]:
        print("events lost or malformed"); bad = 1
    # flow and flow_rate records are the sweep's, not the kernel's
    if s["events"] != len(ev) - sum(1 for r in ev if r["event_type"] in ("flow", "flow_rate")):
        print("kernel event count", s["events"], "does not match the lines written"); bad = 1
text = open(sys.argv[1]).read()
for addr in ("198.51.100.2", "2001:db8:1::2"):
    if f'"{addr}"' in text:
        print("client address in clear:", addr); bad = 1
sys.exit(bad)
PY
  ok "events as expected"
}
