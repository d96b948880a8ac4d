#!/usr/bin/env python3
"""Synthetic diurnal traffic for the shutdown replay test (tests/replay/
test_shutdown.sh), in the shape of tests/unit/test_shutdown.c but as real
packets through the whole daemon: a compressed "day" of DAY seconds with a
night-time trough at 15% of the daytime peak, +-10% noise, two client
prefixes in two regions, four days of it, then on day 5 a daytime cut-off
of 198.51.100.0/24 (nothing reaches its clients; they keep sending) for
CUT seconds, and later a silent capture gap (no packet at all).

usage: craft_shutdown.py OUTDIR   -> OUTDIR/diurnal.pcap, OUTDIR/truth.json,
                                     OUTDIR/part1.pcap, OUTDIR/part2.pcap (split at day 4)
"""
import json, math, os, random, sys
sys.path.insert(0, os.path.dirname(__file__))
from craft import eth, ipv4, udp, pcap

DAY = 2400                   # seconds in a simulated day (README: the test's shutdown.* settings)
DAYS = 5
T0 = 1700006400              # a bin boundary (multiple of 2400)
PREFIXES = {"198.51.100": "north", "192.0.2": "south"}
CLIENTS = 20                 # clients per prefix
SERVER = "203.0.113.10"
CUT_FROM = T0 + 4 * DAY + 1000   # day 5, near the daytime peak
CUT = 400
GAP_FROM = T0 + 4 * DAY + 1900   # after recovery: no packet at all for 200 s
GAP = 200

def rate(t):
    """packets per second towards one prefix's clients at time t"""
    phase = ((t - T0) % DAY) / DAY
    return 8.0 * (0.15 + 0.85 * (0.5 - 0.5 * math.cos(2 * math.pi * phase)))

def main(out):
    rnd = random.Random(7)
    recs = []
    t = float(T0)
    end = T0 + DAYS * DAY
    while t < end:
        sec = int(t)
        if GAP_FROM <= sec < GAP_FROM + GAP:
            t += 1
            continue
        for net in PREFIXES:
            n = rate(sec) * (0.9 + 0.2 * rnd.random())
            k = int(n) + (1 if rnd.random() < n - int(n) else 0)
            for i in range(k):
                host = 1 + rnd.randrange(CLIENTS)
                client = f"{net}.{host}"
                ts = sec + (i + 0.5) / (k + 1)
                # the client asks; the server answers unless the prefix is cut off
                recs.append((ts, eth(ipv4(client, SERVER, 17, udp(40000 + host, 443, b"q" * 20), ipid=i))))
                cut = net == "198.51.100" and CUT_FROM <= sec < CUT_FROM + CUT
                if not cut:
                    recs.append((ts + 0.001, eth(ipv4(SERVER, client, 17, udp(443, 40000 + host, b"r" * 200), ttl=55))))
        t += 1
    recs.sort(key=lambda r: r[0])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "diurnal.pcap"), "wb") as f:
        f.write(pcap(1, recs))
    split = T0 + 4 * DAY
    with open(os.path.join(out, "part1.pcap"), "wb") as f:
        f.write(pcap(1, [r for r in recs if r[0] < split]))
    with open(os.path.join(out, "part2.pcap"), "wb") as f:
        f.write(pcap(1, [r for r in recs if r[0] >= split]))
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump({"t0": T0, "day": DAY, "cut_from": CUT_FROM, "cut_to": CUT_FROM + CUT, "cut_prefix": "198.51.100.0/24",
                   "cut_region": "north", "gap_from": GAP_FROM, "gap_to": GAP_FROM + GAP, "end": end,
                   "packets": len(recs)}, f)

if __name__ == "__main__":
    main(sys.argv[1])
