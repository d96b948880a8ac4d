#!/usr/bin/env bash
# Region-wide throttling (docs/alerts.md "Region-wide throttling"): both
# regions first download from four sites at full speed; then every TCP flow
# towards region-a is policed to 400 kbit/s whatever the site, and both
# regions download from the same four sites again.  The detector (the lab's
# regions file) must raise one region-wide throttling alert for region-a
# with the policer's rate within 20 %, towards the clients, naming the four
# sites, with the region's own first round and region-b's flows as the
# yardsticks, at least 3 times faster; and nothing about region-b.  The lab
# has 8 policed downloads, some too short for the classifier on a loaded
# machine: region_throttling.min_flows 4 (the default is 6).
. "$(dirname "$0")/lib.sh"
lab_up
mkdir -p "$LAB_OUT"
printf '%s\n' "# lab client networks" "198.51.100.0/24 region-a" "2001:db8:a::/48 region-a" \
  "192.0.2.0/24    region-b" "2001:db8:b::/48 region-b" > "$LAB_OUT/regions.txt"
RATE=400000
# the detector stays 8 s after the clients: the policed flows' end records
# (and the alert they complete) come about 5 s after their last packet
export TW_LAB_DETECTOR_GRACE=8
RT=(--daemon-arg --set --daemon-arg region_throttling.min_flows=4)
lab_run throttle-region --duration 6 --daemon-arg --set --daemon-arg "regions.file=$LAB_OUT/regions.txt" "${RT[@]}"
unset TW_LAB_DETECTOR_GRACE

for h in news.example social.example allowed.example bulk.example; do
  # the first round: 12 downloads at once on two shared cores, each well above the policer
  assert_ge "c1-before-$h rate (bit/s)" "$(rate_bps c1-before-$h)" $(( RATE * 10 ))
  r=$(rate_bps c1-during-$h)
  assert_le "c1-during-$h rate (bit/s)" "$r" $(( RATE * 3 / 2 ))
  assert_ge "c1-during-$h rate (bit/s)" "$r" $(( RATE / 2 ))   # throttled, not blocked
  assert_ge "c2-during-$h rate (bit/s)" "$(rate_bps c2-during-$h)" $(( RATE * 10 ))
done
grep -q "limit rate over $(( RATE / 8 )) bytes/second" "$RUN_DIR/censor-state.txt" && ok "nft policer was active" \
  || bad "no nft policer in censor state"

if out=$("$PY" - "$RUN_DIR/alerts.json" "$RATE" <<'PY' 2>&1
import json, sys
path, rate = sys.argv[1], float(sys.argv[2])
A = [json.loads(l) for l in open(path) if '"event_type":"alert"' in l]
R = [a for a in A if a["alert"]["state"] == "raised"]
reg = [a for a in R if a["alert"]["signature_id"] == 2010]
assert len(reg) == 1, "want one region-wide throttling alert, got %s" % [(a["scope"], a["stats"]) for a in reg]
a = reg[0]
s, sc = a["stats"], a["scope"]
assert a["alert"]["category"] == "throttling" and a["censorship"]["method"] == "throttling", a["alert"]
assert sc["level"] == "region" and sc["region"] == "region-a", sc
assert set(sc["prefixes"]) <= {"198.51.100.0/24", "2001:db8:a::/48"} and sc["prefixes"], sc
assert abs(s["rate_bps"] - rate) <= 0.2 * rate, "rate %s, policer %s" % (s["rate_bps"], rate)
assert "to_client" in s["directions"], s["directions"]
assert s["targets"] >= 3, s
assert s["baseline"]["flows"] >= 4 and s["baseline"]["speedup"] >= 3, s["baseline"]
assert s["control"]["flows"] >= 2 and s["control"]["speedup"] >= 3, s["control"]
assert a["target"] is None, a["target"]
# region-b: no region-wide alert, and no alert of region-b alone
for x in A:
    assert x.get("scope", {}).get("region") != "region-b", ("region-b named", x)
# per-target alerts are not this test's subject (tests/lab/test_throttle.sh):
# listed, with the prefixes they name
others = sorted({(x["censorship"]["method"], (x.get("target") or {}).get("domain"), tuple(x["scope"]["prefixes"]))
                 for x in R if x is not a})
print("region-a %s rate %d bit/s (policer %d), spread %.2f, %s, %d of %d flows, %d targets %s; baseline %d flows %.0fx, control %d flows %.0fx; conf %.2f; per-target alerts raised: %s" % (
      s["variant"], s["rate_bps"], rate, s["rate_spread"], s["directions"], s["affected_flows"], s["flows"],
      s["targets"], a["targets"], s["baseline"]["flows"], s["baseline"]["speedup"], s["control"]["flows"],
      s["control"]["speedup"], a["censorship"]["confidence"], others or "none"))
PY
); then ok "detector: $out"; else bad "detector: $out"; fi

# ---- deepening into a shutdown: clients of both regions poll, region-a is
# policed as above, then cut off entirely.  The shutdown detector (the lab's
# fast [shutdown] settings, comparing active clients: the policed downloads
# must not look like a shutdown) raises its alerts for region-a after the
# cut, and each names the throttling alert raised before it in `related`.
sd_conf
export TW_LAB_DETECTOR_GRACE=4
lab_run throttle-region-cut --duration 6 "${SD_ARGS[@]}" "${RT[@]}" \
  --daemon-arg --set --daemon-arg shutdown.metric=active_clients
unset TW_LAB_DETECTOR_GRACE
assert_le "region-a: no success after the cut" "$(hb c1 after ok)" 0
assert_ge "region-b keeps working" "$(hb c2 after ok)" 3
if out=$("$PY" - "$RUN_DIR" <<'PY' 2>&1
import json, os, sys
d = sys.argv[1]
cut = float(open(os.path.join(d, "clients", "cut-time")).read())
A = [json.loads(l) for l in open(os.path.join(d, "alerts.json")) if '"event_type":"alert"' in l]
def ts(s):
    import datetime
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
T = [a for a in A if a["alert"]["signature_id"] == 2010 and a["alert"]["state"] == "raised"]
assert len(T) == 1 and T[0]["scope"]["region"] == "region-a", T
tid = T[0]["alert"]["id"]
assert ts(T[0]["timestamp"]) < cut, ("throttling raised after the cut", T[0]["timestamp"], cut)
S = [a for a in A if a["alert"]["category"] == "shutdown" and a["alert"]["state"] == "raised"]
assert S, "no shutdown alert raised"
for a in S:
    assert a["scope"]["region"] == "region-a", ("a shutdown outside region-a", a)
    assert ts(a["timestamp"]) > cut, ("shutdown raised before the cut", a)
    assert a.get("related") == [{"id": tid, "category": "throttling"}], ("related", a.get("related"), tid)
for x in A:
    if x["alert"]["category"] == "shutdown" or x["alert"]["signature_id"] == 2010:
        p = x.get("scope", {}).get("prefixes", [])
        assert not any(q.startswith("192.0.2.") or q.startswith("2001:db8:b:") for q in p), ("region-b named", x)
print("throttling %s raised %.1f s before the cut (rate %d bit/s); %d shutdown alerts raised after it, each related to it: %s" % (
      tid, cut - ts(T[0]["timestamp"]), T[0]["stats"]["rate_bps"], len(S),
      [(a["alert"]["signature_id"], a["scope"]["prefixes"], round(ts(a["timestamp"]) - cut, 1)) for a in S]))
PY
); then ok "detector: $out"; else bad "detector: $out"; fi
finish
