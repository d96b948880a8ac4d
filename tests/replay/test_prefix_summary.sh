#!/usr/bin/env bash
# Per-prefix traffic summaries (shutdown.summary_interval, docs/schema.md
# "prefix_summary") through the whole daemon, on the diurnal capture of
# tests/replay/craft_shutdown.py (three prefixes, north cut off on day 9):
#  - the windows follow one another without a hole and each prefix's
#    packets over them are exactly the capture's packets towards that
#    prefix's clients in [first from, last to), counted here from the pcap;
#  - windows of 60 s and of 600 s give the same sums (nothing lost or
#    counted twice at window edges), and a window entirely inside north's
#    cut has no packet, no client, while east's go on;
#  - class shares add up to 1 where there were packets (90 % web, 10 % DNS
#    as crafted, within the capture's noise);
#  - refused: summaries without shutdown detection, or shorter than a poll;
#  - the BPF engine (root) writes the same summaries as the user engine.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
W=$(mktemp -d /tmp/tw-summary.XXXXXX) || { echo "FAIL: mktemp" >&2; exit 1; }; trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
python3 tests/replay/craft_shutdown.py "$W" >/dev/null || fail craft
printf '198.51.100.0/24 north\n203.0.113.0/24 south\n2001:db8:a::/48 east\n' >"$W/regions.txt"
printf '[regions]\nfile = %s\n[shutdown]\nenabled = true\ninterval = 10\nperiod = 8400\nwarmup = 8400\n' "$W/regions.txt" >"$W/tw.conf"

"$TW" --events --replay "$W/diurnal.pcap" -c "$W/tw.conf" --set shutdown.enabled=false --set shutdown.summary_interval=60 \
  --alerts /dev/null 2>"$W/bad1.err" && fail "summaries without shutdown detection accepted"
grep -q "summary_interval needs shutdown.enabled" "$W/bad1.err" || fail "bad1: $(cat "$W/bad1.err")"
"$TW" --events --replay "$W/diurnal.pcap" -c "$W/tw.conf" --set shutdown.summary_interval=5 --alerts /dev/null 2>"$W/bad2.err" &&
  fail "a window shorter than a poll accepted"
grep -q "summary_interval (5) may not be shorter than shutdown.interval (10)" "$W/bad2.err" || fail "bad2: $(cat "$W/bad2.err")"
ok "refused without shutdown detection and below one poll"

for iv in 60 600; do
  "$TW" --events --replay "$W/diurnal.pcap" -c "$W/tw.conf" --set shutdown.summary_interval=$iv --alerts "$W/s$iv.json" \
    2>"$W/s$iv.err" || fail "replay $iv: $(cat "$W/s$iv.err")"
done
python3 - "$W" <<'PY' || fail "summaries"
import datetime, ipaddress, json, struct, sys
W = sys.argv[1]
truth = json.load(open(W + "/truth.json"))
def t(s): return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
def load(iv):
    S, st = {}, None
    for l in open("%s/s%d.json" % (W, iv)):
        r = json.loads(l)
        if r["event_type"] == "prefix_summary":
            S.setdefault(r["prefix_summary"]["prefix"], []).append(r["prefix_summary"])
        elif r["event_type"] == "stats" and r.get("final"):
            st = r["stats"]["shutdown"]
    return S, st
S60, st60 = load(60)
S600, st600 = load(600)
assert set(S60) == set(truth["prefixes"]), S60.keys()
assert st60["summaries"] == sum(map(len, S60.values())) and st60["summaries_dropped"] == 0 \
    and st60["summary_prefixes_missed"] == 0, st60
# packets towards each prefix, from the capture
nets = {p: ipaddress.ip_network(p) for p in truth["prefixes"]}
times = {p: [] for p in nets}
d = open(W + "/diurnal.pcap", "rb").read(); i = 24
while i + 16 <= len(d):
    s, us, incl, _ = struct.unpack_from("<IIII", d, i); f = d[i + 16:i + 16 + incl]; i += 16 + incl
    dst = ipaddress.ip_address(f[30:34]) if f[12:14] == b"\x08\x00" else ipaddress.ip_address(f[38:54])
    for p, n in nets.items():
        if dst.version == n.version and dst in n:
            times[p].append(s + us / 1e6)
for p, ws in S60.items():
    for a, b in zip(ws, ws[1:]):
        assert a["to"] == b["from"], (p, a["to"], b["from"])
    lo, hi = t(ws[0]["from"]), t(ws[-1]["to"])
    want = sum(1 for x in times[p] if lo <= x < hi)
    got = sum(w["packets"] for w in ws)
    assert got == want, (p, got, want)
    assert got == sum(w["packets"] for w in S600[p]), (p, got, sum(w["packets"] for w in S600[p]))
    assert sum(w["bytes"] for w in ws) == sum(w["bytes"] for w in S600[p]), p
    for w in ws:
        sh = sum(w["class_shares"].values())
        assert (abs(sh - 1) < 0.005) if w["packets"] else sh == 0, (p, w)
    print("%s: %d windows, %d packets, as in the capture" % (p, len(ws), got))
cut = truth["cut"]
inside = [w for w in S60["198.51.100.0/24"] if t(w["from"]) >= cut[0] + 10 and t(w["to"]) <= cut[1]]
assert len(inside) >= 5 and all(w["packets"] == 0 and w["active_clients"] == 0 for w in inside), inside
east = [w for w in S60["2001:db8:a::/48"] if t(w["from"]) >= cut[0] + 10 and t(w["to"]) <= cut[1]]
assert all(w["packets"] > 0 and w["active_clients"] > 0 for w in east), east
web = [w["class_shares"]["web"] for w in S600["2001:db8:a::/48"] if w["packets"] > 100]
assert web and all(0.8 < x < 0.97 for x in web), web
print("north empty for %d windows inside its cut, east not; web share %.2f-%.2f" % (len(inside), min(web), max(web)))
PY
ok "windows without a hole; packets as in the capture; 60 s and 600 s windows agree; north empty in its cut"

if [ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then
  "$TW" --events --replay "$W/part2_cut.pcap" -c "$W/tw.conf" --set shutdown.summary_interval=60 --replay-engine bpf \
    --alerts "$W/bpf.json" 2>"$W/bpf.err" || fail "bpf engine: $(cat "$W/bpf.err")"
  "$TW" --events --replay "$W/part2_cut.pcap" -c "$W/tw.conf" --set shutdown.summary_interval=60 \
    --alerts "$W/user.json" 2>"$W/user.err" || fail "user engine"
  grep prefix_summary "$W/user.json" >"$W/u" && grep prefix_summary "$W/bpf.json" >"$W/b" || fail "no summaries"
  cmp -s "$W/u" "$W/b" || fail "the BPF engine's summaries differ: $(diff "$W/u" "$W/b" | head -4)"
  ok "the BPF engine writes the same $(wc -l <"$W/u") summaries as the user engine"
else
  echo "note: not root: the BPF engine's summaries not compared"
fi
