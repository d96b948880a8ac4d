#!/usr/bin/env bash
# bench_regions: loading a large regions.file (issue 20, 4).  Files of
# 100,000 IPv4 and 1,000,000 IPv6 prefixes are made here (build/bench/,
# never committed); tamperwatchd replays a tiny capture with each, so the
# time is the file's load (sort, duplicate check) plus a few lookups.
# Target: 100,000 lines under 2 s, 1,000,000 under 20 s (was 12 s and about
# 20 minutes with the quadratic duplicate check).  Exit 0 whatever the
# result (benchmarks report), 1 when tamperwatchd fails.
set -u
cd "$(dirname "$0")/.." || exit 1
TWD=build/tamperwatchd
B=build/bench
[ -x "$TWD" ] || { echo "SKIP: $TWD not built"; exit 77; }
mkdir -p "$B"
python3 - "$B" <<'PY' || exit 1
import ipaddress, os, struct, sys
b = sys.argv[1]
with open(os.path.join(b, "regions-100k.conf"), "w") as f:
    for i in range(100000): f.write(f"{ipaddress.IPv4Address(0x0a000000 + i * 256)}/24 r{i % 50}\n")
with open(os.path.join(b, "regions-1m.conf"), "w") as f:
    for i in range(1000000): f.write(f"{ipaddress.IPv6Address((0x20010db8 << 96) + (i << 64))}/64 r{i % 50}\n")
with open(os.path.join(b, "regions-empty.pcap"), "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
PY
for n in 100k 1m; do
  t0=$EPOCHREALTIME
  "$TWD" --events --replay "$B/regions-empty.pcap" --set regions.file="$B/regions-$n.conf" --alerts /dev/null || exit 1
  awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$n" 'BEGIN{printf "regions.file of %s lines: loaded in %.2f s\n", n, b-a}'
done
