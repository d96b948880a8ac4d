#!/usr/bin/env bash
# Throttling: policing at 64, 130 and 500 kbit/s (both directions, towards
# the clients only, and towards the server only: uploads) and shaping at
# 1 Mbit/s must throttle the clients (curl's own rates); the detector must
# raise a `throttling` alert on each policed target with the policer's rate
# within 20 % and the direction it sees (downloads: to_client; uploads:
# to_server), and one with variant `shaping` on the shaped target with the
# shaper's rate within 20 %; each alert states the control (the same
# clients' flows to bulk.example, fetched first) at least 3 times faster.
# Nothing on the controls.  Congestion, a receiver-window-limited client
# and a slow application server must raise no throttling verdict at all.
# The lab has few clients per target: alerts.min_flows 2 (README
# "Throttling"), and one control flow (two clients, one prefix of which
# may have no rated flow elsewhere): alerts.throttle_control_flows 1.
. "$(dirname "$0")/lib.sh"
lab_up
THR=(--duration 8 --daemon-arg --set --daemon-arg alerts.min_flows=2
     --daemon-arg --set --daemon-arg alerts.throttle_control_flows=1)

# thr_alert DOMAIN RATE_BPS DIRECTION VARIANT: one raised throttling alert on
# DOMAIN (any port), rate within 20 %, DIRECTION among its directions, the
# variant, the control at least 3 times faster; no alert on anything else
thr_alert() {
  local out
  if out=$("$PY" - "$RUN_DIR/alerts.json" "$1" "$2" "$3" "$4" <<'PY' 2>&1
import json, sys
path, dom, rate, direction, variant = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
A = [json.loads(l) for l in open(path) if '"event_type":"alert"' in l]
R = [a for a in A if a["alert"]["state"] == "raised"]
mine = [a for a in R if a["censorship"]["method"] == "throttling" and a["target"]["domain"] == dom]
other = [a for a in R if a not in mine]
assert mine, "no throttling alert on %s (raised: %s)" % (dom, [(a["censorship"]["method"], a["target"]) for a in R])
assert not other, "other alerts: %s" % [(a["censorship"]["method"], a["target"]) for a in other]
for a in mine:
    s = a["stats"]
    c = s["control"]
    assert a["alert"]["category"] == "throttling" and a["alert"]["signature_id"] == 2006, a["alert"]
    assert abs(s["rate_bps"] - rate) <= 0.2 * rate, "rate %s, policer %s" % (s["rate_bps"], rate)
    assert direction in s["directions"], s["directions"]
    assert s["variant"] == variant, "variant %s, want %s" % (s["variant"], variant)
    assert c["flows"] >= 1 and c["speedup"] >= 3, "control %s" % c
    print("%s:%s %s rate %d bit/s (configured %d), spread %.2f, %s, %d of %d flows; control %d flows at %d bit/s (%.0fx)" % (
          dom, a["target"]["port"], variant, s["rate_bps"], rate, s["rate_spread"], s["directions"],
          s["affected_flows"], s["flows"], c["flows"], c["rate_bps"], c["speedup"]))
PY
  ); then ok "detector: $out"; else bad "detector: $out"; fi
}
# thr_none: no throttling tamper record and no throttling alert
thr_none() {
  local n; n=$(alerts_of throttling | wc -l)
  [ "$n" = 0 ] && ok "detector: no throttling verdict" || bad "detector: $n throttling records: $(alerts_of throttling | head -c 400)"
}

