#!/usr/bin/env bash
# Per-target alerts (daemon/alerts/aggregate.c) on the lab's censors: one `raised`
# alert per blocked target with the right method, target and legitimacy,
# none for the controls or the unblocked region, `resolved` with the same id
# once the censor stops and the clients fetch again; censors the detector
# cannot alert on (README "Alerts") raise nothing; benign runs raise nothing;
# no client address anywhere in alerts.json (tests/lab/alert_check.py).
. "$(dirname "$0")/lib.sh"
lab_up

DA=()
daemon() { local a; for a in "$@"; do DA+=(--daemon-arg "$a"); done; }
# Flow timeouts, not alert thresholds: a flow reaches aggregation only when
# it ends, flows.tcp_closed (5 s) after its RST/FIN or after an idle timeout
# (120 s TCP, 30 s UDP).  The lab's flows last seconds; ending them within
# 1-4 s lets one detector run judge every censored flow before the recovery
# fetches (--recover W waits W s before and after them: longer than the
# timeout that ends the scenario's censored flows, 1 s after an RST or FIN,
# 2 s for DNS, 4 s for silent ones, plus the silence hold below for silent
# ClientHellos).
daemon --set flows.tcp_closed=1 --set flows.tcp_idle=4 --set flows.udp_idle=2
# A silent ClientHello's verdict waits flows.silence_hold (30 s) for other
# flows that tell TLS interference from blackholing; the lab's HTTP probe of
# the same server starts 4 s after the HTTPS flows and ends (idle) up to
# 10 s after them.
daemon --set flows.silence_hold=12
# The censored region is one /24 and one /48, and a flow with no name (a
# dropped SYN) counts for its server address, v4 and v6 apart: a blackhole
# target can only ever see one client prefix, never the default two
# (README: a network with a single client /24 sets this).
daemon --set alerts.blackhole_min_prefixes=1
# Every other threshold keeps its default (3 tampered flows and a share of
# 0.5, over all clients or within a client prefix, to raise; 3 consecutive clean answered flows from the incident's prefixes to
# resolve; 600 s of quiet) except
# where a scenario lowers one below (with); the benign runs get all of those.
with() { local a; R=("${DA[@]}"); for a in "$@"; do R+=(--daemon-arg --set --daemon-arg "$a"); done; }
LOWERED=(alerts.min_ratio=0.3 alerts.blackhole_min_flows=3 alerts.resolve_after=12)

DECL=$LAB_OUT/declared.csv
mkdir -p "$LAB_OUT"
cat > "$DECL" <<'EOF'
# pattern,       method,         legal reference,           since,      until
blocked.example, http_blockpage, Lab court order 451/2026,  2020-01-01,
news.example,    any,            Lab statute 7,             2020-01-01,
EOF

