#!/usr/bin/env bash
# Region-wide throttling (docs/alerts.md "Region-wide throttling") on the
# crafted capture of tests/replay/craft_throttle_region.py: region north
# downloads from four sites at 4 Mbit/s, then every download towards it is
# policed to 400 kbit/s while region south keeps 4 Mbit/s.  One alert
# (signature 2010) for north with the rate within 20 %, towards the clients,
# the four sites, north's first round and south's flows as yardsticks, no
# client address; nothing about south; with region_throttling.enabled=no,
# none (and no stats section).  A region policed-looking from the
# start (slow links: no drop against its own past) raises none either.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
W=$(mktemp -d /tmp/tw-rthr.XXXXXX) || { echo "FAIL: mktemp" >&2; exit 1; }; trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 tests/replay/craft_throttle_region.py "$W" || fail craft

run() {  # name, assertion over R (region throttling alert lines), then tamperwatchd arguments
  local name=$1 expr=$2; shift 2
  "$TW" --set regions.file="$W/regions.txt" "$@" --alerts "$W/$name.json" \
    2>"$W/$name.err" || fail "$name: exit $?: $(cat "$W/$name.err")"
  python3 - "$W/$name.json" "$expr" "$name" <<'PY' || fail "$name"
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
A = [x for x in L if x["event_type"] == "alert"]
R = [a for a in A if a["alert"]["signature_id"] == 2010]
st = [x for x in L if x["event_type"] == "stats"][-1]["stats"].get("region_throttling")
for a in A:
    txt = json.dumps(a)
    for c in ("198.51.100.7", "198.18.0.9", "192.0.2.44", "192.0.2.45"):
        assert c not in txt, ("client address in an alert", c, a)
    assert a["scope"].get("region") != "south", ("south named", a)
exec(sys.argv[2])
print(f"{sys.argv[3]}: {[(a['alert']['state'], a['alert']['id'], a['stats']['rate_bps'], a['stats']['affected_flows']) for a in R]}; stats {st}")
PY
}

run region '
assert [a["alert"]["state"] for a in R] == ["raised"], [a["alert"]["state"] for a in R]
a = R[0]
s, sc = a["stats"], a["scope"]
assert a["alert"]["category"] == "throttling" and a["censorship"]["method"] == "throttling", a
assert sc == {"level": "region", "prefixes": ["198.51.100.0/24", "198.18.0.0/24"], "region": "north", "asn": 64500}, sc
assert abs(s["rate_bps"] - 400000) <= 80000, s
assert s["directions"] == ["to_client"] and s["variant"] == "policing", s
assert s["targets"] == 4 and sorted(a["targets"]) == ["site%d.example" % i for i in (1, 2, 3, 4)], a["targets"]
assert s["affected_flows"] == 8 and s["ratio"] == 1.0, s
assert s["baseline"]["flows"] == 4 and s["baseline"]["speedup"] >= 3, s
assert s["control"]["flows"] >= 4 and s["control"]["speedup"] >= 3, s
assert a["target"] is None and len(a["evidence"]["flow_ids"]) == 8, a
assert st["raised"] == 1 and st["open"] == 1 and st["groups"] == 2, st
' --replay "$W/region.pcap"
run region-off 'assert not R and st is None, (R, st)' --replay "$W/region.pcap" --set region_throttling.enabled=no
run slow 'assert not R, R' --replay "$W/slow.pcap"
echo "ok: region-wide throttling alerted on the policed region only"
