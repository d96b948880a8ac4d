#!/usr/bin/env bash
# Alerts to a real Prometheus Alertmanager (README "Alertmanager"), whose
# receiver is a webhook served by this test:
#  1. the crafted incident replayed in one run: the alert reaches
#     Alertmanager resolved, nothing stays active; with a second, dead
#     cluster member the live one still gets everything;
#  2. split across two runs with --state: the raised alert is active in
#     Alertmanager with the right labels and annotations and notified; with
#     Alertmanager stopped the resolution is not delivered, counted and
#     spooled; after Alertmanager restarts, the next run delivers it once
#     (resolved, nothing firing again, nothing duplicated);
#  3. a corrupt spool is set aside and reported, the run goes on;
#  4. live (BPF, on an idle veth): an open alert is re-sent every
#     resend_interval, so it is back in a restarted Alertmanager without a
#     new alert line; SIGTERM drains and keeps it in the spool;
#  and no client address reaches Alertmanager or the webhook.
# Runs in its own network namespace (unshare -n): loopback ports are ours.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/alertmanager.sh
AM=/usr/bin/prometheus-alertmanager
[ -x "$AM" ] || { echo "prometheus-alertmanager not installed (scripts/install-deps.sh)"; exit 77; }
if [ "${TW_AM_INNER:-}" != 1 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "needs root (a private network namespace)"; exit 77; }
  TW_AM_INNER=1 exec unshare -n -- bash "$0" "$@"
fi
ip link set lo up || exit 1
TW=${TW:-build/tamperwatchd}
W=$(mktemp -d /tmp/tw-am.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$W"/am*.log; do [ -f "$f" ] && tail -n 5 "$f" >&2; done; exit 1; }
python3 tests/replay/craft_alerts.py "$W/c" || fail craft
python3 -c "import struct,sys; open(sys.argv[1],'wb').write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))" "$W/empty.pcap"

AMPORT=19093 HOOKPORT=19094
BASE=http://127.0.0.1:$AMPORT

# the webhook receiver: every notification body, one per line
cat >"$W/hook.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        with open(sys.argv[2], "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$W/hook.py" $HOOKPORT "$W/hook.jsonl" & PIDS+=($!)

am_config "$W/am.yml" $HOOKPORT
AMPID=
am_start() {
  "$AM" --config.file="$W/am.yml" --storage.path="$W/amdata" --web.listen-address=127.0.0.1:$AMPORT \
    --cluster.listen-address= >>"$W/am$1.log" 2>&1 &
  AMPID=$!; PIDS+=($AMPID)
  for _ in $(seq 100); do curl -sf "$BASE/-/ready" >/dev/null && return 0; sleep 0.1; done
  fail "alertmanager did not become ready"
}
am_stop() { kill "$AMPID"; wait "$AMPID" 2>/dev/null; AMPID=; }
received() {  # alertmanager_alerts_received_total{status=$1,version="v2"} of the running Alertmanager
  curl -sf "$BASE/metrics" | awk -v s="$1" '$1 == "alertmanager_alerts_received_total{status=\""s"\",version=\"v2\"}" {print $2}'
}
LABELS='alertmanager.labels=site=gw-test, instance=tw-test'
run() {  # name, then tamperwatchd arguments
  local name=$1; shift
  "$TW" "$@" --alertmanager "$BASE" --set "$LABELS" --alerts "$W/$name.json" 2>"$W/$name.err" \
    || fail "$name: exit $?: $(cat "$W/$name.err")"
}
am_stats() {  # name, python assertion over s (the final stats' "alertmanager" object)
  python3 - "$W/$1.json" "$2" "$1" <<'PY' || fail "$1: stats"
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
s = [x for x in L if x["event_type"] == "stats" and x["final"]][-1]["stats"]["alertmanager"]
print(sys.argv[3], {k: v for k, v in s.items() if v})
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}
alert_id() { python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"event_type\":\"alert\"" in l][0]["alert"]["id"])' "$W/$1.json"; }
wait_for() {  # seconds, shell condition
  local i; for i in $(seq $(( $1 * 5 ))); do eval "$2" && return 0; sleep 0.2; done; return 1
}
hook_has() {  # status alert_id: a webhook notification with this alert in this status
  python3 - "$W/hook.jsonl" "$1" "$2" <<'PY'
import json, sys
try: lines = open(sys.argv[1]).read().splitlines()
except FileNotFoundError: sys.exit(1)
sys.exit(0 if any(a["status"] == sys.argv[2] and a["labels"].get("alert_id") == sys.argv[3]
                  for l in lines for a in json.loads(l)["alerts"]) else 1)
PY
}
active() { curl -sf "$BASE/api/v2/alerts" | tee -a "$W/api.log"; }