# `tamperwatch throttling` against the running detector (its control socket):
# polled while the scenario runs, the last answer naming DOMAIN kept
CLI=$REPO/build/tamperwatch
SOCK=${TW_LAB_RUN:-/run/tamperwatch-lab}/tamperwatchd.sock
cli_poll() { # domain outfile
  local i
  for i in $(seq 120); do
    "$CLI" --socket "$SOCK" throttling > "$2.tmp" 2>/dev/null && grep -q "^$1:" "$2.tmp" && cp "$2.tmp" "$2"
    sleep 0.5
  done
}
police_run() { # scenario bytes/s [cli]
  local poll=""
  if [ "${3:-}" = cli ]; then
    rm -f "$LAB_OUT/cli-throttling.txt"
    cli_poll media.example "$LAB_OUT/cli-throttling.txt" & poll=$!
  fi
  # the detector stays 8 s after the clients: a closed flow's end record
  # (and the alert it completes) comes at the sweep after it lingered
  # (about 5 s after its last packet), and the CLI must see the alert open
  [ -n "$poll" ] && export TW_LAB_DETECTOR_GRACE=8
  lab_run "$1" "${THR[@]}"
  unset TW_LAB_DETECTOR_GRACE
  if [ -n "$poll" ]; then
    kill "$poll" 2>/dev/null; wait "$poll" 2>/dev/null
    # TARGET VARIANT RATE SPREAD DIRECTIONS CONTROL SPEEDUP CLIENTS STATE ID
    if awk -v r=$(( $2 * 8 )) '$1 ~ /^media.example:/ && $2 == "policing" && $5 ~ /to_client/ && $9 ~ /^(raised|updated)$/ {
          v = $3; m = 1; if (v ~ /k$/) m = 1e3; if (v ~ /M$/) m = 1e6; sub(/[kM]$/, "", v); v *= m
          if (v >= 0.8 * r && v <= 1.2 * r && $7 != "-") ok = 1 }
        END { exit !ok }' "$LAB_OUT/cli-throttling.txt" 2>/dev/null; then
      ok "tamperwatch throttling: $(grep '^media.example:' "$LAB_OUT/cli-throttling.txt" | head -1)"
    else
      bad "tamperwatch throttling: $(cat "$LAB_OUT/cli-throttling.txt" 2>/dev/null || echo 'no answer naming media.example')"
    fi
  fi
  local n r
  for n in c1-throttled-1 c1-throttled-2 c1-throttled-v6 c2-throttled; do
    r=$(rate_bps $n)
    assert_le "$n rate (bit/s)" "$r" $(( $2 * 8 * 3 / 2 ))
    assert_ge "$n rate (bit/s)" "$r" $(( $2 * 8 / 2 ))   # throttled, not blocked
  done
  for n in c1-control c2-control; do assert_http $n 200; assert_ge "$n rate (bit/s)" "$(rate_bps $n)" 20000000; done
  grep -q "limit rate over $2 bytes/second" "$RUN_DIR/censor-state.txt" && ok "nft policer was active" || bad "no nft policer in censor state"
  thr_alert media.example $(( $2 * 8 )) to_client policing
}
police_run throttle-police 16250 cli
police_run throttle-police-64 8000
police_run throttle-police-500 62500

# uploads policed towards the server: curl's upload rate (96 KiB each)
lab_run throttle-police-upload "${THR[@]}"
for n in c1-upload-1 c1-upload-2 c1-upload-v6 c2-upload; do
  assert_http $n 201
  r=$(rate_bps $n)
  assert_le "$n upload rate (bit/s)" "$r" $(( 16250 * 8 * 3 / 2 ))
  assert_ge "$n upload rate (bit/s)" "$r" $(( 16250 * 8 / 2 ))
done
for n in c1-control c2-control; do assert_http $n 201; assert_ge "$n upload rate (bit/s)" "$(rate_bps $n)" 20000000; done
thr_alert media.example $(( 16250 * 8 )) to_server policing

lab_run throttle-shape "${THR[@]}"
total=0
for n in c1-throttled-1 c1-throttled-2 c1-throttled-v6 c2-throttled; do total=$((total + $(rate_bps $n))); done
assert_le "shaped aggregate (bit/s)" "$total" 1400000
assert_ge "shaped aggregate (bit/s)" "$total" 300000
for n in c1-control c2-control; do assert_ge "$n rate (bit/s)" "$(rate_bps $n)" 20000000; done
# a queue, not drops: no flow of the shaped target (its SNI or Host) may
# look policed; the target's aggregate is what is pinned, against the fast
# control (a lossy control flow judged policing per flow raises nothing
# without a control of its own: thr_alert asserts no other alert)
n=$(alerts_of throttling | grep '"media.example"' | grep -c '"signature":"policing"')
[ "$n" = 0 ] && ok "detector: no policing verdict on the shaped target" || bad "detector: $n policing verdicts on a shaper"
thr_alert media.example 1000000 to_client shaping

lab_run benign-congestion "${THR[@]}"
expect_quiet
thr_none
total=0
for n in c1-bulk-0 c1-bulk-1 c2-bulk c2-bulk-v6; do
  r=$(rate_bps $n); total=$((total + r)); assert_ge "$n got data" "$r" 100000
done
assert_le "bottleneck aggregate (bit/s)" "$total" 9500000
assert_ge "bottleneck aggregate (bit/s)" "$total" 4000000
assert_http c1-page-during 200
assert_ge "page during congestion waited in the queue (s)" "$(curl_field c1-page-during 5)" 0.1
expect_truth 't["kind"] == "benign" and t["benign"][0]["behaviour"] == "congestion"'

lab_run benign-rwnd-limited "${THR[@]}"
expect_quiet
thr_none
for n in c1-rwnd-0 c1-rwnd-1; do   # "bytes rate": the slow reader set the pace
  r=$(client_out $n | awk '{print $2}'); assert_le "$n rate (bit/s)" "$r" 1000000; assert_ge "$n rate (bit/s)" "$r" 300000
done

# the server writes for 30 s: curl stops at --max-time (exit 28)
lab_run benign-slow-server "${THR[@]}"
expect_quiet
thr_none
for n in c1-slow-0 c1-slow-1 c2-slow; do assert_rc $n 28; assert_le "$n rate (bit/s)" "$(rate_bps $n)" 260000; done
finish
