#!/usr/bin/env bash
# The alert log on a full disk loses nothing silently and never fuses lines
# (issue 20, 2): --alerts /dev/full fails loudly (stderr, exit 1); on a
# full 64 KiB tmpfs the lines the file refused are counted and said, the
# exit status is 1, and every line that reached the file is whole JSON (a
# line cut by a short write is removed); when space returns mid-run the cut
# line is completed and nothing is lost.
. "$(dirname "$0")/lib.sh"
python3 tests/replay/craft_alerts.py "$WORK/craft" || fail craft
INC=$WORK/craft/incident.pcap
"$TW" --events --replay "$INC" --alerts "$WORK/ref.json" 2>/dev/null || fail "reference run"
REF=$(wc -l <"$WORK/ref.json")
valid() {  # FILE: every line one JSON object, the file ends with a newline; prints the line count
  python3 - "$1" <<'PY'
import json, sys
d = open(sys.argv[1], "rb").read()
assert not d or d.endswith(b"\n"), "ends mid-line"
for i, l in enumerate(d.splitlines(), 1):
    try: json.loads(l)
    except Exception as e: sys.exit(f"line {i} is not JSON ({e}): {l[:120]!r}...{l[-60:]!r}")
print(len(d.splitlines()))
PY
}

# /dev/full: every line refused
"$TW" --events --replay "$INC" --alerts /dev/full 2>"$WORK/full.err"; rc=$?
[ $rc = 1 ] && grep -q "^tamperwatchd: /dev/full: write failed: No space left on device" "$WORK/full.err" &&
  grep -q "^tamperwatchd: /dev/full: $REF lines lost to failed writes" "$WORK/full.err" ||
  fail "/dev/full: rc $rc: $(cat "$WORK/full.err")"
[ "$(grep -c 'write failed' "$WORK/full.err")" -le 2 ] || fail "/dev/full: stderr not rate-limited: $(wc -l <"$WORK/full.err") lines"
ok "--alerts /dev/full: exit 1, the failure and all $REF lost lines said on stderr, rate-limited"

# a log an earlier run left ending mid-line: our first line starts on a line of its own
printf '{"cut short by an earlier r' >"$WORK/old.json"
"$TW" --events --replay "$INC" --alerts "$WORK/old.json" 2>"$WORK/old.err" || fail "old log: rc $?: $(cat "$WORK/old.err")"
[ "$(head -n1 "$WORK/old.json")" = '{"cut short by an earlier r' ] && tail -n +2 "$WORK/old.json" >"$WORK/old.rest" &&
  n=$(valid "$WORK/old.rest") && [ "$n" = "$REF" ] || fail "old log ending mid-line: $(head -c 300 "$WORK/old.json")"
ok "a log ending mid-line: the fragment stays alone on its line, all $REF new lines whole"

[ "$(id -u)" = 0 ] || skip "not root: no tmpfs for the full-disk cases"
mkdir "$WORK/small" && mount -t tmpfs -o size=64k tw-hostile "$WORK/small" || skip "cannot mount a tmpfs"
P=""
trap '[ -n "$P" ] && kill $P 2>/dev/null && wait $P; umount "$WORK/small" 2>/dev/null; cleanup' EXIT

# a disk that stays full: lines lost are counted, what is in the file is whole
"$TW" --events --replay "$INC" --alerts "$WORK/small/out.json" 2>"$WORK/small.err"; rc=$?
n=$(valid "$WORK/small/out.json") || fail "full disk: $n"
lost=$(sed -n 's/.*out.json: \([0-9]*\) lines lost to failed writes.*/\1/p' "$WORK/small.err")
[ $rc = 1 ] && [ -n "$lost" ] && [ $((n + lost)) = "$REF" ] && [ "$n" -gt 0 ] ||
  fail "full disk: rc $rc, $n lines in the file, lost '$lost', reference $REF: $(cat "$WORK/small.err")"
ok "full disk: $n lines whole in the file + $lost lost (said) = $REF; exit 1"

# space returns mid-run: the cut line is completed, nothing lost
rm -f "$WORK/small/out.json"
head -c 40960 /dev/zero >"$WORK/small/filler"
mkfifo "$WORK/in2"
"$TW" --events --replay - --alerts "$WORK/small/out.json" <"$WORK/in2" 2>"$WORK/back.err" & P=$!
exec {F}>"$WORK/in2"
feed "$INC" >&$F
for _ in $(seq 100); do grep -q "write failed" "$WORK/back.err" && break; sleep 0.1; done
grep -q "write failed" "$WORK/back.err" || fail "space returns: the disk never filled: $(cat "$WORK/back.err")"
mount -o remount,size=1m "$WORK/small" || fail "remount"  # space returns
exec {F}>&-
wait $P; rc=$?; P=""
n=$(valid "$WORK/small/out.json") || fail "space returns: $n"
cut=$(tail -n1 "$WORK/small/out.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["output_lines_cut"])')
[ $rc = 0 ] && [ "$n" = "$REF" ] && [ "$cut" -ge 1 ] ||
  fail "space returns: rc $rc, $n of $REF lines, $cut cut: $(cat "$WORK/back.err")"
cmp -s <(grep -v '"stats"' "$WORK/ref.json") <(grep -v '"stats"' "$WORK/small/out.json") || fail "space returns: lines differ"
ok "space returns: the cut line completed ($cut cut), all $REF lines whole and in order, exit 0"
