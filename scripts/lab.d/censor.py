#!/usr/bin/python3
"""Emulated censor for the tamperwatch lab (runs in netns tw-cen).

Python 3 standard library only.  Two ways to see traffic:

* on-path (a tap): an AF_PACKET socket on the client-facing interface gets a
  copy of every packet the censor forwards; the packet is forwarded anyway,
  the censor only adds forged packets (RSTs, DNS answers) that race the
  server's real answer.
* in-path (inline): iptables NFQUEUE rules (set up by scripts/lab.d/
  scenarios.sh) hand selected packets to this program, which decides: accept,
  or drop and inject (in-path RST, block page, TLS reset, DNS answer swap).

Queue numbers:  0 = in-path decisions,
                1 = server->client packets: learn the SYN-ACK TTL/IP-ID of each
                    flow (in-path injectors copy it), and optionally hold the
                    packet for --delay-ms (a delay line standing in for netem,
                    which this kernel lacks: the censor sits nearer the client
                    than the server, so its forgeries win the race).

Forged packets are written with raw IP sockets (IP_HDRINCL / IPPROTO_RAW), so
the censor's routing sends them out of the right interface.

Rules come from a JSON file (list of objects):
  {"name": "...", "action": "rst|dns|blockpage|tls_reset",
   "path": "on|in",                # on-path or in-path
   "http_host": [...], "sni": [...], "keyword": [...], "qname": [...],
   "prefixes": ["198.51.100.0/24", ...],   # client prefixes (empty: all)
   "dst": ["203.0.113.10", ...], "ports": [80, 443],   # optional targets
   "style": "single|burst",        # rst: one RST, or 3 RST/ACKs (GFW type 2)
   "to_server": true,              # also reset the server side
   "status": 451,                  # blockpage
   "forged_a": "203.0.113.250", "forged_aaaa": "2001:db8:dead::1",
   "page": "fortigate",            # blockpage: a FortiGate-style Application Control page (403)
   # action "redirect" (Sandvine PacketLogic style, Citizen Lab "Bad Traffic"):
   # an injected HTTP redirect to another host; in-path it replaces the
   # request (dropped, RST to the server), on-path it races the server
   "location": "http://ads.example/static1.html", "ttl": "copy|hop",   # the
                                   # server's TTL from its SYN-ACK, or one hop off it
   "ipid": 13330,                  # the same IP-ID on every forgery (0x3412)
   "path_prefix": "/files/"}       # only requests whose path starts so
 {"name": "...", "action": "firewall", "dst": [...], "ports": [...]}
   an endpoint firewall (queue 2, every packet of the port both ways): once
   the server has reset a connection, every later client packet of it is
   dropped and answered with an RST of the firewall's own (TTL 237)
Every injection is logged as one JSON line to --log.
"""
import argparse
import ctypes
import heapq
import ipaddress
import json
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
SO_ATTACH_FILTER = 26
NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 4, 5
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD = 1, 2, 10
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_PACKET = 2
NFQA_CFG_F_FAIL_OPEN = 1
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2

TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

LOG = None


def log_event(**kw):
    kw.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) +
                  ".%06d+0000" % (int(time.time() * 1e6) % 1000000))
    if LOG:
        LOG.write(json.dumps(kw) + "\n")
        LOG.flush()


# ------------------------------------------------------------ packets ----
def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Pkt:
    """Parsed IPv4/IPv6 + TCP/UDP packet (no IPv6 extension headers)."""
    __slots__ = ("ver", "src", "dst", "ttl", "ipid", "df", "proto", "sport", "dport",
                 "seq", "ack", "flags", "win", "payload", "raw")


