#!/usr/bin/env python3
"""Synthetic diurnal traffic for the shutdown replay test (tests/replay/
test_shutdown.sh): real packets through the whole daemon, in the shape of
tests/unit/test_shutdown.c.  A simulated day lasts DAY seconds and a week
7 days (the test's shutdown.period); traffic towards each client prefix
follows a day with a night-time trough at 15% of the daytime peak,
weekends at 60%, +-10% noise.  Three client prefixes:
  198.51.100.0/24  region north  cut off completely on day 9 (nothing
                   reaches its clients for CUT seconds; they keep sending)
  203.0.113.0/24   region south  partial shutdown on day 11: web blocked,
                   DNS answers still pass
  2001:db8:a::/48  region east   never disturbed
Week 1 is the warm-up.  On day 8 the capture itself goes silent for HOLE
seconds (no packet at all): our blind spot, not a shutdown.  Traffic to
clients: 90% TCP from port 443 (data of long flows, some answered by
client ACKs), 10% DNS answers from port 53 after the clients' queries.

Fast: frames are assembled from per-client byte templates (no per-packet
object building); about 130k packets in ~2 s.

usage: craft_shutdown.py OUTDIR  -> OUTDIR/diurnal.pcap (the whole story),
       OUTDIR/part1.pcap (up to the silent hole), OUTDIR/part2.pcap (after
       it), OUTDIR/part2_cut.pcap (part2 until the day after the cut),
       OUTDIR/mid1.pcap (up to MID, inside the cut and after its alert is
       raised), OUTDIR/mid2.pcap (from MID on), OUTDIR/late2.pcap (from LATE,
       after the restore, on), OUTDIR/truth.json (times of the events,
       prefixes, regions)
"""
import json, math, os, random, struct, sys

DAY = 1200                       # seconds in a simulated day
WEEK = 7 * DAY                   # = shutdown.period in the test's config
T0 = WEEK * 210000               # November 2025, a multiple of the period: day 0 is bin 0
DAYS = 14
PEAK = 3.0                       # packets/s towards one prefix's clients at the daytime peak
CLIENTS = 24                     # clients per prefix
DNS_SHARE = 0.10
HOLE = (T0 + 8 * DAY + 500, T0 + 8 * DAY + 620)     # capture silent (our blind spot)
CUT = (T0 + 9 * DAY + 500, T0 + 9 * DAY + 900)      # north: full cut-off
PARTIAL = (T0 + 11 * DAY + 500, T0 + 11 * DAY + 900)  # south: only DNS passes
MID = CUT[0] + 250               # a restart while north's alert is open (raised ~70 s into the cut)
LATE = CUT[1] + 200              # ... or one that comes back after the restore
END = T0 + DAYS * DAY + 60

PREFIXES = [  # (name, region, family, client address of host h, server address)
    ("198.51.100.0/24", "north", 4, lambda h: bytes([198, 51, 100, 10 + h]), bytes([192, 0, 2, 10])),
    ("203.0.113.0/24", "south", 4, lambda h: bytes([203, 0, 113, 10 + h]), bytes([192, 0, 2, 10])),
    ("2001:db8:a::/48", "east", 6,
     lambda h: bytes([0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, 0, 1 + h % 4] + [0] * 7 + [10 + h]),
     bytes([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff] + [0] * 9 + [0x10])),
]

ETH4 = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
ETH6 = b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd"
DATA = b"d" * 40
QNAME = b"\x03www\x07example\x00\x00\x01\x00\x01"


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def ip_head(fam, src, dst, proto, l4len, ttl):
    """Ethernet + IP header for a fixed-size L4 segment (IP-ID fixed per
    direction of a client: the template is built once)."""
    if fam == 4:
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + l4len, 0x1000 + ttl, 0x4000, ttl, proto, 0, src, dst)
        return ETH4 + h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return ETH6 + struct.pack("!IHBB16s16s", 0x60000000, l4len, proto, ttl, src, dst)


class Client:
    __slots__ = ("s2c", "c2s", "dns_q", "dns_a", "cport", "sseq", "cseq", "qid")

    def __init__(self, fam, c, s, h):
        self.cport = 40000 + h
        self.s2c = ip_head(fam, s, c, 6, 20 + len(DATA), 55)     # server data (TTL 55)
        self.c2s = ip_head(fam, c, s, 6, 20, 64)                 # client ACK
        q = 12 + len(QNAME)
        a = q + 16
        self.dns_q = ip_head(fam, c, s, 17, 8 + q, 64)
        self.dns_a = ip_head(fam, s, c, 17, 8 + a, 60)
        self.sseq = 1000000 * (h + 1)
        self.cseq = 5000 * (h + 1)
        self.qid = h * 1000


