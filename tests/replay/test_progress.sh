#!/usr/bin/env bash
# Progress of a replay (daemon/util/progress.c): under a pseudo-terminal
# (script -qc) stderr shows the progress line (packets, bytes, rate, percent
# and time left of a file whose size is known; no percent for a pipe), and
# the line is cleared at the end; piped, stderr holds no trace of it; the
# JSON lines are the same either way.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
W=$(mktemp -d /tmp/tw-progress.XXXXXX); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
command -v script >/dev/null || { echo "SKIP: script (bsdutils) not installed"; exit 77; }

# 20000 UDP datagrams of one flow, a millisecond apart: more than one update's worth
python3 - "$W/big.pcap" <<'PY' || fail craft
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(20000):
        udp = struct.pack(">HHHH", 5000, 6000, 26, 0) + b"x" * 18
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                         bytes([203, 0, 113, 9]), bytes([198, 51, 100, 7]))
        pkt = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp
        f.write(struct.pack("<IIII", 1700000000 + i // 1000, (i % 1000) * 1000, len(pkt), len(pkt)) + pkt)
PY

# a terminal: the line is there, with percent and time left, and cleared at the end
script -qec "$TW --events --replay $W/big.pcap --alerts $W/tty.json" "$W/tty.typescript" </dev/null >/dev/null ||
  fail "replay under a terminal: rc $?"
tr '\r' '\n' <"$W/tty.typescript" >"$W/tty.txt"
grep -Eq '^.\[Kreplay: [0-9]+ packets, [0-9.]+ [KM]iB, [0-9.]+ [KM]?i?B/s, [0-9]+%, about [0-9]+ s left' "$W/tty.txt" ||
  fail "no progress line under a terminal: $(cat -v "$W/tty.typescript" | head -c 400)"
python3 -c '
import sys
t = open(sys.argv[1], "rb").read()
last = t.rfind(b"replay: ")
end = t.find(b"\n", last)
sys.exit(0 if last > 0 and t[last:end].rstrip(b"\r").endswith(b"\r\x1b[K") else 1)' "$W/tty.typescript" ||
  fail "the progress line was not cleared at the end"
ok "terminal: $(grep -m1 -a 'replay:' "$W/tty.txt" | cut -c4-)"

# a pipe on stdin: size unknown, so no percent nor time left
script -qec "cat $W/big.pcap | $TW --events --replay - --alerts $W/pipe.json" "$W/pipe.typescript" </dev/null >/dev/null ||
  fail "replay of stdin under a terminal: rc $?"
tr '\r' '\n' <"$W/pipe.typescript" | grep -Eq '^.\[Kreplay: [0-9]+ packets, [^%]*/s$' ||
  fail "stdin: $(cat -v "$W/pipe.typescript" | head -c 400)"
ok "terminal, stdin: packets, bytes and rate, no estimate"

# piped or redirected: nothing
"$TW" --events --replay "$W/big.pcap" --alerts "$W/piped.json" 2>&1 | cat >"$W/piped.err" || fail "piped replay"
[ ! -s "$W/piped.err" ] || fail "stderr not a terminal, yet: $(cat -v "$W/piped.err" | head -c 300)"
ok "piped: stderr empty"

# the records are the same (but the stats record's run times)
strip() { grep -v '"event_type":"stats"' "$1"; }
cmp -s <(strip "$W/tty.json") <(strip "$W/piped.json") || fail "records differ with a terminal"
[ "$(grep -c '"packets":20000' "$W/tty.json")" -ge 1 ] || fail "not every packet replayed"
ok "same records with and without a terminal"
