#!/usr/bin/env bash
# Evidence pcaps (README "Evidence"): replaying the crafted incident with
# --evidence and --state, every alert line names a pcap that exists and that
# tshark reads; it holds the forged RSTs (TTL 118, RST+ACK) with correct
# checksums, clients only as pseudonyms inside their /24s, and none of the
# client addresses anywhere in its bytes (text or 4-byte binary).  The same
# key (state dir) gives the same pseudonyms, another key different ones.
# The injected block page and the forged DNS answer are kept.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
W=$(mktemp -d /tmp/tw-evidence.XXXXXX); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 tests/replay/craft_alerts.py "$W" >/dev/null || fail craft_alerts
python3 tests/replay/craft_verdicts.py "$W" >/dev/null || fail craft_verdicts
CLIENTS="198.51.100.7 192.0.2.44 100.64.1.9"

# run NAME STATE_DIR [args...]: replay, then print "client-ip-in-pcap" pairs
run() {
  local name=$1 state=$2; shift 2
  "$TW" --evidence "$W/$name.ev" --state "$state" --alerts "$W/$name.json" "$@" 2>"$W/$name.err" ||
    fail "$name: exit $?: $(cat "$W/$name.err")"
}

# check NAME: the alert lines name existing files; every file is clean
check() {
  python3 - "$W/$1.json" "$CLIENTS" <<'PY' || fail "$1: alert lines / files"
import json, os, socket, sys
A = [json.loads(l) for l in open(sys.argv[1]) if '"event_type":"alert"' in l]
assert A, "no alert raised"
files = set()
for a in A:
    p = a["evidence"].get("pcap")
    assert p and p.endswith(a["alert"]["id"] + ".pcap"), a["evidence"]
    assert os.path.getsize(p) > 24, p
    files.add(p)
for p in files:
    data = open(p, "rb").read()
    for c in sys.argv[2].split():
        assert c.encode() not in data, (p, "text", c)
        assert socket.inet_aton(c) not in data, (p, "binary", c)
print("\n".join(sorted(files)))
PY
}

# fields of every packet of FILE, tab-separated
fields() {
  tshark -r "$1" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields \
    -e ip.src -e ip.dst -e ip.ttl -e tcp.flags -e ip.checksum.status -e tcp.checksum.status -e udp.checksum.status \
    -e http.response.code -e dns.a 2>/dev/null
}

# 1. the incident: forged RSTs, three clients in three /24s
run inc1 "$W/s1" --events --replay "$W/incident.pcap"
F1=$(check inc1) || exit 1
[ "$(echo "$F1" | wc -l)" = 1 ] || fail "one alert, one file expected: $F1"
fields "$F1" >"$W/inc1.tsv"
[ -s "$W/inc1.tsv" ] || fail "tshark read nothing from $F1"
python3 - "$W/inc1.tsv" <<'PY' || fail "incident pcap content"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
rst = [r for r in rows if r[3] == "0x0014"]
assert len(rst) >= 3, ("forged RSTs", len(rst))
assert all(r[2] == "118" for r in rst), [r[2] for r in rst]
assert all(r[4] == "1" for r in rows), "IP header checksum not good on every packet"   # 1 = good (0 bad, 2 unverified)
assert all(r[5] == "1" for r in rst), "RST TCP checksum not good"
assert all(r[5] != "0" and r[6] != "0" for r in rows), "a bad L4 checksum"
clients = {r[1] if r[0] == "203.0.113.5" else r[0] for r in rows}
nets = {c.rsplit(".", 1)[0] for c in clients}
assert nets == {"198.51.100", "192.0.2", "100.64.1"}, nets
assert len(clients) == 3, ("one pseudonym per client", clients)
assert not clients & {"198.51.100.7", "192.0.2.44", "100.64.1.9"}, clients
print(f"incident: {len(rows)} packets, {len(rst)} forged RSTs (TTL 118), clients {sorted(clients)}")
PY
[ "$(stat -c %a "$W/s1/pseudonym.key")" = 600 ] || fail "pseudonym key not mode 0600"

# 2. same key, fresh alert state: the same pseudonyms
mkdir -p "$W/s2" && cp "$W/s1/pseudonym.key" "$W/s2/"
run inc2 "$W/s2" --events --replay "$W/incident.pcap"
F2=$(check inc2) || exit 1
pseudo() { fields "$1" | awk -F'\t' '{print ($1=="203.0.113.5") ? $2 : $1}' | sort -u; }
[ "$(pseudo "$F1")" = "$(pseudo "$F2")" ] || fail "same key, different pseudonyms: $(pseudo "$F1") / $(pseudo "$F2")"
# 3. another state dir (another key): different pseudonyms
run inc3 "$W/s3" --events --replay "$W/incident.pcap"
F3=$(check inc3) || exit 1
[ "$(pseudo "$F1")" != "$(pseudo "$F3")" ] || fail "another key gave the same pseudonyms"
echo "pseudonyms: key 1 $(pseudo "$F1" | tr '\n' ' '); key 2 $(pseudo "$F3" | tr '\n' ' ')"

# 4. the injected block page is kept (the censor's), the request is not
run bp "$W/s4" --events --replay "$W/blockpage.pcap" --set alerts.min_flows=1
FB=$(check bp) || exit 1
fields "$FB" | awk -F'\t' '$8=="451"' | grep -q . || fail "block page (451) not in $FB"
grep -q "blocked by order" "$FB" || fail "block page body not kept"
grep -q "GET / HTTP" "$FB" && fail "client request payload kept"

# 5. the forged DNS answer and the genuine one are kept
run dns "$W/s5" --events --replay "$W/dns_race.pcap" --set alerts.min_flows=1
FD=$(check dns) || exit 1
A=$(fields "$FD" | awk -F'\t' '$9!=""{print $3, $9}' | sort)
echo "$A" | grep -q "^120 203.0.113.250$" || fail "forged answer (TTL 120) missing: $A"
echo "$A" | grep -q "^61 203.0.113.10$" || fail "genuine answer missing: $A"

# 6. the stats record counts what evidence did
python3 - "$W/inc1.json" <<'PY' || fail "stats"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"event_type":"stats"' in l][-1]["stats"]["evidence"]
assert s["flows_written"] >= 3 and s["write_errors"] == 0 and s["memory_bytes"] >= 0, s
print("stats:", s)
PY
echo "PASS evidence"
