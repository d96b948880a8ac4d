#!/usr/bin/env bash
# Frames longer than 65,549 bytes are cut, and said (issue 20, 10): one
# warning on stderr naming the file and packet, however many are cut, and
# every one counted in the stats record (replay.clipped_frames); the
# frames around them are processed as usual.
. "$(dirname "$0")/lib.sh"
"$PY" - "$WORK/big.pcap" <<'PY' || fail craft
import sys
sys.path.insert(0, "tests/replay")
from craft import eth, ipv4, udp, pcap
C, S = "198.51.100.7", "203.0.113.9"
small = eth(ipv4(C, S, 17, udp(40000, 9999, b"x" * 20)))
big = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + b"\x45" + b"\0" * 69999   # a 70,014-byte frame
recs = [(1700000000.0, small), (1700000000.1, big), (1700000000.2, big), (1700000000.3, small)]
open(sys.argv[1], "wb").write(pcap(1, recs, snap=262144))
PY
"$TW" --events --replay "$WORK/big.pcap" --alerts "$WORK/out.json" 2>"$WORK/err" || fail "exit $?: $(cat "$WORK/err")"
[ "$(grep -c 'cut to 65549' "$WORK/err")" = 1 ] && grep -q "big.pcap: packet 2: a frame of 70014 bytes cut to 65549" "$WORK/err" ||
  fail "warning: $(cat "$WORK/err")"
tail -n1 "$WORK/out.json" | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["stats"]["replay"]
assert r["clipped_frames"] == 2 and r["frames"] == 4, r' || fail "stats: $(tail -n1 "$WORK/out.json")"
ok "two 70,014-byte frames: cut, one warning naming packet 2, clipped_frames 2 of 4 frames"
