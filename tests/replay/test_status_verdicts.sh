#!/usr/bin/env bash
# `tamperwatch status` counts every per-flow verdict by method: the crafted
# incident's forged RSTs (tests/replay/craft_alerts.py) show as
# rst_injection, and verdicts_total is the sum of the methods listed.  (The
# status once read the verdict engine's private method numbering with
# another file's, and left rst_injection out.)  The daemon replays the
# capture, then stays up reading stdin (a fifo) so the socket can be asked.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
CLI=build/tamperwatch
W=$(mktemp -d /tmp/tw-statusv.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; exec 9>&-; rm -rf "$W"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 tests/replay/craft_alerts.py "$W" >/dev/null || fail craft
mkfifo "$W/fifo"
"$TW" --events --replay "$W/incident.pcap" --replay - --alerts "$W/out.json" --control "$W/ctl.sock" <"$W/fifo" 2>"$W/err" &
PID=$!
exec 9>"$W/fifo"
for _ in $(seq 50); do
  "$CLI" --socket "$W/ctl.sock" --json status >"$W/status.json" 2>/dev/null &&
    python3 - "$W/status.json" "$W/out.json" <<'PY' && break
import json, sys  # the replay is done: the snapshot has every verdict the log has
n = sum('"event_type":"tamper"' in l for l in open(sys.argv[2]))
sys.exit(0 if n and sum(json.load(open(sys.argv[1]))["verdicts"].values()) >= n else 1)
PY
  sleep 0.2
done
python3 - "$W/status.json" "$W/out.json" <<'PY' || fail "status: $(cat "$W/status.json"; cat "$W/err")"
import json, sys
s = json.load(open(sys.argv[1]))
v = s["verdicts"]
tampers = [json.loads(l)["tamper"]["method"] for l in open(sys.argv[2]) if '"event_type":"tamper"' in l]
print("status verdicts:", v, "total", s["verdicts_total"], "tamper lines:", len(tampers))
assert set(v) == {"rst_injection", "http_blockpage", "dns_injection", "tls_interference", "blackhole", "throttling",
                  "http_injection", "quic_interference"}, v
assert v["rst_injection"] == tampers.count("rst_injection") > 0, (v, tampers)
assert s["verdicts_total"] == sum(v.values()) == len(tampers), s
PY
echo "ok: status counts rst_injection verdicts"
