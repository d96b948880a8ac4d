#!/usr/bin/env bash
# tamperwatch, the operator's CLI, against a live tamperwatchd on the veth
# topology of tests/live: status after real traffic; the control socket's
# permissions (file mode, then SO_PEERCRED); a second daemon on the same
# socket refused, a stale socket replaced, a non-socket left alone; a real
# alert (the crafted incident frames sent into the monitored link) seen by
# `alerts` and `targets`, and its report bundle: the members, the alert's
# lines exactly as logged, its picture (tests/outputs/plotcheck.py: valid
# SVG, a PNG that decodes, the alert's own figures), no client address anywhere.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
. tests/live/traffic.sh
need_root
command -v tcpreplay >/dev/null || skip "tcpreplay not installed (scripts/install-deps.sh)"
command -v setpriv >/dev/null || skip "setpriv not installed"
command -v xmllint >/dev/null || skip "xmllint not installed (libxml2-utils; scripts/install-deps.sh)"
CLI=$PWD/build/tamperwatch
[ -x "$CLI" ] || fail "build/tamperwatch missing: run make"
topo_up
chmod 755 "$WORK"
SOCK=$WORK/ctl/tw.sock
tw() { "$CLI" --socket "$SOCK" "$@"; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

python3 tests/replay/craft_alerts.py "$WORK/craft" || fail "craft"
# short flow timeouts: the live clock is wall time; updates as soon as they change
tw_start "$WORK/live.json" -i gw-cli -i gw-srv --control "$SOCK" --set flows.tcp_closed=1 \
  --set flows.udp_idle=2 --set alerts.update_interval=0

# ---- the socket's file and directory --------------------------------------
[ "$(stat -c '%a %U %F' "$WORK/ctl")" = "700 root directory" ] || fail "socket dir: $(stat -c '%a %U %F' "$WORK/ctl")"
[ "$(stat -c '%a %U %F' "$SOCK")" = "600 root socket" ] || fail "socket: $(stat -c '%a %U %F' "$SOCK")"
ok "socket directory 0700, socket 0600, owned by root"

# ---- status after real traffic ---------------------------------------------
run_traffic
for i in $(seq 50); do
  tw --json status >"$WORK/status.json" || fail "status: rc $?"
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["packets"] > 0 and s["flows_new"] > 0 else 1)' "$WORK/status.json" && break
  sleep 0.2
done
python3 - "$WORK/status.json" <<'PY' || fail "status: $(cat "$WORK/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
names = sorted(l["name"] for l in s["interfaces"])
assert names == ["gw-cli", "gw-srv"], names
assert all(l["mode"].startswith("xdp") and l["up"] is True for l in s["interfaces"]), s["interfaces"]
assert s["backend"] == "xdp" and s["packets"] > 0 and s["bytes"] > s["packets"], s
assert s["events"] > 0 and s["events_lost"] == 0, s
assert s["open_alerts"] == 0 and s["parse_errors"]["events_malformed"] == 0, s
print("status:", json.dumps({k: s[k] for k in ("packets", "bytes", "flows_active", "events", "events_lost", "open_alerts")}))
PY
tw status >"$WORK/status.txt" || fail "status (text): rc $?"
cat "$WORK/status.txt"
grep -q "^  gw-cli .*xdp.* up$" "$WORK/status.txt" && grep -q "^  gw-srv .*xdp.* up$" "$WORK/status.txt" &&
  grep -q "^events: .*lost 0$" "$WORK/status.txt" || fail "status text: $(cat "$WORK/status.txt")"
ok "status shows the interfaces, packets and no lost events"

# ---- who may talk -----------------------------------------------------------
mkdir -p "$WORK/bin" && cp "$CLI" "$WORK/bin/" && chmod 755 "$WORK/bin"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$WORK/bin/tamperwatch" --socket "$SOCK" "$@"; }
nobody status >"$WORK/nobody.out" 2>"$WORK/nobody.err"; rc=$?
[ $rc = 3 ] && grep -q "$SOCK" "$WORK/nobody.err" && grep -q "root" "$WORK/nobody.err" ||
  fail "non-root through the file mode: rc $rc: $(cat "$WORK/nobody.err")"
