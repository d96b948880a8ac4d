#!/usr/bin/python3
"""Small lab clients that curl and dig cannot play.

probe.py tcp HOST PORT SRC [--send TEXT] [--wait S]
    connect (prints "connected" or "connect_timeout"/"connect_refused"),
    optionally send TEXT (\\r\\n escapes allowed) and print what comes back:
    "reply N bytes", "reset", "closed" or "no_reply".
probe.py dns QNAME SERVER SRC [--type A|AAAA] [--wait S]
    send one query and print every response that arrives within --wait
    seconds ("answer <ip> ttl=<dns ttl> after=<ms>"), to show racing answers.
probe.py once HOST PORT SRC --send TEXT [--hold S]
    a raw-socket client (IPv4) that sends its request exactly once, as a
    measurement tool does (CenTrace): handshake, the request in one segment,
    then nothing for --hold seconds (no retransmission: the kernel has no
    socket for it) and an RST that gives up; prints "acked N" when the
    server's TCP acknowledged the request, "reply N bytes" when data came,
    "reset" or "no_ack".  --after N: instead of giving up, send the request
    N times more, 0.3 s apart, and print "later_resets K".  Its kernel's
    RSTs for the port are dropped with an iptables rule in its own
    namespace while it runs (packets it writes itself carry mark 0x5151).
probe.py stream HOST PORT SRC[,SRC...] --rate N --stop FILE [--max S]
    a steady UDP stream (a media call or a VPN tunnel) from each SRC to an
    echo server (aux_server.py --udp-echo): N datagrams a second in all,
    until FILE exists; prints "sent N echoed M".
"""
import argparse
import os
import random
import socket
import struct
import sys
import time

from censor import build_tcp  # the lab's one packet builder (censor.py, beside this file)


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


def once(a):
    import subprocess
    sport = random.randint(40000, 59999)
    rule = ["-p", "tcp", "-s", a.src, "--sport", str(sport), "--tcp-flags", "RST", "RST",
            "-m", "mark", "!", "--mark", "0x5151", "-j", "DROP"]
    subprocess.run(["iptables", "-w", "-I", "OUTPUT"] + rule, check=True)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    tx.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, 0x5151)
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    rx.settimeout(0.05)
    ipid = random.randint(1, 0xFFFF)

    def send(seq, ack, flags, payload=b""):
        nonlocal ipid
        ipid = (ipid + 1) & 0xFFFF
        tx.sendto(build_tcp(4, a.src, a.host, sport, a.port, seq, ack, flags, 64240, payload, ttl=64, ipid=ipid,
                             df=True), (a.host, 0))

    def recv_until(deadline):
        """segments from the server to our port until deadline: (flags, seq, ack, payload length)"""
        out = []
        while time.monotonic() < deadline:
            try:
                b = rx.recv(65535)
            except socket.timeout:
                continue
            ihl = (b[0] & 15) * 4
            if socket.inet_ntoa(b[12:16]) != a.host or len(b) < ihl + 20:
                continue
            sp, dp, seq, ack, off, fl = struct.unpack("!HHIIBB", b[ihl:ihl + 14])
            if sp != a.port or dp != sport:
                continue
            out.append((fl, seq, ack, len(b) - ihl - (off >> 4) * 4))
            if fl & 0x06:  # SYN or RST: the caller looks now
                break
        return out

    try:
        isn = random.randint(0, 0xFFFFFFFF)
        send(isn, 0, 0x02)
        got = [x for x in recv_until(time.monotonic() + 3) if x[0] & 0x12 == 0x12]
        if not got:
            print("connect_timeout")
            return 0
        srv = (got[0][1] + 1) & 0xFFFFFFFF
        seq = (isn + 1) & 0xFFFFFFFF
        send(seq, srv, 0x10)
        req = a.send.encode().decode("unicode_escape").encode("latin-1")
        print("connected")
        send(seq, srv, 0x18, req)
        end = (seq + len(req)) & 0xFFFFFFFF
        segs = recv_until(time.monotonic() + a.hold)
        if any(x[0] & 0x04 for x in segs):
            print("reset")
        elif any(x[3] for x in segs):
            print("reply %d bytes" % sum(x[3] for x in segs))
        elif any(x[0] & 0x10 and x[2] == end for x in segs):
            print("acked %d" % len(req))
        else:
            print("no_ack")
        if a.after:
            # a client that keeps going after a reset (a raw prober does):
            # the request again, --after times, 0.3 s apart
            later = 0
            for _ in range(a.after):
                send(seq, srv, 0x18, req)
                later += sum(1 for x in recv_until(time.monotonic() + 0.3) if x[0] & 0x04)
            print("later_resets %d" % later)
        else:
            send(end if segs else seq, srv, 0x14)
    finally:
        subprocess.run(["iptables", "-w", "-D", "OUTPUT"] + rule, check=False)
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


def stream(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    socks = []
    for src in a.src.split(","):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setblocking(False)
        socks.append(s)
    payload = b"m" * 160              # an audio frame's worth
    sent = echoed = 0
    t0 = time.monotonic()
    step = 0.05                       # send in 50 ms batches
    while not os.path.exists(a.stop) and time.monotonic() - t0 < a.max:
        due = int((time.monotonic() - t0) * a.rate)
        while sent < due:
            try:
                socks[sent % len(socks)].sendto(payload, (a.host, a.port))
            except OSError:
                pass                  # a cut path may refuse for a while: keep the rate
            sent += 1
        for s in socks:
            while True:
                try:
                    s.recv(2048)
                    echoed += 1
                except (BlockingIOError, OSError):
                    break
        time.sleep(step)
    print("sent %d echoed %d" % (sent, echoed))
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
    o = sub.add_parser("once")
    o.add_argument("host")
    o.add_argument("port", type=int)
    o.add_argument("src")
    o.add_argument("--send", required=True)
    o.add_argument("--hold", type=float, default=1.5)
    o.add_argument("--after", type=int, default=0)
    m = sub.add_parser("stream")
    m.add_argument("host")
    m.add_argument("port", type=int)
    m.add_argument("src")
    m.add_argument("--rate", type=float, default=100)
    m.add_argument("--stop", required=True)
    m.add_argument("--max", type=float, default=120)
    a = ap.parse_args()
    return {"tcp": tcp, "once": once, "dns": dns, "stream": stream}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
