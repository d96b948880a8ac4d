#!/usr/bin/env bash
# The control socket under abuse (issue 20, 6 and 8): clients that connect
# and send nothing, or ask for a report and never read it, delay nobody
# (status answers at once); each idle one gets its timeout answer and is
# counted; more clients than slots wait, never starve; error answers are
# valid JSON (UTF-8) whatever bytes the request held, escaped as \xHH.
. "$(dirname "$0")/lib.sh"
python3 tests/replay/craft_alerts.py "$WORK/craft" || fail craft
ID=$("$TW" --events --replay "$WORK/craft/incident.pcap" --alerts - 2>/dev/null |
  "$PY" -c 'import json,sys; print([json.loads(l) for l in sys.stdin if "\"alert\"" in l][0]["alert"]["id"])') || fail "no alert"
held_start "$WORK/craft/incident.pcap" 3
SOCK=$WORK/ctl.sock
status_in() {  # SECONDS: `tamperwatch status` answers within SECONDS
  local t0=$EPOCHREALTIME
  timeout "$1" "$CLI" --socket "$SOCK" --json status >"$WORK/status.json" 2>"$WORK/status.err" ||
    fail "status not answered within $1 s: $(cat "$WORK/status.err")"
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}'
}

"$PY" - "$SOCK" "$CLI" "$ID" <<'PY' || fail "abuse"
import json, socket, subprocess, sys, time
sock, cli, aid = sys.argv[1:]
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(sock); return s
def answer(s):
    s.settimeout(10); d = b""
    while True:
        b = s.recv(65536)
        if not b: return d
        d += b
def status(limit):
    t = time.monotonic()
    r = subprocess.run([cli, "--socket", sock, "--json", "status"], capture_output=True, timeout=limit)
    assert r.returncode == 0, r
    return json.loads(r.stdout), time.monotonic() - t

# 20 clients that never send: status answers while they wait for their deadline
idle = [conn() for _ in range(20)]
time.sleep(0.2)
st, secs = status(5)
assert secs < 1.5, f"status took {secs:.2f} s behind 20 idle clients"
for s in idle:
    a = json.loads(answer(s).decode("utf-8"))
    assert a == {"ok": False, "error": "no complete request line in time"}, a
st2, _ = status(5)
assert st2["control"]["timeouts"] - st["control"]["timeouts"] == 20, (st["control"], st2["control"])
print(f"20 idle clients: status in {secs:.2f} s; each got its timeout answer, 20 counted")

# a report asked for and not read (it fits the socket buffer: this checks
# that the answer is kept whole while others are served)
slow = conn(); slow.sendall(f"report id={aid}\n".encode())
time.sleep(0.2)
_, secs = status(5)
assert secs < 1.5, f"status took {secs:.2f} s behind an unread report"
d = answer(slow); head, _, body = d.partition(b"\n")
h = json.loads(head)
assert h["ok"] and len(body) == h["report"]["bytes"], (head, len(body))
print(f"unread report: status in {secs:.2f} s; the report then arrives whole ({len(body)} bytes)")

# more clients than slots: the rest wait in the backlog, status gets through
idle = [conn() for _ in range(40)]
time.sleep(0.2)
_, secs = status(8)
print(f"40 idle clients (32 slots): status in {secs:.2f} s")
for s in idle: s.close()

# hostile bytes in requests: the error answer is JSON in strict UTF-8
for req, want in ((b"st\xffatus\n", "\\xff"), (b"\x1b[31mstatus\n", "\\x1b"), (b"report id=\xc3\n", "id: value must be"),
                  (b"status \xe2\x80\n", "\\xe2\\x80"), (b"x" * 5000, "request longer than 4096")):
    s = conn(); s.sendall(req)
    raw = answer(s)
    a = json.loads(raw.decode("utf-8", errors="strict"))
    assert a["ok"] is False and want in a["error"], (req[:20], raw)
    assert all(0x20 <= c < 0x7f for c in raw[:-1]), raw
print("hostile request bytes: answers are valid JSON, bytes shown as \\xHH")
PY
ok "control socket: idle and slow clients delay nobody; error answers are valid JSON"
held_stop || fail "held replay: rc $?: $(cat "$WORK/held.err")"