# open the file mode: SO_PEERCRED must still refuse, and count it
chmod 711 "$WORK/ctl"; chmod 666 "$SOCK"
nobody status >"$WORK/nobody.out" 2>"$WORK/nobody.err"; rc=$?
chmod 700 "$WORK/ctl"; chmod 600 "$SOCK"
[ $rc = 1 ] && grep -q "permission denied: uid 65534" "$WORK/nobody.err" && [ ! -s "$WORK/nobody.out" ] ||
  fail "non-root through SO_PEERCRED: rc $rc: $(cat "$WORK/nobody.err" "$WORK/nobody.out")"
tw --json status | jq_py 'assert d["control"]["refused"] == 1, d["control"]' || fail "refusal not counted"
ok "non-root refused by the file mode (exit 3) and by SO_PEERCRED (exit 1, counted)"

# ---- one daemon per socket; stale sockets; not-a-socket -----------------------
ip netns exec $NS_G "$TW" -i gw-cli --control "$SOCK" --alerts /dev/null 2>"$WORK/second.err"; rc=$?
[ $rc = 3 ] && [ "$(wc -l <"$WORK/second.err")" = 1 ] && grep -q "another tamperwatchd is listening" "$WORK/second.err" ||
  fail "second daemon: rc $rc: $(cat "$WORK/second.err")"
tw status >/dev/null || fail "first daemon lost its socket to the second"
ip -n $NS_G -d link show dev gw-cli | grep -q 'prog/xdp' || fail "second daemon took the first one's XDP program away"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$WORK/stale.sock"
"$TW" --events --replay "$WORK/craft/benign.pcap" --set control.socket="$WORK/stale.sock" --alerts /dev/null 2>"$WORK/stale.err" ||
  fail "stale socket: rc $?: $(cat "$WORK/stale.err")"
grep -q "replaced a stale socket" "$WORK/stale.err" || fail "stale socket not reported: $(cat "$WORK/stale.err")"
[ -e "$WORK/stale.sock" ] && fail "socket left behind after exit"
echo keep >"$WORK/file.sock"
"$TW" --events --replay "$WORK/craft/benign.pcap" --control "$WORK/file.sock" --alerts /dev/null 2>"$WORK/file.err"; rc=$?
[ $rc = 3 ] && grep -q "not a socket" "$WORK/file.err" && [ "$(cat "$WORK/file.sock")" = keep ] ||
  fail "non-socket path: rc $rc: $(cat "$WORK/file.err")"
printf '[control]\nsocket = %0200d\n' 0 >"$WORK/bad.conf"
"$TW" --check-config -c "$WORK/bad.conf" 2>"$WORK/badconf.err"; rc=$?
[ $rc = 2 ] && grep -q "bad.conf:2: control.socket" "$WORK/badconf.err" || fail "bad control.socket: rc $rc: $(cat "$WORK/badconf.err")"
ok "second daemon refused (exit 3), stale socket replaced, a file in the way left alone, bad control.socket named"

# ---- hostile clients: silence, a line too long, garbage; the daemon goes on ----
python3 - "$SOCK" <<'PY' || fail "hostile clients"
import json, socket, sys
def ask(payload, shut=True):
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
    if payload: s.sendall(payload)
    if shut and payload is not None: s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    return json.loads(data.split(b"\n")[0])
r = ask(None)                               # connects, says nothing: timed out
assert r["ok"] is False and "in time" in r["error"], r
r = ask(b"alerts " + b"x" * 5000, shut=False)   # no newline, too long
assert r["ok"] is False and "longer than 4096" in r["error"], r
r = ask(b"\x00\xff\n")
assert r["ok"] is False, r
r = ask(b"report id=../../etc/passwd\n")
assert r["ok"] is False and "value must be" in r["error"], r
r = ask(b"status")                           # EOF ends the request
assert r["ok"] is True, r
print("hostile clients answered:", r["status"]["control"])
c = r["status"]["control"]
assert c["timeouts"] == 1 and c["bad_requests"] == 3, c
PY
ok "silent, oversized and garbage requests refused and counted; daemon still serving"

