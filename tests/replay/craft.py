#!/usr/bin/env python3
"""Write small crafted captures for the replay tests (stdlib only).

usage: craft.py OUTDIR    -> OUTDIR/*.pcap[.gz] as listed in CASES below
"""
import gzip, os, struct, sys

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff

def ipv4(src, dst, proto, payload, ttl=64, ipid=1):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ipid, 0x4000, ttl, proto, 0,
                    bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload

def tcp(sport, dport, seq, ack, flags, payload=b"", win=64240):
    fl = sum({"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}[c] for c in flags)
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, fl, win, 0, 0) + payload

def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload

def eth(ip):
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip

def pcap(linktype, recs, snap=65535):
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snap, linktype)
    for ts, data, *orig in recs:
        o = orig[0] if orig else len(data)
        out += struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(data), o) + data
    return out

C, S = "198.51.100.7", "203.0.113.5"

def http_flow(t0, sport, blocked=False):
    """a complete HTTP exchange; blocked: a forged RST races the server's answer"""
    r = []
    r.append((t0 + 0.000, eth(ipv4(C, S, 6, tcp(sport, 80, 1000, 0, "S"), ipid=10))))
    r.append((t0 + 0.010, eth(ipv4(S, C, 6, tcp(80, sport, 5000, 1001, "SA"), ttl=52, ipid=300))))
    r.append((t0 + 0.011, eth(ipv4(C, S, 6, tcp(sport, 80, 1001, 5001, "A"), ipid=11))))
    req = b"GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n"
    r.append((t0 + 0.012, eth(ipv4(C, S, 6, tcp(sport, 80, 1001, 5001, "PA", req), ipid=12))))
    if blocked:
        r.append((t0 + 0.013, eth(ipv4(S, C, 6, tcp(80, sport, 5001, 1001 + len(req), "RA", win=0), ttl=118, ipid=54321))))
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    r.append((t0 + 0.022, eth(ipv4(S, C, 6, tcp(80, sport, 5001, 1001 + len(req), "PA", resp), ttl=52, ipid=301))))
    r.append((t0 + 0.023, eth(ipv4(C, S, 6, tcp(sport, 80, 1001 + len(req), 5001 + len(resp), "FA"), ipid=13))))
    r.append((t0 + 0.030, eth(ipv4(S, C, 6, tcp(80, sport, 5001 + len(resp), 1002 + len(req), "FA"), ttl=52, ipid=302))))
    return r

def dns(t0):
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x03www\x03lab\x00\x00\x01\x00\x01"
    a = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + q[12:] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xcb\x00\x71\x05"
    return [(t0, eth(ipv4(C, "203.0.113.53", 17, udp(40000, 53, q)))),
            (t0 + 0.005, eth(ipv4("203.0.113.53", C, 17, udp(53, 40000, a), ttl=60)))]

def main(out):
    os.makedirs(out, exist_ok=True)
    good = http_flow(1700000000.0, 40001) + http_flow(1700000001.0, 40002, blocked=True) + dns(1700000002.0)
    # a flow, 200 s of silence, another flow: the first must end idle on the capture's clock
    gap = [(1700000000.0, eth(ipv4(C, S, 6, tcp(40010, 443, 1, 0, "S"))))] + http_flow(1700000200.0, 40011)
    files = {
        "good.pcap": pcap(1, good),
        "gap.pcap": pcap(1, gap),
        "unknown_linktype.pcap": pcap(105, good[:2]),
        # snap length shorter than the headers: 20 bytes of each frame
        "short_snap.pcap": pcap(1, [(t, d[:20], len(d)) for t, d in good], snap=20),
        "out_of_order.pcap": pcap(1, [good[1], good[0]] + good[2:]),
        "raw_ip.pcap": pcap(101, [(t, d[14:]) for t, d in good]),
    }
    whole = pcap(1, good)
    files["truncated.pcap"] = whole[: len(whole) - 30]          # cut inside the last record
    corrupt = bytearray(whole)
    # third record header: caplen absurd
    off = 24
    for _ in range(2):
        caplen = struct.unpack_from("<I", corrupt, off + 8)[0]
        off += 16 + caplen
    struct.pack_into("<I", corrupt, off + 8, 0xfffffff0)
    files["corrupt.pcap"] = bytes(corrupt)
    gz = gzip.compress(whole)
    files["good.pcap.gz"] = gz
    files["cut.pcap.gz"] = gz[: len(gz) // 2]
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

if __name__ == "__main__":
    main(sys.argv[1])
