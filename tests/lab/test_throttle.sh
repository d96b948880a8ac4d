#!/usr/bin/env bash
# Throttling: policing at 130 kbit/s, shaping at 1 Mbit/s; benign congestion.
. "$(dirname "$0")/lib.sh"
lab_up

lab_run throttle-police
for n in c1-throttled-1 c1-throttled-2 c1-throttled-v6 c2-throttled; do
  r=$(rate_bps $n)
  assert_le "$n rate (bit/s)" "$r" 200000
  assert_ge "$n rate (bit/s)" "$r" 50000       # throttled, not blocked
done
for n in c1-control c2-control; do assert_http $n 200; assert_ge "$n rate (bit/s)" "$(rate_bps $n)" 20000000; done
grep -q 'limit rate over 16250 bytes/second' "$RUN_DIR/censor-state.txt" && ok "nft policer was active" || bad "no nft policer in censor state"

lab_run throttle-shape
total=0
for n in c1-throttled-1 c1-throttled-2 c1-throttled-v6 c2-throttled; do total=$((total + $(rate_bps $n))); done
assert_le "shaped aggregate (bit/s)" "$total" 1400000
assert_ge "shaped aggregate (bit/s)" "$total" 300000
for n in c1-control c2-control; do assert_ge "$n rate (bit/s)" "$(rate_bps $n)" 20000000; done

lab_run benign-congestion
expect_quiet
total=0
for n in c1-bulk-0 c1-bulk-1 c2-bulk c2-bulk-v6; do
  r=$(rate_bps $n); total=$((total + r)); assert_ge "$n got data" "$r" 100000
done
assert_le "bottleneck aggregate (bit/s)" "$total" 9500000
assert_ge "bottleneck aggregate (bit/s)" "$total" 4000000
assert_http c1-page-during 200
assert_ge "page during congestion waited in the queue (s)" "$(curl_field c1-page-during 5)" 0.1
expect_truth 't["kind"] == "benign" and t["benign"][0]["behaviour"] == "congestion"'
finish
