#!/usr/bin/python3
"""Small lab clients that curl and dig cannot play.

probe.py tcp HOST PORT SRC [--send TEXT] [--wait S]
    connect (prints "connected" or "connect_timeout"/"connect_refused"),
    optionally send TEXT (\\r\\n escapes allowed) and print what comes back:
    "reply N bytes", "reset", "closed" or "no_reply".
probe.py dns QNAME SERVER SRC [--type A|AAAA] [--wait S]
    send one query and print every response that arrives within --wait
    seconds ("answer <ip> ttl=<dns ttl> after=<ms>"), to show racing answers.
"""
import argparse
import random
import socket
import struct
import sys
import time


def tcp(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((a.src, 0))
    s.settimeout(a.wait)
    try:
        s.connect((a.host, a.port))
    except socket.timeout:
        print("connect_timeout")
        return 0
    except ConnectionRefusedError:
        print("connect_refused")
        return 0
    print("connected")
    if a.send is None:
        return 0
    s.sendall(a.send.encode().decode("unicode_escape").encode("latin-1"))
    try:
        b = s.recv(65536)
        print("reply %d bytes" % len(b) if b else "closed")
    except socket.timeout:
        print("no_reply")
    except ConnectionResetError:
        print("reset")
    return 0


def dns(a):
    qtype = {"A": 1, "AAAA": 28}[a.type]
    qid = random.randint(1, 0xFFFF)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in a.qname.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack("!HH", qtype, 1)
    fam = socket.AF_INET6 if ":" in a.server else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a.src, 0))
    t0 = time.monotonic()
    s.sendto(q, (a.server, 53))
    end = t0 + a.wait
    n = 0
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            r = s.recv(4096)
        except socket.timeout:
            break
        if len(r) < 12 or struct.unpack("!H", r[:2])[0] != qid:
            continue
        n += 1
        an = struct.unpack("!H", r[6:8])[0]
        i = len(q)   # answers follow the echoed question
        ips = []
        for _ in range(an):
            if r[i] & 0xC0 == 0xC0:
                i += 2
            else:
                while r[i]:
                    i += 1 + r[i]
                i += 1
            ty, _cl, ttl, rdl = struct.unpack("!HHIH", r[i:i + 10])
            rd = r[i + 10:i + 10 + rdl]
            i += 10 + rdl
            if ty == 1:
                ips.append((socket.inet_ntop(socket.AF_INET, rd), ttl))
            elif ty == 28:
                ips.append((socket.inet_ntop(socket.AF_INET6, rd), ttl))
        ms = (time.monotonic() - t0) * 1000
        if not ips:
            print("answer none after=%.1f" % ms)
        for ip, ttl in ips:
            print("answer %s ttl=%d after=%.1f" % (ip, ttl, ms))
    print("responses %d" % n)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tcp")
    t.add_argument("host")
    t.add_argument("port", type=int)
    t.add_argument("src")
    t.add_argument("--send")
    t.add_argument("--wait", type=float, default=2.0)
    d = sub.add_parser("dns")
    d.add_argument("qname")
    d.add_argument("server")
    d.add_argument("src")
    d.add_argument("--type", default="A")
    d.add_argument("--wait", type=float, default=0.5)
    a = ap.parse_args()
    return tcp(a) if a.cmd == "tcp" else dns(a)


if __name__ == "__main__":
    sys.exit(main())
