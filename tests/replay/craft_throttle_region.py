#!/usr/bin/env python3
"""Crafted capture of region-wide throttling (docs/alerts.md "Region-wide
throttling"), seen at a gateway below the censor: region north
(198.51.100.0/24 and 198.18.0.0/24) first downloads from four sites at
4 Mbit/s; ten seconds later every download towards north is policed to
400 kbit/s whatever the site (a segment dropped upstream about once a
second: a hole, duplicate ACKs, the retransmission; no queue), while region
south (192.0.2.0/24) downloads from the same four sites at 4 Mbit/s.

usage: craft_throttle_region.py OUTDIR
  OUTDIR/region.pcap     the story
  OUTDIR/regions.txt     the regions file
  OUTDIR/slow.pcap       north policed-looking at 400 kbit/s from the start
                         (a region on slow links: no drop, no alert)"""
import os, sys
sys.path.insert(0, os.path.dirname(__file__))
import struct
from craft import eth, ipv4, tcp

T0 = 1700000000.0
SEG = 1448
NORTH = ["198.51.100.7", "198.18.0.9"]
SOUTH = ["192.0.2.44", "192.0.2.45"]
SITES = [("site1.example", "203.0.113.11"), ("site2.example", "203.0.113.12"),
         ("site3.example", "203.0.113.13"), ("site4.example", "203.0.113.14")]


def download(t0, client, server, sport, host, rate_bps, secs, loss_every=0):
    """An HTTP download paced at rate_bps for secs; loss_every N: every Nth
    segment is dropped before the observer and retransmitted three segments
    later (the client acknowledges every other segment, at once after a hole)."""
    r, cid, sid = [], 10, 300
    cseq, sseq = 1000, 5000

    def c(t, flags, ack, payload=b""):
        nonlocal cid
        r.append((t, eth(ipv4(client, server, 6, tcp(sport, 80, cseq, ack, flags, payload), ipid=cid))))
        cid += 1

    def s(t, flags, seq, payload=b""):
        nonlocal sid
        r.append((t, eth(ipv4(server, client, 6, tcp(80, sport, seq, cseq, flags, payload), ttl=52, ipid=sid))))
        sid += 1

    c(t0, "S", 0)
    s(t0 + 0.020, "SA", sseq)
    sseq += 1
    c(t0 + 0.021, "A", sseq)
    req = b"GET /files/bulk.bin HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n"
    c(t0 + 0.022, "PA", sseq, req)
    cseq += len(req)
    base, iv = sseq, SEG * 8.0 / rate_bps
    n = int(secs / iv)
    got, cum, since_ack, pending = set(), base, 0, []
    t = t0 + 0.045
    for i in range(n):
        t = t0 + 0.045 + i * iv
        sends = [i]
        if pending and pending[0][0] <= i:  # the retransmission of a dropped segment
            sends = [pending.pop(0)[1], i]
        for k in sends:
            lost = loss_every and k == i and i % loss_every == loss_every // 2 and i > 2
            if lost:
                pending.append((i + 3, i))
                continue
            s(t, "A", base + k * SEG, b"\0" * SEG)
            got.add(k)
            hole = (cum - base) // SEG
            while hole in got:
                hole += 1
            new_cum = base + hole * SEG
            since_ack += 1
            # delayed ACK every other segment; at once while a hole is open or when it closes
            hole_open = new_cum != base + (max(got) + 1) * SEG
            if since_ack >= 2 or hole_open or k != i:
                c(t + 0.001, "A", new_cum)
                since_ack = 0
            cum = new_cum
            t += 0.0001
    end = base + n * SEG
    s(t + iv, "FA", end)
    c(t + iv + 0.001, "FA", end + 1)
    cseq += 1
    s(t + iv + 0.021, "A", end + 1)
    return r


def story(slow_first=False):
    recs, sport = [], 41000
    # first round: north at 4 Mbit/s (400 kbit/s policed-looking in the slow story)
    for i, (host, ip) in enumerate(SITES):
        sport += 1
        if slow_first:
            recs += download(T0 + 0.3 * i, NORTH[i % 2], ip, sport, host, 400e3, 6, loss_every=30)
        else:
            recs += download(T0 + 0.3 * i, NORTH[i % 2], ip, sport, host, 4e6, 3)
    for i, (host, ip) in enumerate(SITES[:2]):
        sport += 1
        recs += download(T0 + 0.5 + 0.3 * i, SOUTH[i % 2], ip, sport, host, 4e6, 3)
    # ten seconds on: north policed to 400 kbit/s on every site, south not
    for k in range(2):
        for i, (host, ip) in enumerate(SITES):
            sport += 1
            recs += download(T0 + 12 + 0.2 * i + 0.1 * k, NORTH[k], ip, sport, host, 400e3, 6, loss_every=30)
    for i, (host, ip) in enumerate(SITES):
        sport += 1
        recs += download(T0 + 12.05 + 0.2 * i, SOUTH[i % 2], ip, sport, host, 4e6, 3)
    recs.sort(key=lambda x: x[0])
    return recs


def pcap(recs):
    """craft.pcap's format, joined once (thousands of records)"""
    parts = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    for ts, data in recs:
        parts.append(struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(data), len(data)) + data)
    return b"".join(parts)


def main(out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "region.pcap"), "wb") as f:
        f.write(pcap(story()))
    with open(os.path.join(out, "slow.pcap"), "wb") as f:
        f.write(pcap(story(slow_first=True)))
    with open(os.path.join(out, "regions.txt"), "w") as f:
        f.write("198.51.100.0/24 north 64500\n198.18.0.0/24 north 64500\n192.0.2.0/24 south\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
