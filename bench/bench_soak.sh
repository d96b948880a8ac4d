#!/usr/bin/env bash
# bench_soak: a bounded soak (issue 16): tamperwatchd --replay - fed for
# BENCH_SOAK_SECONDS (default 180) by bench/soak_feed.c, which writes a
# capture of short flows (gen_capture's "short" mix, 100 k packets, seed 2)
# again and again, each loop shifted in time past the flows' idle timeouts:
# every loop opens, judges and ends all of the capture's flows anew (about
# 14 k flows and 44 k events a loop), so the flow, verdict and alert tables
# churn for the whole run.  Output: the gateway set (output.types default
# live), to a file.
#
# Reports: the daemon's resident memory (VmRSS, sampled every 2 s) after
# the first fifth of the run, at its peak and at the end, and its growth
# over the last four fifths (target: under 5 %, "flat"); the packet rate;
# and whether the final stats record's counters are consistent: packets,
# replayed frames, new flows, events and tamper verdicts each exactly the
# number of loops times one loop's (measured first, alone), nothing lost or
# malformed, and every event and flow end counted as left out of the log
# (lines_not_selected).  Benchmarks report: exit 0 whatever the figures, 1
# when the daemon fails.  Figures to build/bench/bench_soak.results.
set -u
cd "$(dirname "$0")/.." || exit 1
B=build/bench
TWD=build/tamperwatchd
SECS=${BENCH_SOAK_SECONDS:-180}
CC=${CC:-cc}
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$TWD" ] || skip "$TWD not built (run make all)"
command -v "$CC" >/dev/null 2>&1 || skip "no C compiler ($CC)"
command -v jq >/dev/null 2>&1 || skip "jq not installed"
mkdir -p "$B"
for t in gen_capture soak_feed; do
  if [ ! -x "$B/$t" ] || [ "bench/$t.c" -nt "$B/$t" ] || [ tests/pktbuild.h -nt "$B/$t" ]; then
    "$CC" -std=gnu11 -O2 -Wall -Wextra -Werror -Itests "bench/$t.c" -o "$B/$t" -lm || { echo "FAIL: cannot build $t"; exit 1; }
  fi
done
PCAP=$B/soak-100000.pcap
if [ ! -s "$PCAP" ] || [ "$B/gen_capture" -nt "$PCAP" ]; then
  "$B/gen_capture" "$PCAP.tmp" 100000 2 short >/dev/null 2>&1 && mv "$PCAP.tmp" "$PCAP" || { echo "FAIL: gen_capture"; exit 1; }
fi
W=$(mktemp -d /tmp/tw-soak.XXXXXX)
DPID=
trap '[ -n "$DPID" ] && kill "$DPID" 2>/dev/null; rm -rf "$W"' EXIT
ARGS=(--set output.types=gateway)

# one loop alone: what every loop must add
"$B/soak_feed" "$PCAP" -1 200 2>/dev/null | "$TWD" --replay - "${ARGS[@]}" --alerts "$W/one.json" 2>"$W/one.err" ||
  { echo "FAIL: one loop: $(tail -3 "$W/one.err")"; exit 1; }

mkfifo "$W/feed"
"$B/soak_feed" "$PCAP" "$SECS" 200 >"$W/feed" 2>"$W/feed.err" &
FPID=$!
start=$EPOCHREALTIME
"$TWD" --replay "$W/feed" "${ARGS[@]}" --alerts "$W/soak.json" 2>"$W/soak.err" &
DPID=$!
: >"$W/rss"
while kill -0 "$DPID" 2>/dev/null; do
  awk -v t="$EPOCHREALTIME" '/^VmRSS:/ {print t, $2}' "/proc/$DPID/status" >>"$W/rss" 2>/dev/null
  sleep 2
done
wait "$DPID"; rc=$?; DPID=
end=$EPOCHREALTIME
wait "$FPID"
[ $rc = 0 ] || { echo "FAIL: tamperwatchd exited $rc: $(tail -3 "$W/soak.err")"; exit 1; }
read -r _ loops _ fed <"$W/feed.err"

python3 - "$W" "$loops" "$fed" "$start" "$end" "$B/bench_soak.results" "$SECS" <<'PY'
import json, sys
w, loops, fed, start, end, res, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
def final(p):
    L = [json.loads(l) for l in open(p)]
    s = [x for x in L if x["event_type"] == "stats" and x["final"]]
    return s[-1]["stats"], L
one, _ = final(f"{w}/one.json")
s, L = final(f"{w}/soak.json")
rss = [tuple(map(float, l.split())) for l in open(f"{w}/rss") if l.strip()]
keys = ["packets", "flows_new", "events", "tamper_verdicts"]
bad = [f"{k}: {s[k]} != {loops} x {one[k]}" for k in keys if s[k] != loops * one[k]]
if s["replay"]["frames"] != fed or s["packets"] != fed:
    bad.append(f"frames {s['replay']['frames']}, packets {s['packets']}, fed {fed}")
for k in ("events_lost", "events_malformed", "lines_too_long", "output_write_errors", "flow_insert_failed", "verdict_flows_dropped"):
    if s.get(k, 0):
        bad.append(f"{k} = {s[k]}")
if s["lines_not_selected"] < s["events"] + s["flows_new"]:
    bad.append(f"lines_not_selected {s['lines_not_selected']} < events + flow ends {s['events'] + s['flows_new']}")
dur = end - start
n = len(rss)
warm = rss[n // 5][1] if n >= 5 else rss[0][1]
peak = max(r[1] for r in rss)
last = rss[-1][1]
growth = (last - warm) / warm * 100
print(f"soak: {dur:.0f} s, {loops} loops of {one['packets']} packets ({fed} packets, {fed / dur / 1e3:.0f} k packets/s), "
      f"{s['flows_new']} flows, {s['events']} events, {s['tamper_verdicts']} tamper verdicts, "
      f"{sum(1 for x in L if x['event_type'] == 'alert')} alert records")
print(f"  daemon RSS: {warm / 1024:.1f} MB after the first fifth, peak {peak / 1024:.1f} MB, end {last / 1024:.1f} MB: "
      f"{growth:+.1f} % over the last four fifths ({n} samples) -> {'flat' if abs(growth) < 5 else 'NOT FLAT'}")
print("  RSS samples (MB):", " ".join(f"{r[1] / 1024:.0f}" for r in rss[:: max(1, n // 12)]))
print(f"  counters: {'consistent' if not bad else 'INCONSISTENT: ' + '; '.join(bad)} "
      f"(packets, flows, events, verdicts each {loops} x one loop's; nothing lost; lines_not_selected {s['lines_not_selected']})")
wl = f"bench_soak: tamperwatchd --replay - fed {secs} s by soak_feed, gen_capture short mix 100 k packets a loop, {loops} loops, output.types=gateway"
with open(res, "w") as f:
    f.write(json.dumps({"figure": "soak: daemon RSS growth over the last 4/5 of the run", "workload": wl, "value": round(growth, 2),
                        "unit": "%", "baseline": 0, "ratio": 0, "target": "< 5 % (flat)", "met": abs(growth) < 5}) + "\n")
    f.write(json.dumps({"figure": "soak: daemon peak RSS", "workload": wl, "value": round(peak / 1024, 1), "unit": "MB",
                        "baseline": 0, "ratio": 0, "target": "(context)", "met": True}) + "\n")
    f.write(json.dumps({"figure": "soak: counters consistent (loops x one loop, nothing lost)", "workload": wl, "value": 0 if bad else 1,
                        "unit": "bool", "baseline": 0, "ratio": 0, "target": "1", "met": not bad}) + "\n")
PY