# ---- 0. configuration errors name the file, line and key -----------------
printf '[alertmanager]\nurl = http://127.0.0.1:1\nlabels = site=gw-1, bad-name=x\n' >"$W/bad.conf"
"$TW" --check-config -c "$W/bad.conf" 2>"$W/bad.err"; rc=$?
[ $rc = 2 ] && grep -q "bad.conf:3: alertmanager.labels: 'bad-name'" "$W/bad.err" || fail "bad labels: rc $rc: $(cat "$W/bad.err")"
"$TW" --check-config --alertmanager ftp://x 2>"$W/bad2.err"; rc=$?
[ $rc = 2 ] && grep -q "alertmanager.url" "$W/bad2.err" || fail "bad url: rc $rc: $(cat "$W/bad2.err")"
"$TW" --check-config --set alertmanager.resend_interval=0 2>"$W/bad3.err"; rc=$?
[ $rc = 2 ] && grep -q "alertmanager.resend_interval" "$W/bad3.err" || fail "bad interval: rc $rc: $(cat "$W/bad3.err")"
echo "ok: bad configuration refused with file, line and key"

# ---- 1. one run: raised and resolved -----------------------------------
am_start 1
run whole --events --replay "$W/c/incident.pcap"
am_stats whole 's["delivered"] >= 1 and s["pending"] == 0 and s["queue"] == 0 and s["dropped"] == 0 and s["alerts"] >= 2'
[ "$(received resolved)" = 1 ] || fail "whole: Alertmanager did not receive the resolution ($(received resolved))"
[ "$(active)" = "[]" ] || fail "whole: alert still active in Alertmanager"
echo "ok: one run: resolved alert delivered, nothing left active"
# a cluster with one member down: the other gets everything, without --state
# what the dead one did not get is lost at exit and counted
"$TW" --events --replay "$W/c/incident.pcap" --alertmanager "$BASE,http://127.0.0.1:19095" --set alertmanager.drain_timeout=1 \
  --alerts "$W/cluster.json" 2>"$W/cluster.err" || fail "cluster: exit $?: $(cat "$W/cluster.err")"
am_stats cluster 's["urls"] == 2 and s["urls_down"] == 1 and s["delivered"] >= 1 and s["pending"] == 1 and s["dropped_at_exit"] == 1 and s["dropped"] == 1'
[ "$(received resolved)" = 2 ] || fail "cluster: the live member did not get the resolution"
grep -q "lost (no --state" "$W/cluster.err" || fail "cluster: loss not reported: $(cat "$W/cluster.err")"
echo "ok: cluster: one member down does not hold the other back; the loss without --state is counted"
am_stop

# ---- 2. two runs, Alertmanager down for the second ------------------------
rm -rf "$W/amdata"; am_start 2
S=$W/state
run half1 --events --replay "$W/c/part1.pcap" --state "$S"
am_stats half1 's["delivered"] == 1 and s["open"] == 1 and s["pending"] == 0 and s["dropped"] == 0'
ID=$(alert_id half1)
SIG=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"event_type\":\"alert\"" in l][0]["alert"]["signature"])' "$W/half1.json")
active >"$W/half1.api"
python3 - "$W/half1.api" "$ID" "$SIG" <<'PY' || fail "half1: alert in Alertmanager"
import json, sys, datetime
A = json.load(open(sys.argv[1]))
assert len(A) == 1, A
a = A[0]
assert a["labels"] == {"alertname": "TamperwatchBlocking", "method": "rst_injection", "category": "blocking",
                       "legitimacy": "undeclared", "severity": "critical", "target": "blocked.example",
                       "alert_id": sys.argv[2], "site": "gw-test", "instance": "tw-test"}, a["labels"]
n = a["annotations"]
assert n["summary"] == sys.argv[3], n
assert "3 of 3 flows affected" in n["description"] and "3 client prefixes" in n["description"], n
assert sorted(n["scope_prefixes"].split(", ")) == ["100.64.1.0/24", "192.0.2.0/24", "198.51.100.0/24"], n
assert n["state"] == "raised" and n["first_seen"].startswith("2023-11-14T22:13:20"), n
assert a["startsAt"].startswith("2023-11-14T22:13:20.036"), a["startsAt"]
ends = datetime.datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00"))
assert ends > datetime.datetime.now(datetime.timezone.utc), a["endsAt"]
assert a["status"]["state"] == "active", a
print("half1: active in Alertmanager:", a["labels"]["alert_id"], a["endsAt"])
PY
wait_for 20 'hook_has firing $ID' || fail "half1: no firing notification reached the webhook"
echo "ok: raised alert active in Alertmanager with its labels and annotations, notified"

