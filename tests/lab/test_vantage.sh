#!/usr/bin/env bash
# One vantage point (docs/configuration.md "Vantage points", docs/lab.md "A
# vantage point"): tamperwatchd runs on the client host itself (tw-c1, TC
# ingress+egress on its own c1-gw, as on a researcher's machine), and only
# that host's traffic exists: ONE client address, four censors at once, each
# on its own target (on-path RST on blocked.example's Host, an in-path 451
# block page on news.example, SYN blackholing of social.example, on-path DNS
# forgery of media.example), and controls fetched normally every round
# (allowed.example and bulk.example over HTTP and HTTPS, a clean DNS lookup).
#
# With deployment.profile = vantage: exactly one raised alert per blocked
# target with the right method, none for the controls
# (tests/lab/alert_check.py: any other alert fails).
# With deployment.profile = gateway, the same traffic: the silence (SYN
# blackholing) needs two client prefixes on a gateway (alerts.
# blackhole_min_prefixes = 2: one client's broken network is no censorship
# there), so social.example raises nothing; a forged packet (RST, block
# page, DNS answer) is evidence of a censor whoever is the client, and
# alerts from one prefix under both profiles (alerts.min_prefixes = 1).
# Thresholds are the defaults (3 tampered flows, 5 for a silence); only the
# flow timeouts are short, so that the run's flows end within it.
. "$(dirname "$0")/lib.sh"
lab_up

DA=(--detector tc --detector-ns c1 --ifaces c1-gw --rounds 6)
for a in flows.tcp_closed=1 flows.tcp_idle=4 flows.udp_idle=2; do DA+=(--daemon-arg --set --daemon-arg "$a"); done
HOLE=203.0.113.15   # social.example: a dropped SYN has no name, its server address is the target

# run_checks PROFILE: where the detector ran, what it watched, nothing seen
# one way because of the attachment, the vantage's flows all judged
run_checks() {
  local log=$RUN_DIR/detector.log
  grep -q "^tamperwatchd: watching c1-gw (tc clsact ingress+egress)" "$log" &&
    ok "$1: the detector watched c1-gw in the client namespace with TC" ||
    bad "$1: detector.log: $(head -c 400 "$log")"
  local r
  r=$("$PY" - "$RUN_DIR/alerts.json" <<'PYEOF'
import json, sys
st = [json.loads(l) for l in open(sys.argv[1]) if '"event_type":"stats"' in l]
s = st[-1]["stats"] if st else {}
flows = sum(1 for l in open(sys.argv[1]) if '"event_type":"flow"' in l)
print(s.get("flows_one_way_attachment", -1), s.get("flows_one_way", -1), flows)
PYEOF
)
  set -- "$1" $r
  [ "$2" = 0 ] && [ "${4:-0}" -gt 40 ] && ok "$1: $4 flows, none one way because of the attachment ($3 one way on the path)" ||
    bad "$1: flows_one_way_attachment $2, flows $4"
}

BASE=$LAB_OUT
LAB_OUT=$BASE/vantage lab_run vantage-mixed "${DA[@]}" --daemon-arg --profile --daemon-arg vantage
run_checks vantage
expect_alerts rst_injection@blocked.example:80/tcp http_blockpage@news.example:80/tcp \
  dns_injection@media.example:53/udp "blackhole@$HOLE:443/tcp"

LAB_OUT=$BASE/gateway lab_run vantage-mixed "${DA[@]}" --daemon-arg --profile --daemon-arg gateway
run_checks gateway
# the same blackhole verdicts as with the vantage profile, and no alert of them
n=$(alerts_of blackhole | grep -c '"event_type":"tamper"')
[ "$n" -ge 5 ] && ok "gateway: $n blackhole verdicts on $HOLE" || bad "gateway: $n blackhole verdicts, want 5 or more"
expect_alerts rst_injection@blocked.example:80/tcp http_blockpage@news.example:80/tcp \
  dns_injection@media.example:53/udp
finish
