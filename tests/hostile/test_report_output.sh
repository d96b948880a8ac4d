#!/usr/bin/env bash
# `tamperwatch report ID -o PATH` writes like a careful tool (issue 20, 1):
# a new name or a regular file gets the bundle through PATH.part-PID and a
# rename; an existing FIFO or character device is written through as a
# stream and stays what it was (a device that refuses the bytes, like
# /dev/full, is an error, exit 1); a symbolic link, a directory or a socket
# is refused before the daemon is asked, and left alone.
. "$(dirname "$0")/lib.sh"
python3 tests/replay/craft_alerts.py "$WORK/craft" || fail craft
ID=$("$TW" --events --replay "$WORK/craft/incident.pcap" --alerts - 2>/dev/null |
  python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin if "\"alert\"" in l][0]["alert"]["id"])') || fail "no alert"
held_start "$WORK/craft/incident.pcap" 3
rep() { "$CLI" --socket "$WORK/ctl.sock" report "$ID" "$@"; }

# a new name, then the same name again (a regular file is replaced whole)
rep -o "$WORK/r.tgz" >"$WORK/out" 2>"$WORK/err" || fail "new file: rc $?: $(cat "$WORK/err")"
grep -q "^wrote $WORK/r.tgz " "$WORK/out" && tar tzf "$WORK/r.tgz" >/dev/null || fail "new file: $(cat "$WORK/out")"
echo junk >"$WORK/r.tgz"
rep -o "$WORK/r.tgz" >/dev/null 2>"$WORK/err" && tar tzf "$WORK/r.tgz" >/dev/null || fail "replace a regular file"
ls "$WORK" | grep -q part- && fail "a .part file was left behind"
ok "new name and regular file: written whole, renamed into place"

# a FIFO: the bundle streams through it to whoever reads, the FIFO stays
mkfifo "$WORK/fifo"
timeout 30 cat "$WORK/fifo" >"$WORK/fromfifo" & R=$!
rep -o "$WORK/fifo" >"$WORK/out" 2>"$WORK/err"; rc=$?; wait $R
[ $rc = 0 ] && [ -p "$WORK/fifo" ] && cmp -s "$WORK/fromfifo" "$WORK/r.tgz" ||
  fail "FIFO: rc $rc, still a FIFO: $([ -p "$WORK/fifo" ] && echo yes || echo no): $(cat "$WORK/err" "$WORK/out")"
grep -q "^wrote through $WORK/fifo " "$WORK/out" || fail "FIFO message: $(cat "$WORK/out")"
ok "FIFO: written through as a stream, still a FIFO"

# a character device: /dev/null takes it; a /dev/full of our own refuses it
if [ "$(id -u)" = 0 ]; then
  mknod "$WORK/null" c 1 3 && mknod "$WORK/full" c 1 7 || fail mknod
  rep -o "$WORK/null" >/dev/null 2>"$WORK/err" && [ -c "$WORK/null" ] || fail "null device: $(cat "$WORK/err")"
  rep -o "$WORK/full" >"$WORK/out" 2>"$WORK/err"; rc=$?
  [ $rc = 1 ] && [ -c "$WORK/full" ] && [ ! -s "$WORK/out" ] && grep -q "$WORK/full: No space left on device" "$WORK/err" ||
    fail "full device: rc $rc, $(stat -c %F "$WORK/full"): $(cat "$WORK/err" "$WORK/out")"
  ok "character devices written through, never replaced; a full one is an error (exit 1)"
else
  echo "not root: character devices not tested"
fi

# refused: a symbolic link (to a file, to a device), a directory, a socket
echo precious >"$WORK/precious"
ln -s "$WORK/precious" "$WORK/link"
ln -s /dev/null "$WORK/devlink"
mkdir "$WORK/dir"
for p in link devlink dir ctl.sock; do
  before=$(stat -c '%F %s %Y' "$WORK/$p")
  rep -o "$WORK/$p" >"$WORK/out" 2>"$WORK/err"; rc=$?
  [ $rc = 1 ] && [ ! -s "$WORK/out" ] && [ "$(wc -l <"$WORK/err")" = 1 ] && grep -q "^tamperwatch: $WORK/$p: " "$WORK/err" ||
    fail "$p: rc $rc: $(cat "$WORK/err" "$WORK/out")"
  [ "$(stat -c '%F %s %Y' "$WORK/$p")" = "$before" ] || fail "$p was changed"
done
grep -q "symbolic link" <("$CLI" --socket "$WORK/ctl.sock" report "$ID" -o "$WORK/link" 2>&1) || fail "symlink message"
[ "$(cat "$WORK/precious")" = precious ] || fail "the symlink's target was changed"
ok "symbolic links, directories and sockets refused (exit 1, one line naming the path), left alone"
"$CLI" --socket "$WORK/ctl.sock" --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["control"]["requests"] >= 5, d' ||
  fail "status after the reports"
held_stop || fail "held replay: rc $?: $(cat "$WORK/held.err")"
