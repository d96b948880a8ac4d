#!/usr/bin/env bash
# Syslog output against a real rsyslogd (README "Syslog").  rsyslogd runs
# with its own configuration: UDP and TCP inputs on free 127.0.0.1 ports and
# its own unix socket, each writing the raw message to a file, plus a file of
# what rsyslog's own RFC 5424 parser made of it.  The crafted captures of
# tests/replay/craft_alerts.py are replayed through tamperwatchd with the
# syslog target pointing at each input in turn.  Asserts: every alert line of
# the alert log arrives once, in order, as RFC 5424 (version 1, PRI from the
# facility and the documented severity mapping, SD-ID tamperwatch@32473 whose
# params match the alert, escaping of '"' '\' ']' in the operator's legal
# reference), rsyslog parses the same structured data and MSGID, and no client
# address is in any message.  A server that is down costs nothing but counted
# failures; a TCP server restarted mid-run gets the later messages after a
# reconnection.  Bad targets and facilities fail startup with one line.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
W=$(mktemp -d /tmp/tw-syslog.XXXXXX) || exit 1
RS_PID= TWP=
cleanup() {
  exec 9>&-
  [ -n "$TWP" ] && kill "$TWP" 2>/dev/null
  [ -n "$RS_PID" ] && kill "$RS_PID" 2>/dev/null
  wait 2>/dev/null; rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
ok() { echo "ok: $*"; }
command -v rsyslogd >/dev/null || skip "rsyslogd not installed (scripts/install-deps.sh)"
python3 tests/replay/craft_alerts.py "$W" || fail craft
printf 'blocked.example, rst_injection, Decree "7" [art. 3] \\ b, ,\n' >"$W/decl.csv"

read -r UPORT TPORT DPORT < <(python3 -c '
import socket
ss = [socket.socket(socket.AF_INET, t) for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_STREAM)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
cat >"$W/rsyslog.conf" <<RSCONF
global(workDirectory="$W")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
template(name="raw" type="string" string="%rawmsg%\n")
template(name="parsed" type="string" string="%protocol-version%|%app-name%|%msgid%|%structured-data%\n")
ruleset(name="udp") { action(type="omfile" file="$W/udp.log" template="raw") action(type="omfile" file="$W/udp.parsed" template="parsed") }
ruleset(name="tcp") { action(type="omfile" file="$W/tcp.log" template="raw") action(type="omfile" file="$W/tcp.parsed" template="parsed") }
ruleset(name="unix") { action(type="omfile" file="$W/unix.log" template="raw") action(type="omfile" file="$W/unix.parsed" template="parsed") }
input(type="imudp" address="127.0.0.1" port="$UPORT" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="$TPORT" ruleset="tcp")
input(type="imuxsock" Socket="$W/log.sock" UseSpecialParser="off" ParseHostname="on" ruleset="unix")
*.* action(type="omfile" file="$W/internal.log")
RSCONF
rs_start() {
  rsyslogd -n -f "$W/rsyslog.conf" -i "$W/rsyslog.pid" >>"$W/rsyslog.out" 2>&1 9>&- &   # not our fifo
  RS_PID=$!
  for i in $(seq 100); do
    [ -S "$W/log.sock" ] && ss -Hltn "sport = :$TPORT" | grep -q . && ss -Hlun "sport = :$UPORT" | grep -q . && return 0
    kill -0 $RS_PID 2>/dev/null || fail "rsyslogd exited: $(cat "$W/rsyslog.out")"
    sleep 0.1
  done
  fail "rsyslogd did not listen: $(cat "$W/rsyslog.out")"
}
rs_stop() { kill $RS_PID; wait $RS_PID 2>/dev/null; RS_PID=; rm -f "$W/log.sock"; }

# wait (bounded) until FILE has N lines
wait_lines() {
  for i in $(seq 100); do [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0; sleep 0.1; done
  fail "$1: $(cat "$1" 2>/dev/null | wc -l) lines, want $2; rsyslog: $(tail -3 "$W/internal.log" 2>/dev/null)"
}

# check.py ALERTLOG RAW PARSED FACILITY: the RFC 5424 assertions
cat >"$W/check.py" <<'PY'
import json, re, sys
alog, raw, parsed, fac = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
recs = [json.loads(l) for l in open(alog)]
alerts = [r for r in recs if r["event_type"] == "alert"]
msgs = open(raw).read().splitlines()
assert alerts and len(msgs) == len(alerts), (len(msgs), len(alerts))

def sd_parse(s):
    """[ID name="value"...]... -> (list of (id, {name: value}), rest); strict RFC 5424 6.3"""
    out, i = [], 0
    while i < len(s) and s[i] == "[":
        j = i + 1
        while s[j] not in ' ]': j += 1
        sdid, i, params = s[i + 1:j], j, {}
        while s[i] == " ":
            eq = s.index("=", i)
            name = s[i + 1:eq]
            assert re.fullmatch(r'[!#-<>-\\^-~]{1,32}', name), name
            assert s[eq + 1] == '"', s[eq:]
            i, v = eq + 2, ""
            while s[i] != '"':
                assert s[i] != "]", "unescaped ] in PARAM-VALUE"
                if s[i] == "\\" and s[i + 1] in '"\\]':
                    i += 1
                v += s[i]; i += 1
            params[name] = v; i += 1
        assert s[i] == "]", s[i:]
        out.append((sdid, params)); i += 1
    return out, s[i:]

def sev(a):
    if a["alert"]["state"] == "resolved": return 5
    return {1: 2, 2: 3, 3: 4}.get(a["alert"].get("severity"), 4)

escaped = 0
for m, a in zip(msgs, alerts):
    for c in ("198.51.100.7", "192.0.2.44", "100.64.1.9"):
        assert c not in m, (c, m)
    h = re.match(r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (.*)$", m)
    assert h, m
    pri, ts, host, app, pid, msgid, rest = h.groups()
    assert int(pri) == fac * 8 + sev(a), (pri, a["alert"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d", ts), ts
    assert ts[:26] == a["timestamp"][:26], (ts, a["timestamp"])
    assert app == "tamperwatchd" and msgid == "alert" and pid.isdigit(), (app, msgid, pid)
    sd, msg = sd_parse(rest)
    assert len(sd) == 1 and sd[0][0] == "tamperwatch@32473", sd
    p = sd[0][1]
    want = {"id": a["alert"]["id"], "state": a["alert"]["state"], "category": a["alert"]["category"],
            "method": a["censorship"]["method"], "legitimacy": a["censorship"]["legitimacy"],
            "domain": a["target"]["domain"], "ip": a["target"]["ip"], "port": str(a["target"]["port"]),
            "signature_id": str(a["alert"]["signature_id"]), "severity": str(a["alert"]["severity"])}
    if "legal_reference" in a["censorship"]:
        want["legal_reference"] = a["censorship"]["legal_reference"]
        escaped += '\\"' in m and '\\]' in m and '\\\\' in m
    for k, v in want.items():
        assert p.get(k) == v, (k, p.get(k), v)
    assert msg == " " + a["alert"]["signature"], msg
assert escaped == len(msgs), f"escapes in {escaped} of {len(msgs)} messages"
# rsyslog's own parser saw version 1, our APP-NAME and MSGID, and the same SD
pl = open(parsed).read().splitlines()
assert len(pl) == len(msgs), (len(pl), len(msgs))
for line, m in zip(pl, msgs):
    ver, app, msgid, sd = line.split("|", 3)
    assert (ver, app, msgid) == ("1", "tamperwatchd", "alert"), line
    assert sd.startswith("[tamperwatch@32473 id=") and sd in m, (sd, m)
print(f"{raw}: {len(msgs)} messages, ids {sorted({a['alert']['id'] for a in alerts})}, "
      f"states {[a['alert']['state'] for a in alerts]}")
PY

run() {  # name target facility [extra args]
  local name=$1 target=$2 fac=$3; shift 3
  "$TW" --events --replay "$W/incident.pcap" --declared "$W/decl.csv" --alerts "$W/$name.json" --set syslog.enabled=yes \
    --set "syslog.target=$target" --set "syslog.facility=$fac" "$@" 2>"$W/$name.err" || fail "$name: exit $?: $(cat "$W/$name.err")"
}
stats_of() {  # the final stats record's syslog counters: sent failed connects queued
  python3 -c 'import json,sys
s = [json.loads(l) for l in open(sys.argv[1]) if "\"stats\"" in l][-1]["stats"]["syslog"]
print(s["sent"], s["failed"], s["connects"], s["queued"])' "$1"
}

rs_start
N=$("$TW" --events --replay "$W/incident.pcap" --alerts - 2>/dev/null | grep -c '"event_type":"alert"')
[ "$N" -ge 3 ] || fail "the capture raised $N alert lines"
run udp "udp://127.0.0.1:$UPORT" local0
run tcp "tcp://127.0.0.1:$TPORT" local5
run unix "unix:$W/log.sock" daemon
for t in udp:16 tcp:21 unix:3; do
  n=${t%%:*}
  wait_lines "$W/$n.log" "$N"
  wait_lines "$W/$n.parsed" "$N"
  python3 "$W/check.py" "$W/$n.json" "$W/$n.log" "$W/$n.parsed" "${t##*:}" || fail "$n messages"
  read -r sent failed conn queued < <(stats_of "$W/$n.json")
  [ "$sent" = "$N" ] && [ "$failed" = 0 ] && [ "$queued" = 0 ] || fail "$n: sent $sent failed $failed queued $queued, want $N 0 0"
done
ok "udp, tcp and unix: $N RFC 5424 messages each, parsed by rsyslog, counted"

# a TCP server restarted mid-run: the daemon reconnects and the rest arrives.
# The capture comes through a fifo in two parts; the first is padded with
# 1.2 MiB of non-IP frames (counted, not tracked) because the capture reader
# reads 1 MiB at a time.
python3 - "$W/incident.pcap" "$W/first.pcap" "$W/rest.bin" <<'PY' || fail "split"
import struct, sys
d = open(sys.argv[1], "rb").read()
off, cut = 24, None
while off < len(d):
    ts, _, incl, _ = struct.unpack_from("<IIII", d, off)
    if cut is None and ts >= 1700000000 + 70:
        cut = off
    off += 16 + incl
assert cut
last = off = 24
while off < cut:
    last = off
    off += 16 + struct.unpack_from("<IIII", d, off)[2]
ts, us = struct.unpack_from("<II", d, last)
frame = b"\xff" * 12 + b"\x88\xb5" + bytes(986)        # local experimental EtherType
pad = (struct.pack("<IIII", ts, us, len(frame), len(frame)) + frame) * 1200
open(sys.argv[2], "wb").write(d[:cut] + pad); open(sys.argv[3], "wb").write(d[cut:])
PY
mkfifo "$W/fifo" || fail mkfifo
: >"$W/tcp.log"
"$TW" --events --replay - --alerts "$W/restart.json" --set syslog.enabled=yes --set "syslog.target=tcp://127.0.0.1:$TPORT" \
  <"$W/fifo" 2>"$W/restart.err" &
TWP=$!
exec 9>"$W/fifo"
cat "$W/first.pcap" >&9
wait_lines "$W/tcp.log" 1
rs_stop
rs_start
cat "$W/rest.bin" >&9
exec 9>&-
wait $TWP || fail "restart run: exit $?: $(cat "$W/restart.err")"
TWP=
wait_lines "$W/tcp.log" "$N"
read -r sent failed conn queued < <(stats_of "$W/restart.json")
[ "$sent" = "$N" ] && [ "$failed" = 0 ] && [ "$conn" -ge 2 ] || fail "restart: sent $sent failed $failed connects $conn"
[ "$(grep -c 'state="resolved"' "$W/tcp.log")" = 1 ] || fail "resolved not delivered after the restart"
ok "tcp server restarted mid-run: reconnected ($conn connections), all $N delivered"

# servers that are down: the run completes, every message counted as failed
rs_stop
for t in "tcp://127.0.0.1:$DPORT" "unix:$W/nosuch.sock"; do
  run down "$t" daemon
  read -r sent failed conn queued < <(stats_of "$W/down.json")
  [ "$sent" = 0 ] && [ "$failed" = "$N" ] && [ "$queued" = 0 ] || fail "$t down: sent $sent failed $failed queued $queued"
  [ "$(grep -c '"event_type":"alert"' "$W/down.json")" = "$N" ] || fail "$t down: alert log incomplete"
  rm -f "$W/down.json"
done
ok "servers down: runs complete, $N failures counted each"

# bad configuration: one line, exit 2, naming the key
for a in "syslog.target=udp://localhost:514" "syslog.target=tcp://127.0.0.1" "syslog.target=relative/path" \
         "syslog.facility=local9" "syslog.enabled=maybe"; do
  "$TW" --events --replay "$W/incident.pcap" --alerts /dev/null --set "$a" 2>"$W/bad.err"; rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$W/bad.err")" = 1 ] && grep -q "${a%%=*}" "$W/bad.err" || fail "$a: rc $rc: $(cat "$W/bad.err")"
done
printf '[syslog]\nenabled = yes\nfacility = nope\n' >"$W/bad.conf"
"$TW" --events --replay "$W/incident.pcap" --alerts /dev/null -c "$W/bad.conf" 2>"$W/bad.err"; rc=$?
[ $rc = 2 ] && grep -q "bad.conf:3: syslog.facility" "$W/bad.err" || fail "config file: rc $rc: $(cat "$W/bad.err")"
ok "bad targets and facilities refused"
echo "ok: syslog"
