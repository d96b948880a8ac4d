#!/usr/bin/env python3
"""Crafted captures for the alert tests (tests/replay/test_alerts.sh): HTTP
flows from clients in three /24s to blocked.example get forged RSTs racing
the server's answer for a minute, then succeed again; ok.example works all
along.  usage: craft_alerts.py OUTDIR
  OUTDIR/incident.pcap       the whole story
  OUTDIR/part1.pcap, part2.pcap   the same, split between two runs (state test)
  OUTDIR/benign.pcap         only the successful flows
  OUTDIR/residual.pcap       forged RSTs, then SYNs to the same server dropped, then success"""
import os, sys
sys.path.insert(0, os.path.dirname(__file__))
from craft import eth, ipv4, tcp, pcap

S_BLOCKED, S_OK = "203.0.113.5", "203.0.113.80"
CLIENTS = ["198.51.100.7", "192.0.2.44", "100.64.1.9"]
T0 = 1700000000.0
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

def flow(t, client, server, sport, host, blocked):
    recs, cseq, sseq, cid, sid = [], 1000, 5000, 10, 300
    def c(flags, payload=b"", dt=0.001):
        nonlocal t, cseq, cid
        t += dt
        recs.append((t, eth(ipv4(client, server, 6, tcp(sport, 80, cseq, sseq, flags, payload), ipid=cid))))
        cid += 1
        cseq += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
    def s(flags, payload=b"", dt=0.010, ttl=52, ipid=None):
        nonlocal t, sseq, sid
        t += dt
        recs.append((t, eth(ipv4(server, client, 6, tcp(80, sport, sseq, cseq, flags, payload), ttl=ttl,
                                 ipid=sid if ipid is None else ipid))))
        sid += 1
        sseq += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
    c("S", dt=0); s("SA"); c("A")
    c("PA", b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
    if blocked:   # on-path censor: a forged RST (wrong TTL and IP-ID) races the answer
        t += 0.002
        recs.append((t, eth(ipv4(server, client, 6, tcp(80, sport, sseq, cseq, "RA"), ttl=118, ipid=54321))))
    s("PA", RESP); c("FA"); s("FA"); c("A")
    return recs

def main(out):
    os.makedirs(out, exist_ok=True)
    part1, part2, benign = [], [], []
    sport = 40000
    for i in range(12):                        # blocked: t0 .. t0+55 s, 4 flows a client prefix
        sport += 1
        r = flow(T0 + 5 * i, CLIENTS[i % 3], S_BLOCKED, sport, "blocked.example", True)
        (part1 if i < 8 else part2).extend(r)
    for i in range(6):                         # the block lifts: t0+120 .. t0+145 s
        sport += 1
        r = flow(T0 + 120 + 5 * i, CLIENTS[i % 3], S_BLOCKED, sport, "blocked.example", False)
        part2.extend(r); benign.extend(r)
    for i in range(10):                        # a control target that always works
        sport += 1
        r = flow(T0 + 2 + 15 * i, CLIENTS[i % 3], S_OK, sport, "ok.example", False)
        (part1 if T0 + 2 + 15 * i < T0 + 38 else part2).extend(r); benign.extend(r)
    # residual blocking: after 4 forged RSTs the censor drops every SYN to the
    # server for a while (no name seen: the flows are keyed by address), then
    # the block lifts
    residual = []
    for i in range(4):
        sport += 1
        residual += flow(T0 + 5 * i, CLIENTS[i % 3], S_BLOCKED, sport, "blocked.example", True)
    for i in range(3):
        sport += 1
        t = T0 + 20 + 5 * i
        for k, dt in enumerate((0, 1, 3)):
            residual.append((t + dt, eth(ipv4(CLIENTS[i % 3], S_BLOCKED, 6, tcp(sport, 80, 1000, 0, "S"), ipid=k))))
    for i in range(3):
        sport += 1
        residual += flow(T0 + 200 + 5 * i, CLIENTS[i % 3], S_BLOCKED, sport, "blocked.example", False)
    for name, recs in (("residual", residual), ("incident", part1 + part2), ("part1", part1), ("part2", part2), ("benign", benign)):
        recs.sort(key=lambda x: x[0])
        with open(os.path.join(out, name + ".pcap"), "wb") as f:
            f.write(pcap(1, recs))

if __name__ == "__main__":
    main(sys.argv[1])