def parse_ip(buf):
    if len(buf) < 20:
        return None
    p = Pkt()
    p.raw = buf
    v = buf[0] >> 4
    if v == 4:
        ihl = (buf[0] & 15) * 4
        tot = struct.unpack("!H", buf[2:4])[0]
        buf = buf[:tot]
        p.ver, p.ttl, p.proto = 4, buf[8], buf[9]
        p.ipid = struct.unpack("!H", buf[4:6])[0]
        p.df = bool(buf[6] & 0x40)
        p.src = socket.inet_ntop(socket.AF_INET, buf[12:16])
        p.dst = socket.inet_ntop(socket.AF_INET, buf[16:20])
        l4 = buf[ihl:]
    elif v == 6 and len(buf) >= 40:
        plen = struct.unpack("!H", buf[4:6])[0]
        p.ver, p.proto, p.ttl, p.ipid, p.df = 6, buf[6], buf[7], 0, True
        p.src = socket.inet_ntop(socket.AF_INET6, buf[8:24])
        p.dst = socket.inet_ntop(socket.AF_INET6, buf[24:40])
        l4 = buf[40:40 + plen]
    else:
        return None
    if p.proto == 6 and len(l4) >= 20:
        p.sport, p.dport, p.seq, p.ack, off, p.flags, p.win = struct.unpack("!HHIIBBH", l4[:16])
        p.payload = l4[(off >> 4) * 4:]
    elif p.proto == 17 and len(l4) >= 8:
        p.sport, p.dport = struct.unpack("!HH", l4[:4])
        p.seq = p.ack = p.flags = p.win = 0
        p.payload = l4[8:]
    else:
        return None
    return p


def build_ip(ver, src, dst, proto, l4, ttl, ipid=0, df=False):
    if ver == 4:
        s, d = socket.inet_aton(src), socket.inet_aton(dst)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ipid,
                          0x4000 if df else 0, ttl, proto, 0, s, d)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return hdr + l4
    s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), proto, ttl, s, d) + l4


def pseudo(ver, src, dst, proto, length):
    if ver == 4:
        return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)
    return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
            struct.pack("!IxxxB", length, proto))


