#!/usr/bin/env bash
# Shutdown detection through the whole daemon (README "Shutdown detection"):
# two simulated weeks of diurnal traffic (tests/replay/craft_shutdown.py)
# replayed with [shutdown] on and a week of DAY*7 seconds.
#  - no alert in the night-time troughs or weekends, none for the prefix
#    that is never disturbed, none for the silent capture gap (a `gap`
#    record instead);
#  - exactly one full shutdown alert for 198.51.100.0/24 (region north)
#    starting within the detection delay of the cut, resolved after the
#    restore with start, end and depth;
#  - exactly one partial alert (DNS passing) for 203.0.113.0/24 (south);
#  - control: with a flat baseline (bins = 1) the weekend troughs do alert,
#    so the quiet troughs above are the time-of-week baselines' doing;
#  - state: part1 then part2 with one --state dir gives the same alert
#    records as the single run and a `restart` gap; part2 alone gives none;
#  - a restart while north's alert is open (mid1 ends inside the cut, mid2
#    carries on): raised once, resolved once, one id and start across both
#    logs, every other record as in the single run; the same after a
#    SIGKILL right after the raise with state.interval longer than the
#    capture (only the save at the raise can have kept it); and a restart
#    after the restore (late2) resolves it once on the traffic it sees;
#  - the BPF engine (root) writes the same bytes and saves the same
#    baselines as the user engine (part2 until the day after the cut,
#    after part1's state).
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
W=$(mktemp -d /tmp/tw-shutdown.XXXXXX); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 tests/replay/craft_shutdown.py "$W" || fail craft

printf '# prefix        region\n198.51.100.0/24 north\n203.0.113.0/24  south\n2001:db8:a::/48 east\n' >"$W/regions.txt"
# a week of 8400 s (7 days of 1200 s), 168 bins of 50 s, 10 s polls
cat >"$W/tw.conf" <<EOF
[regions]
file = $W/regions.txt

[shutdown]
enabled = true
interval = 10
period = 8400
bins = 168
history = 4
warmup = 8400
min_duration = 60
recover = 60
drop_frac = 0.25
recover_frac = 0.5
min_clients = 2
region_min = 2
EOF

run() {  # name, then tamperwatchd arguments
  local name=$1; shift
  "$TW" -c "$W/tw.conf" "$@" --alerts "$W/$name.json" 2>"$W/$name.err" || fail "$name: exit $?: $(cat "$W/$name.err")"
}