# tamper verdicts of METHOD exist, and all are below CONF (why no alert)
verdicts_below() { # method conf
  local n
  n=$(alerts_of "$1" | "$PY" -c '
import json, sys
c = [json.loads(l)["tamper"]["confidence"] for l in sys.stdin if "\"event_type\":\"tamper\"" in l]
print(len(c) if c and max(c) < float(sys.argv[1]) else 0)' "$2")
  if [ "$n" -gt 0 ]; then ok "$n $1 verdicts, all below $2"; else bad "$1 verdicts: none, or one at $2 or more"; fi
}
# blackhole verdicts exist; those at 0.5 or more are exactly the flows whose
# request the server's TCP never acknowledged (request_unacked: docs/
# detection.md), and there is at least one (a drop after the handshake)
verdicts_unacked() {
  local r
  r=$(alerts_of blackhole | "$PY" -c '
import json, sys
t = [json.loads(l)["tamper"] for l in sys.stdin if "\"event_type\":\"tamper\"" in l]
strong = [x for x in t if x["confidence"] >= 0.5]
ok = t and strong and all("request_unacked" in x["anomalies"] for x in strong) and \
    all(x["confidence"] < 0.5 for x in t if "request_unacked" not in x["anomalies"])
print("%d %d %d" % (len(t), len(strong), 1 if ok else 0))')
  set -- $r
  if [ "${3:-0}" = 1 ]; then ok "$1 blackhole verdicts, $2 at 0.5 or more, each with request_unacked"
  else bad "blackhole verdicts: $1, at 0.5 or more: $2, not all (or none) with request_unacked"; fi
}

# ---- active methods: alert, then recovery.  Two rounds where one miss would
# leave fewer than 3 tampered flows (region-a makes 3 flows to the target a
# round, region-b 2 clean ones).
lab_run rst-onpath-http "${DA[@]}" --rounds 2 --recover 3
expect_alerts rst_injection@blocked.example:80/tcp --resolved recovered

lab_run rst-onpath-sni "${DA[@]}" --rounds 2 --recover 3
expect_alerts rst_injection@blocked.example:443/tcp --resolved recovered

# on-path DNS: every forged answer races the real one (4 of 7 queries a round)
lab_run dns-inject-onpath "${DA[@]}" --recover 3
expect_alerts dns_injection@blocked.example:53/udp --resolved recovered

# in-path DNS: one answer per query, the forged one, told only by its IP TTL
# against the resolver's usual TTL, learned from region-b's real answers: the
# first round's forged answers precede that baseline and count as clean.
# Region-b's clean queries (3 of 7 a round) keep the share over all clients
# just below 0.5, but shares are counted per client prefix too, and region-a's
# is 2/3 (README "Alerts"): the default thresholds raise.
lab_run dns-inject-inpath "${DA[@]}" --rounds 3 --recover 3
expect_alerts dns_injection@blocked.example:53/udp --resolved recovered

# the same block, declared: lawful and published (legal reference, severity 3)
lab_run http-blockpage-451 "${DA[@]}" --daemon-arg --declared --daemon-arg "$DECL" --rounds 2 --recover 3
expect_alerts http_blockpage@blocked.example:80/tcp --resolved recovered --declared "Lab court order 451/2026"

# ---- blackhole: dropped SYNs carry no name, so each server address and port
# is a target of its own: v4:443 gets 2 flows a round, v6:443 and v4:80 one.
# With 3 rounds, 3 flows is all the last two can have: blackhole_min_flows 3
# (the share, 0.8, and every other rule stay).  Retries by name count for
# blocked.example, not for the address: these incidents end by quiet, after
# resolve_after, lowered from 600 s to 12 s (a round takes ~9 s: no gap
# between two rounds may resolve it early).
with alerts.blackhole_min_flows=3 alerts.resolve_after=12
lab_run blackhole-syn "${R[@]}" --rounds 3 --recover 7
expect_alerts blackhole@203.0.113.10:443/tcp 'blackhole@[2001:db8:113::10]:443/tcp' blackhole@203.0.113.10:80/tcp \
  --resolved quiet

# in-path resets forge TTL and IP-ID perfectly but come back sooner than the
# server (30 ms away) could answer (rst_faster_than_rtt, README "Verdicts"):
# an RST after the HTTP request is rst_injection, after the ClientHello
# tls_interference, each its own target (port 80 and 443)
lab_run rst-inpath "${DA[@]}" --rounds 2 --recover 3
expect_alerts rst_injection@blocked.example:80/tcp tls_interference@blocked.example:443/tcp --resolved recovered
lab_run tls-reset "${DA[@]}" --rounds 2 --recover 3
expect_alerts tls_interference@blocked.example:443/tcp --resolved recovered

# ---- silence: verdicts at the timeout confidence (0.4), judged with the
# blackhole thresholds (5 flows, share 0.8 within a client prefix or region),
# whatever their method.  Region-a makes 3 HTTPS flows to the target a round
# (its /24 and its /48), region-b 2 answered ones: two rounds.  Silent flows
# end tcp_idle (4 s) after their last packet and are judged silence_hold
# (12 s) later: --recover 18.
# Silence after a ClientHello, other requests answered: tls_interference.
lab_run tls-drop "${DA[@]}" --rounds 2 --recover 18
verdicts_below tls_interference 0.5
expect_alerts tls_interference@blocked.example:443/tcp --resolved recovered
# after the handshake: the HTTPS flows' silence is judged with the HTTP
# probe's (the same server silent to plain HTTP too: README "Verdicts",
# cross_flow) and is blackhole, not tls_interference; the HTTP probe's own
# target (port 80) sees one silent flow a round, too few to raise.  The
# censor drops the request, so the server's TCP acknowledges nothing: the
# flows watched long enough after their request reach 0.55
lab_run blackhole-after-handshake "${DA[@]}" --rounds 2 --recover 18
verdicts_unacked
n=$(alerts_of tls_interference | grep -c '"event_type":"tamper"')
[ "$n" = 0 ] && ok "no tls_interference verdict (cross-flow: blackhole)" || bad "$n tls_interference verdicts"
expect_alerts blackhole@blocked.example:443/tcp --resolved recovered

# ---- benign look-alikes, with the same timeouts and every lowered threshold
for s in benign-baseline benign-client-abort benign-server-abort benign-closed-port \
         benign-idle-expiry benign-loss benign-congestion benign-cdn-dns; do
  with "${LOWERED[@]}"
  lab_run $s "${R[@]}"
  expect_alerts
done
finish