def build_tcp(ver, src, dst, sport, dport, seq, ack, flags, win, payload=b"", ttl=64, ipid=0, df=False):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, win, 0, 0) + payload
    c = csum(pseudo(ver, src, dst, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    return build_ip(ver, src, dst, 6, tcp, ttl, ipid, df)


def build_udp(ver, src, dst, sport, dport, payload, ttl=64, ipid=0):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo(ver, src, dst, 17, len(udp)) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return build_ip(ver, src, dst, 17, udp, ttl, ipid)


class Sender:
    def __init__(self):
        self.s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.s4.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        try:
            self.s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        except OSError:
            self.s6 = None

    def send(self, pkt, ver, dst):
        try:
            if ver == 4:
                self.s4.sendto(pkt, (dst, 0))
            elif self.s6:
                self.s6.sendto(pkt, (dst, 0))
        except OSError as e:
            print("censor: send to %s failed: %s" % (dst, e), file=sys.stderr)


# ------------------------------------------------------------ triggers ----
HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"OPTIONS ", b"DELETE ", b"CONNECT ")


def http_host(payload):
    if not payload.startswith(HTTP_METHODS):
        return None
    m = re.search(rb"\r\nhost:[ \t]*([^\r\n]+)", payload[:4096], re.I)
    if not m:
        return None
    h = m.group(1).strip().decode("latin-1").lower()
    if h.startswith("["):
        return h[1:h.find("]")]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def tls_sni(p):
    """SNI of a TLS ClientHello in one segment, or None."""
    try:
        if len(p) < 43 or p[0] != 22 or p[5] != 1:
            return None
        i = 9 + 2 + 32          # record hdr 5, hs type+len 4, version 2, random 32
        i += 1 + p[i]           # session id
        i += 2 + struct.unpack("!H", p[i:i + 2])[0]   # cipher suites
        i += 1 + p[i]           # compression methods
        end = i + 2 + struct.unpack("!H", p[i:i + 2])[0]
        i += 2
        while i + 4 <= min(end, len(p)):
            et, el = struct.unpack("!HH", p[i:i + 4])
            i += 4
            if et == 0:
                j = i + 2
                while j + 3 <= i + el:
                    nt, nl = p[j], struct.unpack("!H", p[j + 1:j + 3])[0]
                    if nt == 0:
                        return p[j + 3:j + 3 + nl].decode("ascii", "replace").lower()
                    j += 3 + nl
                return None
            i += el
    except (IndexError, struct.error):
        return None
    return None


def dns_parse(p):
    """(id, flags, qname, qtype, question bytes, answer ips) or None."""
    try:
        if len(p) < 12:
            return None
        qid, flags, qd, an = struct.unpack("!HHHH", p[:8])
        if qd != 1:
            return None
        i, labels = 12, []
        while p[i]:
            if p[i] & 0xC0:
                return None
            labels.append(p[i + 1:i + 1 + p[i]].decode("ascii", "replace").lower())
            i += 1 + p[i]
        qtype = struct.unpack("!H", p[i + 1:i + 3])[0]
        question = p[12:i + 5]
        return qid, flags, ".".join(labels), qtype, question
    except (IndexError, struct.error):
        return None


def name_match(name, domains):
    if not name:
        return None
    name = name.rstrip(".")
    for d in domains:
        if name == d or name.endswith("." + d):
            return d
    return None


# ------------------------------------------------------------ nfqueue ----
def nla(atype, data):
    ln = 4 + len(data)
    return struct.pack("=HH", ln, atype) + data + b"\0" * ((4 - ln % 4) % 4)


class NFQueue:
    def __init__(self, queues):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((0, 0))
        self.seq = 0
        for q in queues:
            self._msg(NFQNL_MSG_CONFIG, q, nla(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
            self._msg(NFQNL_MSG_CONFIG, q, nla(NFQA_CFG_PARAMS, struct.pack("!IB", 0xFFFF, NFQNL_COPY_PACKET)))
            self._msg(NFQNL_MSG_CONFIG, q, nla(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)) +
                      nla(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)))

    def _msg(self, mtype, queue, attrs):
        self.seq += 1
        body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + attrs
        hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype, NLM_F_REQUEST, self.seq, 0)
        self.sock.send(hdr + body)

    def verdict(self, queue, pid, v):
        self._msg(NFQNL_MSG_VERDICT, queue, nla(NFQA_VERDICT_HDR, struct.pack("!II", v, pid)))

    def recv(self):
        """Yield (queue, packet id, ip packet bytes)."""
        try:
            data = self.sock.recv(1 << 17)
        except OSError:          # ENOBUFS: fail-open queue, nothing to do
            return
        off = 0
        while off + 16 <= len(data):
            ln, mtype, _flags, _seq, _pid = struct.unpack("=IHHII", data[off:off + 16])
            if ln < 16:
                break
            msg = data[off + 16:off + ln]
            off += (ln + 3) & ~3
            if mtype == NLMSG_ERROR:
                err = struct.unpack("=i", msg[:4])[0]
                if err:
                    print("censor: nfqueue error %d" % err, file=sys.stderr)
                continue
            if mtype != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                continue
            queue = struct.unpack("!H", msg[2:4])[0]
            a, pid, payload = 4, None, None
            while a + 4 <= len(msg):
                al, at = struct.unpack("=HH", msg[a:a + 4])
                if al < 4:
                    break
                at &= 0x3FFF
                if at == NFQA_PACKET_HDR:
                    pid = struct.unpack("!I", msg[a + 4:a + 8])[0]
                elif at == NFQA_PAYLOAD:
                    payload = msg[a + 4:a + al]
                a += (al + 3) & ~3
            if pid is not None:
                yield queue, pid, payload


# ------------------------------------------------------------ af_packet ----
_KEEP = []


def tap(iface, bpf_expr):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    try:
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass
    # a classic BPF filter compiled by tcpdump -dd keeps bulk data out of Python
    try:
        out = subprocess.run(["tcpdump", "-i", iface, "-dd", bpf_expr], capture_output=True,
                             text=True, timeout=10, check=True).stdout
        ins = [tuple(int(x, 0) for x in m) for m in
               re.findall(r"\{\s*(0x[0-9a-f]+),\s*(\d+),\s*(\d+),\s*(0x[0-9a-f]+)\s*\}", out)]
        if ins:
            buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in ins))
            prog = struct.pack("HL", len(ins), ctypes.addressof(buf))
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)
            _KEEP.append(buf)  # the kernel copies it, but keep it anyway
    except (OSError, subprocess.SubprocessError, AttributeError) as e:
        print("censor: no BPF filter (%s), filtering in Python" % e, file=sys.stderr)
    s.bind((iface, 0))
    return s