am_stop
run half2 --events --replay "$W/c/part2.pcap" --state "$S" --set alertmanager.drain_timeout=1
am_stats half2 's["delivered"] == 0 and s["request_failures"] >= 1 and s["pending"] == 1 and s["urls_down"] == 1 and s["dropped"] == 0'
grep -q "kept in $S/alertmanager.spool" "$W/half2.err" || fail "half2: spooling not reported: $(cat "$W/half2.err")"
[ -s "$S/alertmanager.spool" ] || fail "half2: no spool"
grep -q '"state":"resolved"' "$W/half2.json" || fail "half2: no resolution written"
echo "ok: Alertmanager down: resolution not delivered, counted, spooled"

am_start 3
[ "$(active)" = "[]" ] || fail "restarted Alertmanager already has alerts"
run after --events --replay "$W/empty.pcap" --state "$S"
am_stats after 's["spool_loaded"] == 1 and s["delivered"] == 1 and s["pending"] == 0 and s["queue"] == 0 and s["dropped"] == 0'
[ "$(received resolved)" = 1 ] && [ "$(received firing)" = 0 ] \
  || fail "after: Alertmanager received resolved=$(received resolved) firing=$(received firing), want 1 and 0"
[ "$(active)" = "[]" ] || fail "after: alert active after its resolution"
run again --events --replay "$W/empty.pcap" --state "$S"
am_stats again 's["requests"] == 0 and s["queue"] == 0 and s["spool_loaded"] == 0'
[ "$(received resolved)" = 1 ] || fail "again: resolution sent twice"
echo "ok: after the restart the spooled resolution is delivered once, nothing fires again"

# ---- 3. a corrupt spool -------------------------------------------------
printf 'TWSTATE garbage' >"$S/alertmanager.spool"
run corrupt --events --replay "$W/empty.pcap" --state "$S"
grep -q "moved aside" "$W/corrupt.err" || fail "corrupt spool not reported: $(cat "$W/corrupt.err")"
ls "$S"/alertmanager.spool.corrupt-* >/dev/null 2>&1 || fail "corrupt spool not set aside"
am_stats corrupt 's["spool_set_aside"] == 1'
echo "ok: corrupt spool set aside and reported"

# ---- 4. live: re-sends of an open alert ---------------------------------
# the spool of a run that left the alert open, without the aggregation state
# (live, the capture's 2023 incident would resolve as quiet at once)
run open1 --events --replay "$W/c/part1.pcap" --state "$W/state1"
ID2=$(alert_id open1)
S2=$W/state2; mkdir -p "$S2"; cp "$W/state1/alertmanager.spool" "$S2/"
if ip link add twam0 type veth peer name twam1 2>/dev/null && ip link set twam0 up && ip link set twam1 up &&
   [ -r /sys/kernel/btf/vmlinux ]; then
  "$TW" -i twam0 --control "$W/live.sock" --state "$S2" --alertmanager "$BASE" --set "$LABELS" --set alertmanager.resend_interval=1 \
    --alerts "$W/live.json" 2>"$W/live.err" & LIVE=$!; PIDS+=($LIVE)
  R0=$(received firing)
  wait_for 20 '[ "$(received firing)" -ge $((R0 + 3)) ]' || fail "live: open alert not re-sent ($(received firing)): $(cat "$W/live.err")"
  am_stop; am_start 4
  wait_for 20 'active | grep -q "\"alert_id\":\"$ID2\""' || fail "live: alert not back in the restarted Alertmanager"
  kill -TERM $LIVE; wait $LIVE; rc=$?
  [ $rc = 0 ] || fail "live: exit $rc: $(cat "$W/live.err")"
  am_stats live 's["resent"] >= 3 and s["open"] == 1 and s["pending"] == 0 and s["dropped"] == 0'
  echo "ok: live: open alert re-sent every resend_interval, back in a restarted Alertmanager"
else
  echo "live part not run: no veth or BTF"
fi

# ---- privacy --------------------------------------------------------------
for c in 198.51.100.7 192.0.2.44 100.64.1.9; do
  ! grep -qF "$c" "$W/api.log" "$W/hook.jsonl" "$W"/half1.api || fail "client address $c reached Alertmanager"
done
[ -s "$W/hook.jsonl" ] && [ -s "$W/api.log" ] || fail "nothing to scan for client addresses"
echo "ok: no client address in anything Alertmanager received or sent"