# ---- command line ----------------------------------------------------------------
tw bogus 2>/dev/null; [ $? = 2 ] || fail "unknown command: not exit 2"
tw alerts --state maybe 2>/dev/null; [ $? = 2 ] || fail "bad --state: not exit 2"
tw alerts --since yesterday 2>/dev/null; [ $? = 2 ] || fail "bad --since: not exit 2"
tw report 2>/dev/null; [ $? = 2 ] || fail "report without id: not exit 2"
"$CLI" --socket "$WORK/none.sock" status 2>"$WORK/none.err"; rc=$?
[ $rc = 3 ] && grep -q "$WORK/none.sock" "$WORK/none.err" && grep -q "running" "$WORK/none.err" ||
  fail "no daemon: rc $rc: $(cat "$WORK/none.err")"
"$CLI" --help | grep -q "^Exit status" || fail "--help"
ok "usage errors exit 2, no daemon exits 3 naming the socket"

# ---- a real alert in the running daemon ---------------------------------------------
# the crafted incident's first half: forged RSTs racing the answers of blocked.example
ip netns exec $NS_C tcpreplay -q -i c-eth --topspeed "$WORK/craft/part1.pcap" >"$WORK/tcpreplay.log" 2>&1 ||
  fail "tcpreplay: $(cat "$WORK/tcpreplay.log")"
for i in $(seq 100); do
  tw --json alerts --state open >"$WORK/open.jsonl" || fail "alerts: rc $?"
  grep -q blocked.example "$WORK/open.jsonl" && break
  sleep 0.2
done
ID=$(python3 - "$WORK/open.jsonl" <<'PY'
import json, sys
A = [json.loads(l) for l in open(sys.argv[1])]
assert len(A) == 1, A
a = A[0]
assert a["target"]["domain"] == "blocked.example" and a["censorship"]["method"] == "rst_injection", a
assert a["alert"]["state"] in ("raised", "updated") and a["censorship"]["legitimacy"] == "undeclared", a
print(a["alert"]["id"])
PY
) || fail "no open alert for blocked.example: $(cat "$WORK/open.jsonl"; tail -5 "$WORK/live.json")"
# --json prints the daemon's lines verbatim: the open alert's line is in the log
grep -qxF "$(cat "$WORK/open.jsonl")" "$WORK/live.json" || fail "alerts --json is not the logged line"
tw alerts >"$WORK/alerts.txt" || fail "alerts (text)"
cat "$WORK/alerts.txt"
grep -q "^$ID .*rst_injection .*undeclared .*blocked.example:80/tcp" "$WORK/alerts.txt" || fail "alerts table: $(cat "$WORK/alerts.txt")"
[ "$(tw --json alerts --method dns_injection | wc -l)" = 0 ] || fail "--method filter"
[ "$(tw --json alerts --legitimacy declared | wc -l)" = 0 ] || fail "--legitimacy filter"
[ "$(tw --json alerts --category blocking --legitimacy undeclared --method rst_injection --since 1h | wc -l)" = 1 ] ||
  fail "combined filters"
[ "$(tw --json alerts --state resolved | wc -l)" = 0 ] || fail "--state resolved before resolution"
tw --json targets >"$WORK/targets.json" || fail "targets"
python3 - "$WORK/targets.json" "$ID" <<'PY' || fail "targets: $(cat "$WORK/targets.json")"
import json, sys
T = json.load(open(sys.argv[1]))["targets"]
t = T[0]
assert t["domain"] == "blocked.example" and t["ip"] == "203.0.113.5" and t["port"] == 80 and t["proto"] == "tcp", t
assert t["methods_seen"] == ["rst_injection"] and t["alert_id"] == sys.argv[2], t
assert t["tampered_flows"] >= 3 and t["clients"] == 3 and 0 < t["share"] <= 1, t
assert all(x["domain"] != "ok.example" for x in T), T
print("targets:", json.dumps(t))
PY
[ "$(tw --json targets --top 1 | jq_py 'print(len(d["targets"]))')" = 1 ] || fail "targets --top 1"
tw targets | tee "$WORK/targets.txt"
grep -q "^blocked.example .*rst_injection .*$ID" "$WORK/targets.txt" || fail "targets table: $(cat "$WORK/targets.txt")"
ok "alert $ID listed by alerts (filters hold) and targets"