check() {  # name, python assertions over L (records), A (alerts), G (gaps), T (truth)
  python3 - "$W/$1.json" "$W/truth.json" "$1" "$2" <<'PY' || fail "$1"
import json, sys
from datetime import datetime
KEEP = ('"event_type":"alert"', '"event_type":"gap"', '"event_type":"link"', '"event_type":"stats"')
L = [json.loads(l) for l in open(sys.argv[1]) if any(k in l for k in KEEP)]   # events are many, unread
T = json.load(open(sys.argv[2]))
A = [x for x in L if x["event_type"] == "alert"]
G = [x for x in L if x["event_type"] == "gap"]
IV, MIN_DUR, RECOVER = 10, 60, 60
def ts(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
def of(prefix): return [a for a in A if a["scope"]["prefixes"] == [prefix]]
def raised(xs): return [a for a in xs if a["alert"]["state"] == "raised"]
def resolved(xs): return [a for a in xs if a["alert"]["state"] == "resolved"]
def phase(t): return ((t - T["t0"]) % T["day"]) / T["day"]
print(sys.argv[3] + ":", [(a["alert"]["state"], a["alert"]["signature"], a["shutdown"]["start"], a["shutdown"]["end"],
                           a["shutdown"]["depth"]) for a in A], [(g["gap"]["why"], g["gap"]["from"], g["gap"]["to"]) for g in G])
for a in A:   # DESIGN schema; prefixes, never a client address
    assert set(a) >= {"timestamp", "alert", "censorship", "scope", "stats", "first_seen", "last_seen", "shutdown"}, a
    assert a["alert"]["category"] == "shutdown" and a["censorship"]["method"] == "shutdown", a
exec(sys.argv[4])
PY
}

# ---- the whole capture, user engine ---------------------------------------
run single --events --replay "$W/diurnal.pcap"
check single '
assert all(a["alert"]["category"] == "shutdown" for a in A), "only shutdown alerts"
assert len(raised(A)) == 2, "two alerts raised: the cut and the partial, nothing in troughs, weekends or the gap"
# the full cut of north
N = of("198.51.100.0/24")
assert len(raised(N)) == 1 and len(resolved(N)) == 1 and len({a["alert"]["id"] for a in N}) == 1, N
r, e = raised(N)[0], resolved(N)[0]
c0, c1 = T["cut"]
start = ts(r["shutdown"]["start"])
assert r["scope"]["region"] == "north" and r["alert"]["signature_id"] == 2701 and r["shutdown"]["level"] == "full", r
assert c0 <= start <= c0 + 2 * IV, ("start within two polls of the cut", start - c0)
assert MIN_DUR <= ts(r["timestamp"]) - start and ts(r["timestamp"]) - c0 <= MIN_DUR + 3 * IV, ("detection delay", ts(r["timestamp"]) - c0)
end = ts(e["shutdown"]["end"])
assert c1 <= end <= c1 + 2 * IV + 1, ("end within two polls of the restore", end - c1)
assert ts(e["timestamp"]) - end >= RECOVER and e["shutdown"]["start"] == r["shutdown"]["start"], e
assert e["shutdown"]["depth"] >= 0.95 and e["stats"]["partial"] is False, e
# the partial shutdown of south: DNS still passes
S = of("203.0.113.0/24")
assert len(raised(S)) == 1 and len(resolved(S)) == 1 and len({a["alert"]["id"] for a in S}) == 1, S
r = raised(S)[0]
p0, p1 = T["partial"]
assert r["alert"]["signature_id"] == 2702 and r["shutdown"]["level"] == "partial" and r["stats"]["passing"] == ["dns"], r
assert r["scope"]["region"] == "south" and p0 <= ts(r["shutdown"]["start"]) < p1 and ts(r["timestamp"]) < p1, r
assert p1 <= ts(resolved(S)[0]["shutdown"]["end"]) <= p1 + 2 * IV + 1, resolved(S)[0]
assert not of("2001:db8:a::/48"), "the undisturbed prefix never alerts"
# the silent capture gap: reported as ours, not alerted
h0, h1 = T["hole"]
assert len(G) == 1 and G[0]["gap"]["why"] == "capture_gap", G
assert ts(G[0]["gap"]["from"]) <= h0 and ts(G[0]["gap"]["to"]) >= h1, G
st = [x for x in L if x["event_type"] == "stats"][-1]["stats"]["shutdown"]
assert st["series"] == 3 and st["prefixes"] == 3 and st["prefixes_unlabelled"] == 0, st
assert st["polls"] >= (T["end"] - T["t0"] - (h1 - h0)) // IV - 2, st
'

# ---- control: a flat baseline alerts in the weekend troughs --------------
run flat --events --replay "$W/diurnal.pcap" --set shutdown.bins=1
check flat '
trough = [a for a in raised(A) if min(phase(ts(a["shutdown"]["start"])), 1 - phase(ts(a["shutdown"]["start"]))) < 0.15]
assert trough, "bins = 1 must alert at night: otherwise the quiet troughs above prove nothing"
'

# ---- state across a restart at the hole ------------------------------------
mkdir "$W/state"
run part1 --events --replay "$W/part1.pcap" --state "$W/state"
check part1 'assert not A and not G, "part1: warm-up and normal days only"'
[ -s "$W/state/shutdown.state" ] || fail "no shutdown.state written"
mkdir "$W/state_p1" && cp "$W/state/"*.state "$W/state_p1/"     # for the parity runs below
run part2 --events --replay "$W/part2.pcap" --state "$W/state"
check part2 '
h0, h1 = T["hole"]
assert len(G) == 1 and G[0]["gap"]["why"] == "restart" and ts(G[0]["gap"]["from"]) <= h0 and ts(G[0]["gap"]["to"]) >= h1, G
'
diff <(grep '"event_type":"alert"' "$W/single.json") <(grep '"event_type":"alert"' "$W/part2.json") >"$W/state.diff" ||
  fail "alerts after a restart differ from the single run: $(head -c 600 "$W/state.diff")"
echo "state: part1 + part2 with --state give the single run's $(grep -c '"event_type":"alert"' "$W/part2.json") alert records"
run part2_alone --events --replay "$W/part2.pcap"
check part2_alone 'assert not A, "without the saved baselines part2 is still warming up"'

# ---- a restart while a shutdown alert is open ------------------------------
across() {  # log before the restart, log after it, python assertions over B, F (alert records), SG (single run's)
  python3 - "$W/$1.json" "$W/$2.json" "$W/single.json" "$W/truth.json" "$3" <<'PY' || fail "$1 + $2"
import json, sys
from datetime import datetime
def alerts(p): return [json.loads(l) for l in open(p) if '"event_type":"alert"' in l]
def gaps(p): return [json.loads(l)["gap"] for l in open(p) if '"event_type":"gap"' in l]
def ts(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
B, F, SG, T = alerts(sys.argv[1]), alerts(sys.argv[2]), alerts(sys.argv[3]), json.load(open(sys.argv[4]))
G = gaps(sys.argv[2])
IV, RECOVER = 10, 60
def north(xs, state): return [a for a in xs if a["scope"]["prefixes"] == ["198.51.100.0/24"] and a["alert"]["state"] == state]
print([(a["alert"]["id"], a["alert"]["state"], a["shutdown"]["end"]) for a in B + F])
r, e = north(B, "raised"), north(F, "resolved")
assert len(r) == 1 and not north(B, "resolved"), ("before the restart: raised, not resolved", r)
assert not north(F, "raised") and len(e) == 1, ("after it: resolved once, not raised again", north(F, "raised"), e)
r, e = r[0], e[0]
assert e["alert"]["id"] == r["alert"]["id"] and e["first_seen"] == r["first_seen"] == e["shutdown"]["start"], (r, e)
assert [g["why"] for g in G] == ["restart"], G
exec(sys.argv[5])
PY
}
# the single run's records, but for the area and last_seen of the alert open
# across the restart: the intervals in the restart gap are not judged.  North
# receives nothing after the restart (no kernel entry, no samples) and is
# still judged silent until the restore.
SAME_AS_SINGLE='
def cut(a): a = json.loads(json.dumps(a)); a["stats"].pop("alert_area"); a.pop("last_seen"); return a
assert [cut(a) for a in B + F] == [cut(a) for a in SG], "records differ from the single run"
se = north(SG, "resolved")[0]
assert ts(se["last_seen"]) - 2 * IV <= ts(e["last_seen"]) <= ts(se["last_seen"]), ("not judged after the restart", e["last_seen"])
'
mkdir "$W/smid"
run mid1 --events --replay "$W/mid1.pcap" --state "$W/smid"
mkdir "$W/slate" && cp "$W/smid/"*.state "$W/slate/"
run mid2 --events --replay "$W/mid2.pcap" --state "$W/smid"
across mid1 mid2 "$SAME_AS_SINGLE"
echo "mid-cut restart: raised once before it, resolved once after it, one id"
run late2 --events --replay "$W/late2.pcap" --state "$W/slate"
across mid1 late2 '
end = ts(e["shutdown"]["end"])
assert ts(G[0]["to"]) <= end <= T["late"] + 300 and ts(e["timestamp"]) - end >= RECOVER, ("judged on the traffic after the restart", G, e)
'
echo "restart after the restore: resolved once on the traffic seen after it"

# SIGKILL right after the raise: the capture comes through a FIFO that stays
# open, so the daemon waits for more after mid1; state.interval is longer than
# the capture, so only the save at the raise can have written the state
mkdir "$W/skill" && mkfifo "$W/fifo"
"$TW" -c "$W/tw.conf" --events --replay - --state "$W/skill" --set state.interval=86400 --alerts "$W/kill1.json" \
  <"$W/fifo" 2>"$W/kill1.err" &
KPID=$!
exec 3>"$W/fifo"
cat "$W/mid1.pcap" >&3
for _ in $(seq 100); do
  grep -q '"state":"raised"' "$W/kill1.json" 2>/dev/null && [ -s "$W/skill/shutdown.state" ] && break; sleep 0.1
done
kill -9 $KPID; wait $KPID 2>/dev/null; exec 3>&-
grep -q '"state":"raised"' "$W/kill1.json" || fail "kill1: no alert raised before the kill: $(cat "$W/kill1.err")"
run kill2 --events --replay "$W/mid2.pcap" --state "$W/skill"
across kill1 kill2 "$SAME_AS_SINGLE"
echo "SIGKILL right after the raise: not raised again, resolved once under its id"

# ---- configuration errors name the key -----------------------------------
"$TW" -c "$W/tw.conf" --set shutdown.drop_frac=1.5 --check-config 2>"$W/cfg.err" && fail "drop_frac 1.5 accepted"
grep -q 'shutdown.drop_frac' "$W/cfg.err" || fail "config error does not name the key: $(cat "$W/cfg.err")"
"$TW" -c "$W/tw.conf" --set shutdown.prefix_v4=28 --check-config 2>"$W/cfg.err" && fail "shutdown prefix finer than privacy prefix accepted"

# ---- the BPF engine writes the same bytes ----------------------------------
# (part2 until the day after the cut, with a copy of part1's state: the
# restart gap and the north alert; one system call per packet makes the
# whole capture too slow for this suite)
if [ "$(id -u)" = 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then
  mkdir "$W/state_u" "$W/state_b"
  cp "$W/state_p1/"*.state "$W/state_u/" && cp "$W/state_p1/"*.state "$W/state_b/" || fail "no part1 state to copy"
  run part2_u --events --replay "$W/part2_cut.pcap" --state "$W/state_u"
  run part2_b --events --replay "$W/part2_cut.pcap" --state "$W/state_b" --replay-engine bpf
  cmp -s "$W/part2_u.json" "$W/part2_b.json" || { diff "$W/part2_u.json" "$W/part2_b.json" | head -5; fail "engines differ"; }
  grep -q '"state":"resolved"' "$W/part2_b.json" || fail "parity run has no resolved alert to compare"
  cmp -s "$W/state_u/shutdown.state" "$W/state_b/shutdown.state" || fail "engines saved different baselines"
  echo "parity: --replay-engine bpf output and saved baselines identical to user ($(wc -l <"$W/part2_b.json") lines)"
else
  echo "parity: not root or no BTF: BPF engine not compared"
fi
echo "ok"
