#!/usr/bin/env bash
# Shutdown detection live (README "Shutdown detection"): region-a
# (198.51.100.0/24 and its IPv6 /64) is cut off completely for 16 s, then
# restored, while region-b keeps working.  tamperwatchd (XDP on the gateway,
# the lab's [shutdown] settings: sd_conf in lib.sh) must raise one full
# shutdown alert for each region-a prefix naming region-a, starting within
# two polls of the cut and raised within the detection delay, one region
# alert for region-a, resolve them after the restore with start, end and
# depth, and say nothing about region-b.
. "$(dirname "$0")/lib.sh"
lab_up
sd_conf
lab_run shutdown-region --pre 24 --duration 40 --restore 16 "${SD_ARGS[@]}"
assert_ge "region-a worked before the cut" "$(hb c1 before ok)" 3
assert_le "region-a: no success during the cut" "$(hb c1 during ok)" 0
assert_ge "region-a works again after the restore" "$(hb c1 restored ok)" 3
assert_ge "region-b keeps working" "$(hb c2 after ok)" 3
assert_le "region-b: no failures" "$(hb c2 after fail)" 0
sd_check "one full alert per region-a prefix and one region alert, raised within the delay and resolved after the restore" '
for p in ("198.51.100.0/24", "2001:db8:a::/48"):
    X = of(p)
    assert len(raised(X)) == 1 and len(resolved(X)) == 1 and len({a["alert"]["id"] for a in X}) == 1, (p, X)
    r, e = raised(X)[0], resolved(X)[0]
    assert r["scope"]["region"] == "region-a" and r["alert"]["signature_id"] == 2701 and r["shutdown"]["level"] == "full", r
    start = ts(r["shutdown"]["start"])
    assert cut <= start <= cut + 2 * IV + 1.5, (p, "start", start - cut)
    assert ts(r["timestamp"]) - start >= MIN_DUR and ts(r["timestamp"]) - cut <= MIN_DUR + 3 * IV + 2, (p, "delay", ts(r["timestamp"]) - cut)
    end = ts(e["shutdown"]["end"])
    assert restore <= end <= restore + 2 * IV + 3.5, (p, "end", end - restore)
    assert ts(e["timestamp"]) - end >= RECOVER and e["shutdown"]["depth"] >= 0.9, e
R = [a for a in A if a["alert"]["signature_id"] == 2703]
assert len(raised(R)) == 1 and len(resolved(R)) == 1, R
assert raised(R)[0]["scope"]["region"] == "region-a" and sorted(raised(R)[0]["scope"]["prefixes"]) == ["198.51.100.0/24", "2001:db8:a::/48"], R
for p in ("192.0.2.0/24", "2001:db8:b::/48"):
    assert not of(p), ("region-b never alerts", p)
assert not K and not G, "no link change, no gap"
assert S["series"] == 4 and S["prefixes_unlabelled"] == 0, S
'
finish