# the second half: four more forged RSTs, then the block lifts -> resolved
ip netns exec $NS_C tcpreplay -q -i c-eth --topspeed "$WORK/craft/part2.pcap" >"$WORK/tcpreplay.log" 2>&1 ||
  fail "tcpreplay: $(cat "$WORK/tcpreplay.log")"
for i in $(seq 100); do
  [ "$(tw --json alerts --state resolved | grep -c "\"$ID\"")" = 1 ] && break
  sleep 0.2
done
[ "$(tw --json alerts --state resolved | grep -c "\"$ID\"")" = 1 ] || fail "alert not resolved: $(tw alerts)"
[ "$(tw --json alerts --state open | wc -l)" = 0 ] || fail "still open after resolution"
ok "alert $ID resolved"

# ---- the report bundle ------------------------------------------------------------------
mkdir "$WORK/rep" && (cd "$WORK/rep" && "$CLI" --socket "$SOCK" report "$ID" >"$WORK/report.out") || fail "report: rc $?"
B=$WORK/rep/tamperwatch-report-$ID.tar.gz
[ -s "$B" ] || fail "no $B: $(cat "$WORK/report.out")"
tw report "$ID" -o "$WORK/r2.tar.gz" >/dev/null || fail "report -o"
tw report 00000000deadbeef -o "$WORK/r3.tar.gz" 2>"$WORK/unknown.err"; rc=$?
[ $rc = 1 ] && grep -q "no alert 00000000deadbeef" "$WORK/unknown.err" && [ ! -e "$WORK/r3.tar.gz" ] ||
  fail "unknown alert: rc $rc: $(cat "$WORK/unknown.err")"
python3 - "$B" "$ID" "$WORK/live.json" <<'PY' || fail "report bundle"
import json, sys, tarfile
bundle, aid, log = sys.argv[1:]
tf = tarfile.open(bundle, "r:gz")
members = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}
logged = [l for l in open(log) if l.startswith("{") and json.loads(l).get("alert", {}).get("id") == aid]
pcap = json.loads(logged[-1]).get("evidence", {}).get("pcap")
want = {"README.txt", "alert.json", "timeline.txt", "plot.svg", "plot.png"} | ({"evidence.pcap"} if pcap else set())
assert set(members) == want, sorted(members)
lines = members["alert.json"].decode().splitlines(keepends=True)
assert lines == logged, (lines, logged)        # every line of the alert, exactly as logged
states = [json.loads(l)["alert"]["state"] for l in lines]
assert states[0] == "raised" and states[-1] == "resolved" and "updated" in states, states
tl = members["timeline.txt"].decode()
assert f"Alert {aid}" in tl and "raised" in tl and "resolved" in tl and "blocked.example" in tl, tl
rd = members["README.txt"].decode()
assert "tamperwatchd 0.1.0" in rd and "Privacy" in rd and aid in rd, rd
# whoever receives the bundle learns that capture addresses are pseudonyms,
# which may be some other client's real address
assert "keyed pseudonym" in rd and "never names who holds that address" in rd, rd
if pcap:
    assert members["evidence.pcap"] == open(pcap, "rb").read()
for name, data in members.items():
    for c in ("198.51.100.7", "192.0.2.44", "100.64.1.9", "198.51.100.2"):
        assert c.encode() not in data, (name, c)
print("report:", sorted(members), states)
PY
tar xzOf "$B" timeline.txt
cmp -s <(tar xzOf "$B" alert.json) <(tar xzOf "$WORK/r2.tar.gz" alert.json) || fail "report -o differs"
[ "$(tw report "$ID" -o - | tar tz | LC_ALL=C sort | tr '\n' ' ')" = "README.txt alert.json plot.png plot.svg timeline.txt " ] || fail "report -o -"
# the picture: valid SVG, a PNG that decodes, the alert's own figures plotted
python3 tests/outputs/plotcheck.py "$B" || fail "report plot"
grep -q "plot included" "$WORK/report.out" || fail "the CLI does not say the plot is included: $(cat "$WORK/report.out")"
ok "report bundle: members, every logged line of the alert, no client address"

tw_stop "$WORK/live.json"
[ -e "$SOCK" ] && fail "socket not removed at exit"
assert_detached
ok "daemon stopped, socket removed"
