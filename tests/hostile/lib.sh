# shellcheck shell=bash
# Shared by tests/hostile/test_*.sh: hostile input against the real daemon
# and CLI.  No namespaces: servers listen on loopback and on Unix sockets in
# a private work directory.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
TW=${TW:-$PWD/build/tamperwatchd}
CLI=${CLI:-$PWD/build/tamperwatch}
WORK=$(mktemp -d /tmp/tw-hostile.XXXXXX)
# the interpreter itself, not a pyenv shim (1 s a call on a busy machine)
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || PY=python3
HELD_PID="" HELD_FD=""
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
ok()   { echo "ok: [${SECONDS}s] $*"; }
cleanup() {
  [ -n "$HELD_PID" ] && kill "$HELD_PID" 2>/dev/null && wait "$HELD_PID" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
[ -x "$TW" ] && [ -x "$CLI" ] || fail "build/tamperwatchd or build/tamperwatch missing: run make"

# FILE (a pcap), then 2 MiB of non-IP frames at its last timestamp: a reader
# of a pipe has certainly passed FILE's last packet
feed() {
  python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(d)
off, last = 24, 0   # the last record's timestamp
while off + 16 <= len(d):
    last, _, incl, _ = struct.unpack("<IIII", d[off:off + 16]); off += 16 + incl
frame = b"\x02" * 6 + b"\x04" * 6 + b"\x88\xb5" + b"\0" * 1000   # local experimental ethertype: not IP
rec = struct.pack("<IIII", last, 999999, len(frame), len(frame)) + frame
sys.stdout.buffer.write(rec * 2100)
PY
}

# A daemon replaying stdin that stays open: it serves its control socket
# $WORK/ctl.sock (and any --metrics given) until held_stop.  Feeds FILE
# (feed), then waits until the daemon has written MIN alert lines.
#   held_start FILE MIN [tamperwatchd args...]   (output: $WORK/held.json)
held_start() {
  local file=$1 min=$2; shift 2
  rm -f "$WORK/held.in"; mkfifo "$WORK/held.in"
  "$TW" --events --replay - --alerts "$WORK/held.json" --control "$WORK/ctl.sock" "$@" <"$WORK/held.in" 2>"$WORK/held.err" &
  HELD_PID=$!
  exec {HELD_FD}>"$WORK/held.in"
  feed "$file" >&"$HELD_FD" || fail "feeding the held replay"
  for _ in $(seq 100); do
    "$CLI" --socket "$WORK/ctl.sock" --json status 2>/dev/null |
      python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["alert_lines"] < int(sys.argv[1]))' "$min" && return 0
    kill -0 "$HELD_PID" 2>/dev/null || fail "held replay exited: $(cat "$WORK/held.err")"
    sleep 0.1
  done
  fail "held replay: fewer than $min alert lines: $(cat "$WORK/held.err")"
}
held_stop() {
  exec {HELD_FD}>&-
  wait "$HELD_PID"; local rc=$?
  HELD_PID=""
  return $rc
}
