#!/usr/bin/env bash
# output.types (docs/configuration.md): on real replays (crafted incident and
# verdict captures, and a corpus capture of an ISP's DNS hijack), each record
# type alone writes exactly its records of the full run and nothing else;
# the final stats record counts every record left out (lines_not_selected);
# the gateway group writes no per-packet event; --events adds them back;
# replay's default is the gateway set, as live, and --events alone gives
# every type; a bad list is refused naming the key.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
W=$(mktemp -d /tmp/tw-types.XXXXXX); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 tests/replay/craft_alerts.py "$W/a" >/dev/null || fail craft_alerts
python3 tests/replay/craft.py "$W/c" >/dev/null || fail craft
HIJACK=../shared/corpus/chrissanders__packets/dns_isp_hijack.pcapng
[ -r "$HIJACK" ] || fail "corpus capture $HIJACK missing"
TYPES="handshake payload rst data_after_rst fin dns flow flow_rate tamper redirect alert stats link gap"

check() {  # python over the runs of one capture: all, default, --events, one file per type
  python3 - "$W" "$1" "$TYPES" <<'PY'
import json, sys, os
w, cap, types = sys.argv[1], sys.argv[2], sys.argv[3].split()
def load(n): return [json.loads(l) for l in open(os.path.join(w, f"{cap}.{n}.json"))]
def kinds(L): return [x["event_type"] for x in L]
allr = load("all")
assert kinds(load("events")) == kinds(allr), "--events alone does not give every type"
final = allr[-1]
assert final["event_type"] == "stats" and final["final"] and final["stats"]["lines_not_selected"] == 0, final
seen = {t: kinds(allr).count(t) for t in types}
for t in types:
    L = load(t)
    assert all(k == t for k in kinds(L)), (t, set(kinds(L)))
    assert len(L) == seen[t], (t, len(L), seen[t])
    S = [x for x in load(t + "_stats") if x["event_type"] == "stats"]
    n = len(load(t + "_stats"))
    assert S[-1]["final"] and S[-1]["stats"]["lines_not_selected"] == len(allr) - n, (t, S[-1]["stats"]["lines_not_selected"], len(allr), n)
gw = load("gateway")
ev = {"handshake", "payload", "rst", "data_after_rst", "fin", "dns", "flow", "flow_rate"}
assert not ev & set(kinds(gw)), set(kinds(gw))
assert kinds(gw) == [k for k in kinds(allr) if k not in ev], "gateway set differs from the full run without events"
assert kinds(load("gateway_events")) == kinds(allr), "--events does not restore every event"
dflt = load("default")
assert kinds(dflt) == kinds(gw), "the default replay run is not the gateway set"
assert dflt[-1]["stats"]["lines_not_selected"] == len(allr) - len(dflt), dflt[-1]["stats"]
on = {t for t in types if seen[t]}
print(f"{cap}: {len(allr)} records, types {sorted(on)}; gateway set {len(gw)} records")
PY
}

for cap in "$W/a/incident.pcap" "$W/c/good.pcap" "$HIJACK"; do
  n=$(basename "$cap"); n=${n%%.*}
  "$TW" --replay "$cap" --alerts "$W/$n.default.json" 2>"$W/err" || fail "$n: $(cat "$W/err")"
  "$TW" --replay "$cap" --set output.types=all --alerts "$W/$n.all.json" 2>"$W/err" || fail "$n all: $(cat "$W/err")"
  "$TW" --replay "$cap" --events --alerts "$W/$n.events.json" 2>"$W/err" || fail "$n --events: $(cat "$W/err")"
  "$TW" --replay "$cap" --set output.types=gateway --alerts "$W/$n.gateway.json" 2>"$W/err" || fail "$n gateway"
  "$TW" --replay "$cap" --set output.types=gateway --events --alerts "$W/$n.gateway_events.json" 2>"$W/err" ||
    fail "$n gateway --events"
  for t in $TYPES; do
    "$TW" --replay "$cap" --set output.types="$t" --alerts "$W/$n.$t.json" 2>"$W/err" || fail "$n $t: $(cat "$W/err")"
    "$TW" --replay "$cap" --set "output.types= $t , stats" --alerts "$W/$n.${t}_stats.json" 2>"$W/err" ||
      fail "$n $t,stats: $(cat "$W/err")"
  done
  check "$n" || fail "$n"
done
# the three captures between them write every kind of record a replay can make
cat "$W"/*.all.json | python3 -c '
import json,sys; k={json.loads(l)["event_type"] for l in sys.stdin}
need={"handshake","payload","rst","data_after_rst","fin","dns","flow","tamper","redirect","alert","stats"}
assert need <= k, need - k' || fail "some record type never appears: the test would not see it filtered"

out=$("$TW" --check-config --set output.types=alert,bogus 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"output.types"*"unknown type 'bogus'"* ]] || fail "bad type: rc=$rc: $out"
printf '[output]\ntypes = alert,,stats\n' >"$W/bad.conf"
out=$("$TW" --check-config -c "$W/bad.conf" 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"bad.conf:2:"*"empty type"* ]] || fail "empty item: rc=$rc: $out"
echo "ok: output types"