# ------------------------------------------------------------ censor ----
class Censor:
    def __init__(self, rules, delay_ms):
        self.rules = rules
        for r in rules:
            r["_nets"] = [ipaddress.ip_network(n) for n in r.get("prefixes", [])]
        self.delay = delay_ms / 1000.0
        self.tx = Sender()
        self.synack = {}          # (server, sport, client, cport) -> (ttl, ipid, df)
        self.held = []            # heap of (release time, seq, queue, packet id)
        self.nheld = 0
        self.count = {}
        self.dead = set()         # connections the server reset: (client, cport, server, sport)

    # which rule applies to a client->server packet
    def match(self, p, path):
        for r in self.rules:
            if r.get("path", "on") != path:
                continue
            if r["_nets"] and not any(ipaddress.ip_address(p.src) in n for n in r["_nets"]):
                continue
            if r.get("dst") and p.dst not in r["dst"]:
                continue
            if r.get("ports") and p.dport not in r["ports"]:
                continue
            act = r["action"]
            if act == "dns":
                if p.proto != 17 or p.dport != 53:
                    continue
                q = dns_parse(p.payload)
                if q and not q[1] & 0x8000:
                    d = name_match(q[2], r.get("qname", []))
                    if d:
                        return r, "qname=" + q[2], q
                continue
            if p.proto != 6 or not p.payload:
                continue
            h = http_host(p.payload)
            d = name_match(h, r.get("http_host", []))
            if d and r.get("path_prefix"):
                line = p.payload.split(b"\r\n", 1)[0].split(b" ")
                if len(line) < 2 or not line[1].startswith(r["path_prefix"].encode()):
                    continue
            if d:
                return r, "http_host=" + h, None
            s = tls_sni(p.payload)
            d = name_match(s, r.get("sni", []))
            if d:
                return r, "sni=" + s, None
            for kw in r.get("keyword", []):
                if kw.encode() in p.payload:
                    return r, "keyword=" + kw, None
        return None

    def note(self, rule, trig, p, **kw):
        self.count[rule["name"]] = self.count.get(rule["name"], 0) + 1
        log_event(rule=rule["name"], action=rule["action"], path=rule.get("path", "on"), trigger=trig,
                  client=p.src, client_port=p.sport, server=p.dst, server_port=p.dport,
                  proto="udp" if p.proto == 17 else "tcp", **kw)

    # ---------- forgeries
    def rst_to_client(self, p, rule, inpath):
        style = rule.get("style", "single")
        sent = []
        if inpath:
            ttl, ipid, df = self.synack.get((p.dst, p.dport, p.src, p.sport), (63, 0, True))
            ipid = (ipid + 1) & 0xFFFF if ipid else 0
            self.tx.send(build_tcp(p.ver, p.dst, p.src, p.dport, p.sport, p.ack, p.seq + len(p.payload),
                                   TH_RST | TH_ACK, 0, ttl=ttl, ipid=ipid, df=df), p.ver, p.src)
            sent.append({"seq": p.ack, "flags": "RA", "ttl": ttl, "ipid": ipid})
        elif style == "burst":
            # GFW type 2: three RST/ACKs, seq spread, TTL/window cycling
            base_ttl, win = random.randint(40, 110), random.randint(1000, 3000)
            for i, off in enumerate((0, 1460, 4380)):
                ttl, ipid = base_ttl + i, random.randint(1, 0xFFFF)
                self.tx.send(build_tcp(p.ver, p.dst, p.src, p.dport, p.sport, p.ack + off,
                                       p.seq + len(p.payload), TH_RST | TH_ACK, win + i * 17,
                                       ttl=ttl, ipid=ipid), p.ver, p.src)
                sent.append({"seq": (p.ack + off) & 0xFFFFFFFF, "flags": "RA", "ttl": ttl, "ipid": ipid})
        else:
            # GFW type 1: one RST, random TTL and IP-ID, no DF, ack 0
            ttl, ipid = random.randint(40, 250), random.randint(1, 0xFFFF)
            self.tx.send(build_tcp(p.ver, p.dst, p.src, p.dport, p.sport, p.ack, 0, TH_RST,
                                   random.randint(1, 0xFFFF), ttl=ttl, ipid=ipid), p.ver, p.src)
            sent.append({"seq": p.ack, "flags": "R", "ttl": ttl, "ipid": ipid})
        return sent

    def rst_to_server(self, p, inpath):
        seq = p.seq if inpath else p.seq + len(p.payload)
        self.tx.send(build_tcp(p.ver, p.src, p.dst, p.sport, p.dport, seq, p.ack, TH_RST | TH_ACK, 0,
                               ttl=64, ipid=random.randint(1, 0xFFFF)), p.ver, p.dst)

    def blockpage(self, p, rule):
        if rule.get("page") == "fortigate":
            return self.fortigate_page(p)
        status = int(rule.get("status", 451))
        reason = {403: "Forbidden", 451: "Unavailable For Legal Reasons"}.get(status, "Blocked")
        body = ("<html><head><title>Access denied</title></head><body>"
                "<h1>%d %s</h1><p>Access to this resource has been restricted by order of the "
                "competent authority (tamperwatch lab censor).</p></body></html>\n" % (status, reason)).encode()
        resp = ("HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n" % (status, reason, len(body))).encode() + body
        ttl, ipid = random.randint(100, 250), 0
        self.tx.send(build_tcp(p.ver, p.dst, p.src, p.dport, p.sport, p.ack, p.seq + len(p.payload),
                               TH_PSH | TH_ACK | TH_FIN, 8192, resp, ttl=ttl, ipid=ipid), p.ver, p.src)
        return {"status": status, "ttl": ttl, "ipid": ipid, "bytes": len(resp)}

    def fortigate_page(self, p):
        # the shape of FortiOS's default Application Control replacement
        # message: its title, its heading and images served by the
        # FortiGate under /XX/YY/ZZ/CI/ (what data/fingerprints.csv names)
        img = "http://fortigate.example:8008/XX/YY/ZZ/CI/MGPGHGPGPFGHCDPFGGOGFGEH"
        body = ("<!DOCTYPE html>\n<html><head><title>Application Control Violation</title>\n"
                "<style>div.header { background: url(%s) 0 0 repeat-x; }</style></head>\n"
                "<body><div class=\"header\"><h1>FortiGate Application Control</h1></div>\n"
                "<h2>Application Blocked</h2><p>You have attempted to use an application that violates your "
                "Internet usage policy (tamperwatch lab censor).</p></body></html>\n" % img).encode()
        resp = ("HTTP/1.1 403 Forbidden\r\nX-Frame-Options: SAMEORIGIN\r\nContent-Type: text/html; "
                "charset=\"utf-8\"\r\nContent-Length: %d\r\nConnection: Close\r\n\r\n" % len(body)).encode() + body
        ttl, ipid = 112, random.randint(1, 0xFFFF)
        self.tx.send(build_tcp(p.ver, p.dst, p.src, p.dport, p.sport, p.ack, p.seq + len(p.payload),
                               TH_PSH | TH_ACK | TH_FIN, 8192, resp, ttl=ttl, ipid=ipid), p.ver, p.src)
        return {"status": 403, "page": "fortigate", "ttl": ttl, "ipid": ipid, "bytes": len(resp)}

    def redirect(self, p, rule):
        """an injected 307 to another host: the server's TTL copied (or one
        hop off it), one constant IP-ID on every forgery"""
        ttl0, _ipid, df = self.synack.get((p.dst, p.dport, p.src, p.sport), (64, 0, True))
        ttl = ttl0 + 1 if rule.get("ttl") == "hop" else ttl0
        ipid = int(rule.get("ipid", 0x3412)) & 0xFFFF
        loc = rule["location"]
        if "%s" in loc:
            loc = loc % ("%040x" % random.getrandbits(160))
        resp = ("HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nConnection: close\r\n"
                "Content-Length: 0\r\n\r\n" % loc).encode()
        self.tx.send(build_tcp(p.ver, p.dst, p.src, p.dport, p.sport, p.ack, p.seq + len(p.payload),
                               TH_PSH | TH_ACK | TH_FIN, 8192, resp, ttl=ttl, ipid=ipid, df=df), p.ver, p.src)
        return {"status": 307, "location": loc, "ttl": ttl, "server_ttl": ttl0, "ipid": ipid}

    def dns_answer(self, p, rule, q):
        qid, _flags, qname, qtype, question = q
        ans = b""
        ip = None
        if qtype == 1 and rule.get("forged_a"):
            ip = rule["forged_a"]
            ans = struct.pack("!HHHIH", 0xC00C, 1, 1, random.randint(60, 600), 4) + socket.inet_aton(ip)
        elif qtype == 28 and rule.get("forged_aaaa"):
            ip = rule["forged_aaaa"]
            ans = struct.pack("!HHHIH", 0xC00C, 28, 1, random.randint(60, 600), 16) + \
                socket.inet_pton(socket.AF_INET6, ip)
        msg = struct.pack("!HHHHHH", qid, 0x8180, 1, 1 if ans else 0, 0, 0) + question + ans
        ttl = random.randint(30, 250)
        self.tx.send(build_udp(p.ver, p.dst, p.src, p.dport, p.sport, msg, ttl=ttl,
                               ipid=random.randint(1, 0xFFFF)), p.ver, p.src)
        return {"qname": qname, "qtype": qtype, "forged": ip, "ttl": ttl, "dns_id": qid}

    # ---------- handlers
    def on_tap(self, frame):
        if len(frame) < 14:
            return
        et = struct.unpack("!H", frame[12:14])[0]
        if et not in (0x0800, 0x86DD):
            return
        p = parse_ip(frame[14:])
        if not p:
            return
        m = self.match(p, "on")
        if not m:
            return
        rule, trig, q = m
        if rule["action"] == "dns":
            self.note(rule, trig, p, forged=self.dns_answer(p, rule, q))
        elif rule["action"] == "rst":
            sent = self.rst_to_client(p, rule, False)
            if rule.get("to_server", True):
                self.rst_to_server(p, False)
            self.note(rule, trig, p, style=rule.get("style", "single"), rsts=sent)
        elif rule["action"] == "redirect":
            self.note(rule, trig, p, redirect=self.redirect(p, rule))

    def on_firewall(self, nfq, pid, p):
        """queue 2: an endpoint firewall in front of the server.  After the
        server's own RST, the connection is dead to it: every later client
        packet is dropped and answered with the firewall's RST (TTL 237)."""
        if not p or p.proto != 6:
            nfq.verdict(2, pid, NF_ACCEPT)
            return
        rule = next((r for r in self.rules if r["action"] == "firewall"), None)
        if rule and p.src in rule.get("dst", []) and p.sport in rule.get("ports", [p.sport]):
            if p.flags & TH_RST:
                self.dead.add((p.dst, p.dport, p.src, p.sport))
                if len(self.dead) > 50000:
                    self.dead.clear()
            nfq.verdict(2, pid, NF_ACCEPT)
            return
        key = (p.src, p.sport, p.dst, p.dport)
        if rule and key in self.dead and not p.flags & (TH_RST | TH_SYN):
            nfq.verdict(2, pid, NF_DROP)
            ipid = random.randint(1, 0xFFFF)
            self.tx.send(build_tcp(p.ver, p.dst, p.src, p.dport, p.sport, p.ack, p.seq + len(p.payload) +
                                   (1 if p.flags & TH_FIN else 0), TH_RST | TH_ACK, 0, ttl=237, ipid=ipid),
                         p.ver, p.src)
            self.note(rule, "after_server_rst", p, rsts=[{"seq": p.ack, "flags": "RA", "ttl": 237, "ipid": ipid}])
            return
        nfq.verdict(2, pid, NF_ACCEPT)

    def on_queue(self, nfq, queue, pid, buf):
        p = parse_ip(buf) if buf else None
        if queue == 2:
            self.on_firewall(nfq, pid, p)
            return
        if queue == 1:
            if p and p.proto == 6 and p.flags & (TH_SYN | TH_ACK) == TH_SYN | TH_ACK:
                self.synack[(p.src, p.sport, p.dst, p.dport)] = (p.ttl, p.ipid, p.df)
                if len(self.synack) > 50000:
                    self.synack.clear()
            if self.delay > 0:
                self.nheld += 1
                heapq.heappush(self.held, (time.monotonic() + self.delay, self.nheld, queue, pid))
            else:
                nfq.verdict(queue, pid, NF_ACCEPT)
            return
        if not p:
            nfq.verdict(queue, pid, NF_ACCEPT)
            return
        # in-path DNS: the resolver's real answer for a censored name is dropped
        if p.proto == 17 and p.sport == 53:
            q = dns_parse(p.payload)
            for r in self.rules:
                if r["action"] == "dns" and r.get("path") == "in" and q and name_match(q[2], r.get("qname", [])) \
                        and (not r["_nets"] or any(ipaddress.ip_address(p.dst) in n for n in r["_nets"])):
                    nfq.verdict(queue, pid, NF_DROP)
                    log_event(rule=r["name"], action="dns_drop_real_answer", path="in", client=p.dst,
                              client_port=p.dport, server=p.src, server_port=53, proto="udp", qname=q[2])
                    return
            nfq.verdict(queue, pid, NF_ACCEPT)
            return
        m = self.match(p, "in")
        if not m:
            nfq.verdict(queue, pid, NF_ACCEPT)
            return
        rule, trig, q = m
        act = rule["action"]
        if act == "dns":      # query goes on; forged answer first, real one dropped later
            nfq.verdict(queue, pid, NF_ACCEPT)
            self.note(rule, trig, p, forged=self.dns_answer(p, rule, q))
            return
        nfq.verdict(queue, pid, NF_DROP)
        if act in ("rst", "tls_reset"):
            sent = self.rst_to_client(p, rule, True)
            if rule.get("to_server", True):
                self.rst_to_server(p, True)
            self.note(rule, trig, p, rsts=sent, request_dropped=True)
        elif act == "blockpage":
            info = self.blockpage(p, rule)
            self.rst_to_server(p, True)
            self.note(rule, trig, p, blockpage=info, request_dropped=True)
        elif act == "redirect":
            info = self.redirect(p, rule)
            self.rst_to_server(p, True)
            self.note(rule, trig, p, redirect=info, request_dropped=True)
        elif act == "drop":
            self.note(rule, trig, p, request_dropped=True)

    def release(self, nfq):
        now = time.monotonic()
        while self.held and self.held[0][0] <= now:
            _, _, q, pid = heapq.heappop(self.held)
            nfq.verdict(q, pid, NF_ACCEPT)

    def flush(self, nfq):
        while self.held:
            _, _, q, pid = heapq.heappop(self.held)
            nfq.verdict(q, pid, NF_ACCEPT)


