#!/usr/bin/env bash
# Partial shutdown live (README "Shutdown detection": partial): for 16 s
# region-a keeps only DNS and the web (tcp/udp 53, 80, 443); its UDP media
# streams, most of its traffic, are dropped; then everything is restored.
# tamperwatchd must raise one *partial* alert (signature 2702) for each
# region-a prefix, listing the classes still passing (web, and dns where
# the prefix had DNS traffic), resolve them after the restore, and say
# nothing about region-b, whose streams never stop.
. "$(dirname "$0")/lib.sh"
lab_up
sd_conf
lab_run shutdown-services --pre 24 --duration 40 --restore 16 "${SD_ARGS[@]}"
assert_ge "region-a: the web keeps working during the cut" "$(hb c1 during ok)" 3
assert_le "region-a: no web failure during the cut" "$(hb c1 during fail)" 0
assert_ge "region-b keeps working" "$(hb c2 after ok)" 3
# streams: "sent N echoed M"; region-a lost its echoes during the cut, region-b none
lost() { client_out "$1" | awk '/^sent/{print $2 - $4}'; }
sent() { client_out "$1" | awk '/^sent/{print $2}'; }
assert_ge "region-a v4 stream lost its echoes during the cut" "$(lost c1-stream-v4)" "$(( $(sent c1-stream-v4) / 5 ))"
assert_le "region-b v4 stream lost (almost) nothing" "$(lost c2-stream-v4)" "$(( $(sent c2-stream-v4) / 100 ))"
sd_check "one partial alert per region-a prefix, web (and DNS) passing, resolved after the restore" '
for p, passing in (("198.51.100.0/24", {"web", "dns"}), ("2001:db8:a::/48", {"web"})):
    X = of(p)
    assert len(raised(X)) == 1 and len(resolved(X)) == 1 and len({a["alert"]["id"] for a in X}) == 1, (p, X)
    r, e = raised(X)[0], resolved(X)[0]
    assert r["scope"]["region"] == "region-a" and r["alert"]["signature_id"] == 2702, r
    assert r["shutdown"]["level"] == "partial" and r["stats"]["partial"] is True, r
    assert set(r["stats"]["passing"]) == passing, (p, r["stats"]["passing"])
    assert cut <= ts(r["shutdown"]["start"]) <= cut + 2 * IV + 1.5 and ts(r["timestamp"]) - cut <= MIN_DUR + 3 * IV + 2, r
    assert restore <= ts(e["shutdown"]["end"]) <= restore + 2 * IV + 3.5, e
for p in ("192.0.2.0/24", "2001:db8:b::/48"):
    assert not of(p), ("region-b never alerts", p)
assert not K and not G, "no link change, no gap"
'
finish
