#!/usr/bin/env bash
# The hub (tamperwatchd --hub, docs/hub.md) against a real nats-server with
# JetStream started here, fed by gateways that replay captures:
#  1. two sites of two networks replay the same blocking incident (one of
#     them with its clock seven minutes off): one national blocking alert,
#     naming both sites, networks and the method;
#  2. two sites of region north replay a shutdown: one multi-site shutdown
#     alert; a third north site that falls silent joins it (silent), it is
#     not a site outage;
#  2b. prefix summaries: the shutdown sites publish them; two sites of
#     region valley whose captures end 40 s into the cut (their detectors
#     have not raised yet) fall silent right after their summarized traffic
#     collapsed: one multi-site shutdown (sites_collapsed), no outage; a
#     lone hill site like them: a site outage that says its traffic
#     collapsed before the silence;
#  3. of two west sites that stay up, one is killed: a site outage, with
#     the other still reporting (no summaries: traffic unknown);
#  4. the hub killed (SIGKILL) and restarted: its durable consumer resumes
#     (it does not read the stream again), no alert is raised twice;
#  5. a fresh consumer reads every record of the stream exactly once;
#  and every line the hub wrote, and a publishing gateway's log, is valid
#  against the JSON Schema.  With TW_HUB_RECORDS=DIR, the hub's log and a
#  gateway's go to DIR too (the docs suite validates them with the rest).
# Runs in its own network namespace (unshare -n): loopback ports are ours.
cd "$(dirname "$0")/../.." || exit 1
. tests/outputs/nats_lib.sh
nats_own_netns "$0" "$@"
W=$(mktemp -d /tmp/tw-hub.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null; done; ns_cleanup; rm -rf "$W"' EXIT
python3 tests/replay/craft_alerts.py "$W/c" >/dev/null || fail craft
python3 tests/replay/craft_shutdown.py "$W/s" >/dev/null || fail craft_shutdown
python3 -c "import struct,sys; open(sys.argv[1],'wb').write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))" "$W/empty.pcap"
# a site whose clock is seven minutes ahead: the same capture, every time + 420 s
python3 - "$W/c/part1.pcap" "$W/skewed.pcap" <<'PY' || fail skew
import struct, sys
d = open(sys.argv[1], "rb").read(); out = bytearray(d[:24]); i = 24
while i + 16 <= len(d):
    s, us, incl, orig = struct.unpack_from("<IIII", d, i)
    out += struct.pack("<IIII", s + 420, us, incl, orig) + d[i + 16:i + 16 + incl]; i += 16 + incl
open(sys.argv[2], "wb").write(out)
PY
printf '198.51.100.0/24 north\n203.0.113.0/24 south\n2001:db8:a::/48 east\n' >"$W/regions.txt"
# craft_shutdown's week (8400 s) is the detector's period; a minute down raises
printf '[regions]\nfile = %s\n[shutdown]\nenabled = true\ninterval = 10\nperiod = 8400\nwarmup = 8400\nmin_duration = 60\nrecover = 60\nmin_clients = 2\n' \
  "$W/regions.txt" >"$W/shutdown.conf"
# valley and hill sites count only north's prefix and summarize every 20 s; their
# captures are the ten minutes before north's cut and its first 40 s
printf '198.51.100.0/24 north\n' >"$W/north.txt"
sed "s|^file = .*|file = $W/north.txt|" "$W/shutdown.conf" >"$W/valley.conf"
printf 'summary_interval = 20\n' >>"$W/valley.conf"
python3 - "$W/s/mid1.pcap" "$W/s/truth.json" "$W/cut40.pcap" <<'PY' || fail cut40
import json, struct, sys
d = open(sys.argv[1], "rb").read(); cut = json.load(open(sys.argv[2]))["cut"][0]
out = bytearray(d[:24]); i = 24
while i + 16 <= len(d):
    s, us, incl, orig = struct.unpack_from("<IIII", d, i)
    if s >= cut + 40:
        break
    if s >= cut - 600:
        out += d[i:i + 16 + incl]
    i += 16 + incl
open(sys.argv[3], "wb").write(out)
PY
PORT=14422
URL=nats://127.0.0.1:$PORT
ns_start n1 $PORT
gw() {  # NAME SITE NETWORK REGION tamperwatchd-arguments...
  local name=$1 site=$2 net=$3 region=$4; shift 4
  "$TW" --set nats.url=$URL --set nats.site="$site" --set nats.network="$net" --set nats.region="$region" --set nats.heartbeat=1 \
    --alerts "$W/$name.json" "$@" 2>"$W/$name.err" || fail "$name: exit $?"
}
HUB=
hub_start() {  # NAME [tamperwatchd arguments]
  local name=$1; shift
  "$TW" --hub --set nats.url=$URL --set hub.min_sites=2 --set hub.national_networks=2 --set hub.site_timeout=5 \
    --set hub.collapse_min_packets=10 \
    --state "$W/hubstate" --alerts "$W/hub.json" "$@" 2>>"$W/$name.err" &
  HUB=$!; PIDS+=($HUB)
  wait_for 10 "grep -q 'consuming' '$W/$name.err'" || fail "hub $name did not start"
}
alerts() {  # python expression over A (the hub's alert lines) that must hold, within 20 s
  wait_for 20 "python3 - '$W/hub.json' \"\$1\" <<'PY'
import json, sys
A = [json.loads(l) for l in open(sys.argv[1])] if __import__('os').path.exists(sys.argv[1]) else []
sys.exit(0 if eval(sys.argv[2]) else 1)
PY" || { cat "$W/hub.json" >&2; fail "hub alerts: $1"; }
}
hub_start hub1

# ---- 1. national blocking, one site's clock off ---------------------------
gw a1 isp-a AS64501 east --events --replay "$W/c/part1.pcap" --state "$W/sa"
gw b1 isp-b AS64502 east --events --replay "$W/skewed.pcap" --state "$W/sb"
alerts 'any(a["alert"]["category"] == "blocking" and a["alert"]["state"] in ("raised", "updated") and a["censorship"]["extent"] == "national" and a["scope"]["sites"] == ["isp-a", "isp-b"] and a["scope"]["networks"] == ["AS64501", "AS64502"] and a["censorship"]["method"] == "rst_injection" and a["target"]["domain"] == "blocked.example" and a["alert"]["signature_id"] == 2801 for a in A)'
ok "the same target blocked at two sites of two networks: national blocking (one site's clock 7 min off)"

# ---- 2. multi-site shutdown; a silent site of the region joins it --------
gw s1 north-1 AS64511 north -c "$W/shutdown.conf" --events --replay "$W/s/mid1.pcap" --state "$W/s1"
gw s2 north-2 AS64512 north -c "$W/shutdown.conf" --events --replay "$W/s/mid1.pcap" --state "$W/s2"
gw s3 north-3 AS64513 north --events --replay "$W/empty.pcap"
alerts 'any(a["alert"]["category"] == "shutdown" and a["scope"]["region"] == "north" and a["scope"]["sites"] == ["north-1", "north-2"] and a["alert"]["signature_id"] == 2804 for a in A)'
ok "two sites of north in shutdown: one multi-site shutdown alert"

# ---- 2b. silent right after the traffic collapsed ---------------------------
gw v1 valley-1 AS64521 valley -c "$W/valley.conf" --events --replay "$W/cut40.pcap"
gw v2 valley-2 AS64522 valley -c "$W/valley.conf" --events --replay "$W/cut40.pcap"
gw h1 hill-1 AS64531 hill -c "$W/valley.conf" --events --replay "$W/cut40.pcap"
! grep -q '"event_type":"alert"' "$W/v1.json" || fail "valley-1 raised an alert of its own: the capture is too long"
python3 - "$W/v1.json" <<'PY' || fail "valley-1's summaries"
import json, sys
S = [json.loads(l)["prefix_summary"] for l in open(sys.argv[1]) if '"prefix_summary"' in l]
assert len(S) > 10 and S[-1]["packets"] == 0 and S[-3]["packets"] > 10, [s["packets"] for s in S[-4:]]
PY
alerts 'any(a["alert"]["category"] == "shutdown" and a["scope"]["region"] == "valley" and a["scope"]["sites_collapsed"] == ["valley-1", "valley-2"] and a["stats"]["sites_in_shutdown"] == 0 and a["first_seen"] is not None for a in A)'
alerts 'any(a["alert"]["category"] == "site_outage" and a["scope"]["sites"] == ["hill-1"] and a["stats"]["traffic_before_silence"] == "collapsed" for a in A)'
ok "silent right after their summarized traffic collapsed: two valley sites make a shutdown, a lone hill site an outage that says so"

# ---- 3. a site outage, told apart by what the others see ------------------
"$TW" --events --replay <(sleep 60; cat "$W/empty.pcap") --set nats.url=$URL --set nats.site=west-1 --set nats.region=west \
  --set nats.heartbeat=1 --alerts "$W/w1.json" 2>"$W/w1.err" & W1=$!; PIDS+=($W1)
"$TW" --events --replay <(sleep 60; cat "$W/empty.pcap") --set nats.url=$URL --set nats.site=west-2 --set nats.region=west \
  --set nats.heartbeat=1 --alerts "$W/w2.json" 2>"$W/w2.err" & W2=$!; PIDS+=($W2)
sleep 3
kill -9 $W1
alerts 'any(a["alert"]["category"] == "site_outage" and a["scope"]["sites"] == ["west-1"] and a["stats"]["region_sites_reporting"] == 1 and a["stats"]["traffic_before_silence"] == "unknown" for a in A)'
alerts 'any(a["alert"]["category"] == "shutdown" and a["scope"]["region"] == "north" and a["scope"]["sites_silent"] == ["north-3"] for a in A)'
python3 - "$W/hub.json" <<'PY' || fail "site outages"
import json, sys
A = [json.loads(l) for l in open(sys.argv[1])]
out = {a["scope"]["sites"][0] for a in A if a["alert"]["category"] == "site_outage"}
assert "west-2" not in out and not out & {"north-1", "north-2", "north-3", "valley-1", "valley-2"}, out
PY
ok "a killed site with its neighbour reporting: site outage; a silent site in a shutdown region: part of the shutdown"

# ---- 4. the hub killed and restarted ------------------------------------
kill -9 $HUB; wait $HUB 2>/dev/null
N1=$(wc -l <"$W/hub.json")
hub_start hub2 --metrics 127.0.0.1:19466
grep -q "state restored" "$W/hub2.err" || fail "hub state not restored: $(cat "$W/hub2.err")"
wait_for 30 'curl -sf http://127.0.0.1:19466/metrics | grep -q "^tamperwatch_hub_sites 10$"' \
  || fail "hub metrics: $(curl -sf http://127.0.0.1:19466/metrics | grep hub_)"
gw a2 isp-a AS64501 east --events --replay "$W/c/part2.pcap" --state "$W/sa"
gw b2 isp-b AS64502 east --events --replay "$W/c/part2.pcap" --state "$W/sb"
alerts 'any(a["alert"]["category"] == "blocking" and a["alert"]["state"] == "resolved" for a in A)'
sleep 2
kill -TERM $HUB; wait $HUB
python3 - "$W/hub.json" "$N1" <<'PY' || fail "duplicate alerts after the hub's restart"
import json, sys
A = [json.loads(l) for l in open(sys.argv[1])]
raised = [a["alert"]["id"] for a in A if a["alert"]["state"] == "raised"]
assert len(raised) == len(set(raised)), raised
keys = [(a["alert"]["id"], a["alert"]["state"], json.dumps(a["scope"], sort_keys=True), a["alert"]["signature"]) for a in A]
dup = [k for k in set(keys) if keys.count(k) > 1 and k[1] != "updated"]
assert not dup, dup
b = [a for a in A if a["alert"]["category"] == "blocking"]
assert [a["alert"]["state"] for a in b][-1] == "resolved", [a["alert"]["state"] for a in b]
print(len(A), "alert lines,", len(raised), "raised, none twice")
PY
TOTAL=$(dump $PORT | wc -l)
R2=$(sed -n 's/.*stopped: \([0-9]*\) records received.*/\1/p' "$W/hub2.err")
[ -n "$R2" ] && [ "$R2" -lt "$TOTAL" ] || fail "the restarted hub read $R2 of $TOTAL records: the durable consumer did not resume"
ok "hub killed and restarted: resumed ($R2 of $TOTAL records read after), no alert raised twice"

# ---- 5. every record once ---------------------------------------------------
kill -9 $W2 2>/dev/null
"$TW" --hub --set nats.url=$URL --set hub.durable=audit --alerts "$W/audit.json" 2>"$W/audit.err" & A=$!; PIDS+=($A)
TOTAL=$(dump $PORT | wc -l)
sleep 4; kill -TERM $A; wait $A
grep -q "stopped: $TOTAL records received, 0 duplicates dropped, 0 malformed" "$W/audit.err" \
  || fail "audit consumer: $(tail -1 "$W/audit.err") (stream: $TOTAL)"
ok "a fresh consumer: all $TOTAL records of the stream, each once, none malformed"

python3 - docs/schema/tamperwatch.schema.json "$W/hub.json" "$W/a1.json" <<'PY' || fail "records against the schema"
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
for path in sys.argv[2:]:
    for n, l in enumerate(open(path), 1):
        errs = list(v.iter_errors(json.loads(l)))
        assert not errs, "%s:%d: %s" % (path, n, errs[0].message[:300])
print("hub and gateway records valid")
PY
if [ -n "${TW_HUB_RECORDS:-}" ]; then
  cp "$W/hub.json" "$TW_HUB_RECORDS/hub.json" && cp "$W/a1.json" "$TW_HUB_RECORDS/nats-gateway.json" || fail "copy records"
fi
ok "the hub's alerts and a publishing gateway's records are valid against the JSON Schema"
