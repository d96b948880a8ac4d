#!/usr/bin/env bash
# bench_nats: records per second the NATS publisher gets acknowledged by a
# real nats-server (JetStream, file store, loopback), one record in flight
# at a time.  The capture is the alert tests' incident (tests/replay/
# craft_alerts.py) repeated BENCH_NATS_REPEAT times (default 60) with
# shifted times: 15 records each.  3 runs with and without publishing,
# median wall time; the difference is the publishing.  Exit 0 whatever the
# result, 77 without nats-server, 1 when a run fails.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/outputs/nats_lib.sh
nats_own_netns "$0" "$@"
W=$(mktemp -d /tmp/tw-bench-nats.XXXXXX)
trap 'ns_cleanup; rm -rf "$W"' EXIT
REPEAT=${BENCH_NATS_REPEAT:-60}
python3 tests/replay/craft_alerts.py "$W/c" >/dev/null || { echo "FAIL: craft"; exit 1; }
python3 - "$W/c/incident.pcap" "$W/many.pcap" "$REPEAT" <<'PY' || { echo "FAIL: capture"; exit 1; }
import struct, sys
d = open(sys.argv[1], "rb").read(); recs = []; i = 24
while i + 16 <= len(d):
    s, us, incl, _ = struct.unpack_from("<IIII", d, i); recs.append((s, us, d[i + 16:i + 16 + incl])); i += 16 + incl
span = recs[-1][0] - recs[0][0] + 10; out = bytearray(d[:24])
for k in range(int(sys.argv[3])):
    for s, us, p in recs:
        out += struct.pack("<IIII", s + k * span, us, len(p), len(p)) + p
open(sys.argv[2], "wb").write(out)
PY
ns_start b1 14600
run() {  # on|off -> seconds
  local a=() s e
  [ "$1" = on ] && a=(--set nats.url=nats://127.0.0.1:14600 --set nats.site=bench-$RANDOM --set nats.drain_timeout=120)
  s=$EPOCHREALTIME
  "$TW" --events --replay "$W/many.pcap" --alerts "$W/$1.json" "${a[@]}" 2>"$W/$1.err" || { echo "FAIL: $1: $(cat "$W/$1.err")"; exit 1; }
  e=$EPOCHREALTIME
  awk -v a="$s" -v b="$e" 'BEGIN{printf "%.3f", b-a}'
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
off=(); on=()
for _ in 1 2 3; do off+=("$(run off)"); on+=("$(run on)"); done
n=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["stats"]["nats"]["published"])' "$W/on.json")
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
awk -v n="$n" -v a="$m_off" -v b="$m_on" 'BEGIN{
  printf "nats publisher: %d records acknowledged; replay %.3f s without, %.3f s with publishing: %.0f records/s (%.2f ms a record)\n",
    n, a, b, (b > a ? n / (b - a) : 0), (b > a ? (b - a) * 1000 / n : 0) }'
