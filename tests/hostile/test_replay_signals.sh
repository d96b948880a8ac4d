#!/usr/bin/env bash
# A replay stops when told (issue 20, 3 and 5): SIGTERM or SIGINT ends it
# within a second, cleanly (exit 0, the closing stats record written, no
# error message), also while it skips an endless run of unusable records
# and while it waits for more input on a pipe; packets already in the pipe
# are processed first (the same lines as a replay of the file); SIGHUP
# does not end the wait.
. "$(dirname "$0")/lib.sh"
python3 tests/replay/craft_alerts.py "$WORK/craft" || fail craft
INC=$WORK/craft/incident.pcap
gzip -c "$INC" >"$WORK/incident.pcap.gz"
"$TW" --events --replay "$INC" --alerts "$WORK/ref.json" 2>/dev/null || fail "reference run"

stops() {  # PID NAME: the daemon exits 0 within 1 s of SIGTERM
  local p=$1 i
  kill -TERM "$p"
  for i in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$p" 2>/dev/null; then kill -9 "$p"; wait "$p" 2>/dev/null; fail "$2: still running 1 s after SIGTERM"; fi
  wait "$p" || fail "$2: exit $? after SIGTERM: $(cat "$WORK/$2.err")"
  [ ! -s "$WORK/$2.err" ] || ! grep -qiv "packets; skipped" "$WORK/$2.err" || fail "$2: error message: $(cat "$WORK/$2.err")"
  tail -n1 "$WORK/$2.json" | python3 -c 'import json,sys; assert json.load(sys.stdin)["final"]' || fail "$2: no closing stats record"
}

# an endless run of zero-length records (skipped, never a packet), written
# faster than they are read: the reader never waits for input
cat >"$WORK/zero.py" <<'PY'
import struct, sys
sys.stdout.buffer.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
chunk = struct.pack("<IIII", 1700000000, 0, 0, 0) * 65536
try:
    while True: sys.stdout.buffer.write(chunk)
except BrokenPipeError: pass
PY
for sig in TERM INT; do
  "$PY" "$WORK/zero.py" 2>/dev/null | "$TW" --events --replay - --alerts "$WORK/zero$sig.json" 2>"$WORK/zero$sig.err" & P=$!
  sleep 1.5
  kill -0 $P || fail "zero-length records: exited early: $(cat "$WORK/zero$sig.err")"
  if [ $sig = TERM ]; then stops $P zero$sig; else
    kill -INT $P; sleep 1; kill -0 $P 2>/dev/null && { kill -9 $P; fail "SIGINT ignored while skipping"; }
    wait $P || fail "SIGINT: exit $?"
  fi
  n=$(tail -n1 "$WORK/zero$sig.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["replay"]["skipped_truncated_l2"])')
  [ "$n" -gt 0 ] || fail "zero-length records not counted"
done
ok "endless unusable records: SIGTERM and SIGINT stop the replay within 1 s, exit 0, $n skipped records counted"

# a pipe that stays open after the capture: plain and gzip
for f in "$INC" "$WORK/incident.pcap.gz"; do
  name=$(basename "$f" | tr . _)
  rm -f "$WORK/pipe"; mkfifo "$WORK/pipe"
  "$TW" --events --replay - --alerts "$WORK/$name.json" <"$WORK/pipe" 2>"$WORK/$name.err" & P=$!
  exec {F}>"$WORK/pipe"
  cat "$f" >&$F
  sleep 1
  kill -HUP $P; sleep 0.3
  kill -0 $P || fail "$name: SIGHUP ended the replay: $(cat "$WORK/$name.err")"
  stops $P "$name"
  exec {F}>&-
  cmp -s <(grep -v '"stats"' "$WORK/ref.json") <(grep -v '"stats"' "$WORK/$name.json") ||
    fail "$name: the packets in the pipe were not all processed: $(grep -vc '"stats"' "$WORK/$name.json") of $(grep -vc '"stats"' "$WORK/ref.json") lines"
done
ok "waiting on a pipe (plain, gzip): SIGHUP goes on waiting; SIGTERM stops cleanly after every packet in the pipe"