def tcp(sport, dport, seq, ack, flags):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 0x50, flags, 502, 0, 0)


def rate(t):
    """packets per second towards one prefix's clients at time t"""
    day = (t - T0) // DAY
    phase = ((t - T0) % DAY) / DAY
    weekend = 0.6 if day % 7 in (5, 6) else 1.0
    return PEAK * weekend * (0.15 + 0.85 * (0.5 - 0.5 * math.cos(2 * math.pi * phase)))


def main(out):
    rnd = random.Random(20261129)
    clients = [[Client(fam, mk(h), srv, h) for h in range(CLIENTS)] for _, _, fam, mk, srv in PREFIXES]
    part1, part2 = [], []
    recs = part1
    for sec in range(T0, END):
        if HOLE[0] <= sec < HOLE[1]:
            recs = part2
            continue
        sec_recs = []
        for p, (name, _, _, _, _) in enumerate(PREFIXES):
            n = rate(sec) * (0.9 + 0.2 * rnd.random())
            k = int(n) + (1 if rnd.random() < n - int(n) else 0)
            cut = name == "198.51.100.0/24" and CUT[0] <= sec < CUT[1]
            web_cut = name == "203.0.113.0/24" and PARTIAL[0] <= sec < PARTIAL[1]
            for i in range(k):
                c = clients[p][rnd.randrange(CLIENTS)]
                ts = sec + (i + rnd.random()) / (k + 1)
                if rnd.random() < DNS_SHARE:
                    c.qid = (c.qid + 1) & 0xffff
                    q = struct.pack("!HHHHHH", c.qid, 0x0100, 1, 0, 0, 0) + QNAME
                    sec_recs.append((ts, c.dns_q + struct.pack("!HHHH", c.cport, 53, 8 + len(q), 0) + q))
                    if not cut:
                        a = (struct.pack("!HHHHHH", c.qid, 0x8180, 1, 1, 0, 0) + QNAME +
                             b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc6\x33\x64\x01")
                        sec_recs.append((ts + 0.004, c.dns_a + struct.pack("!HHHH", 53, c.cport, 8 + len(a), 0) + a))
                else:
                    if not cut and not web_cut:
                        sec_recs.append((ts, c.s2c + tcp(443, c.cport, c.sseq, c.cseq, 0x18) + DATA))
                        c.sseq += len(DATA)
                    # the client acknowledges what it got (and keeps sending when nothing comes)
                    if rnd.random() < 0.25:
                        sec_recs.append((ts + 0.002, c.c2s + tcp(c.cport, 443, c.cseq, c.sseq, 0x10)))
        sec_recs.sort(key=lambda r: r[0])
        recs.extend(sec_recs)
    os.makedirs(out, exist_ok=True)
    head = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)

    def write(path, *lists):
        with open(path, "wb") as f:
            f.write(head)
            for lst in lists:
                f.write(b"".join(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(d), len(d)) + d
                                 for ts, d in lst))
    write(os.path.join(out, "diurnal.pcap"), part1, part2)
    write(os.path.join(out, "part1.pcap"), part1)
    write(os.path.join(out, "part2.pcap"), part2)
    # part2 up to the day after the cut: the BPF engine's parity run (one
    # system call per packet) stays short
    write(os.path.join(out, "part2_cut.pcap"), [r for r in part2 if r[0] < T0 + 10 * DAY])
    # restarts during the cut: the capture split inside it, or resumed after it
    write(os.path.join(out, "mid1.pcap"), [r for r in part1 + part2 if r[0] < MID])
    write(os.path.join(out, "mid2.pcap"), [r for r in part2 if r[0] >= MID])
    write(os.path.join(out, "late2.pcap"), [r for r in part2 if r[0] >= LATE])
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump({"t0": T0, "day": DAY, "week": WEEK, "end": END,
                   "hole": HOLE, "cut": CUT, "partial": PARTIAL, "mid": MID, "late": LATE,
                   "prefixes": {name: region for name, region, _, _, _ in PREFIXES},
                   "packets": len(part1) + len(part2)}, f)


if __name__ == "__main__":
    main(sys.argv[1])