TAP_FILTER = ("(udp dst port 53) or "
              "(ip and tcp and (ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) > 0)) or "
              "(ip6 and ip6[6] == 6 and (ip6[4:2] > ((ip6[52] & 0xf0) >> 2)))")


def main():
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--tap", default="", help="interface for the on-path tap (client side)")
    ap.add_argument("--queue", action="store_true", help="serve NFQUEUE 0, 1 and 2 (in-path, delay line, firewall)")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--ready", default="", help="file to create once listening")
    a = ap.parse_args()
    with open(a.rules) as f:
        rules = json.load(f)
    LOG = open(a.log, "a")
    c = Censor(rules, a.delay_ms)
    socks = {}
    nfq = None
    if a.tap:
        t = tap(a.tap, TAP_FILTER)
        socks[t.fileno()] = ("tap", t)
    if a.queue:
        nfq = NFQueue([0, 1, 2])
        socks[nfq.sock.fileno()] = ("nfq", nfq)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    if a.ready:
        open(a.ready, "w").close()
    while not stop:
        timeout = 0.2
        if c.held:
            timeout = max(0.0, min(timeout, c.held[0][0] - time.monotonic()))
        try:
            r, _, _ = select.select(list(socks), [], [], timeout)
        except InterruptedError:
            continue
        for fd in r:
            kind, obj = socks[fd]
            if kind == "tap":
                try:
                    frame = obj.recv(65535)
                except OSError:
                    continue
                c.on_tap(frame)
            else:
                for q, pid, buf in obj.recv():
                    c.on_queue(obj, q, pid, buf)
        if nfq:
            c.release(nfq)
    if nfq:
        c.flush(nfq)
    log_event(action="censor_exit", counts=c.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
