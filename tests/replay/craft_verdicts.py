#!/usr/bin/env python3
"""Crafted flows, one capture each, for the verdict tests: what a censor
does (forged RSTs racing the server, an injected block page, a reset after a
ClientHello, duplicate DNS answers, silence) and the benign look-alikes that
must stay quiet (client abort, server abortive close, closed port, a route
change that persists); ISP NXDOMAIN redirection, which is labelled, not
called tampering.  usage: craft_verdicts.py OUTDIR"""
import os, struct, sys
sys.path.insert(0, os.path.dirname(__file__))
from craft import eth, ipv4, tcp, udp, pcap

C, S = "198.51.100.7", "203.0.113.5"
T0 = 1700000000.0

class Flow:
    """one TCP connection with the server's own TTL/IP-ID bookkeeping"""
    def __init__(self, sport, dport=80, srv_ttl=52, t0=T0, srv=S, cli=C):
        self.sport, self.dport, self.t, self.srv, self.cli = sport, dport, t0, srv, cli
        self.cseq, self.sseq, self.cid, self.sid, self.srv_ttl = 1000, 5000, 10, 300, srv_ttl
        self.recs = []
    def at(self, dt):
        self.t += dt
        return self.t
    def c(self, flags, payload=b"", dt=0.001):
        self.recs.append((self.at(dt), eth(ipv4(self.cli, self.srv, 6, tcp(self.sport, self.dport, self.cseq, self.sseq, flags, payload), ipid=self.cid))))
        self.cid += 1
        self.cseq += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
    def s(self, flags, payload=b"", dt=0.010, ttl=None, ipid=None, seq=None):
        sq = self.sseq if seq is None else seq
        self.recs.append((self.at(dt), eth(ipv4(self.srv, self.cli, 6, tcp(self.dport, self.sport, sq, self.cseq, flags, payload),
                                                ttl=ttl or self.srv_ttl, ipid=self.sid if ipid is None else ipid))))
        self.sid += 1
        if seq is None:
            self.sseq += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
    def unanswered(self, payload, tries=3):
        """a request sent and resent, never answered, then the client gives up"""
        for i in range(tries):
            self.c("PA", payload, dt=0.001 if i == 0 else 0.3 * 2 ** i)
            self.cseq -= len(payload)
        self.cseq += len(payload)
        self.c("FA", dt=1)
    def handshake(self, rtt=0.010):
        self.c("S", dt=0)
        self.s("SA", dt=rtt)
        self.c("A")

def client_hello(sni):
    name = sni.encode()
    ext_sni = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    body = b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + struct.pack("!H", len(ext_sni)) + ext_sni
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs

REQ = b"GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
PAGE = b"HTTP/1.1 451 Unavailable For Legal Reasons\r\nConnection: close\r\n\r\n<html><title>Blocked</title>blocked by order</html>"

def dnsmsg(qid, name, answer=None, ttl=60):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\x00\x01\x00\x01"
    if answer is None:
        return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q +
            b"\xc0\x0c\x00\x01\x00\x01" + struct.pack("!IH", ttl, 4) + bytes(map(int, answer.split("."))))

RES = "203.0.113.53"

def isp_redirect(t0, name, addr, location, forged_first=False, sport=43001, body_len=0):
    """the resolver answers NAME with ADDR; a web flow to ADDR asks for NAME
    and is sent to LOCATION (forged_first: an injected answer races first;
    body_len: the 302 carries a page of that size, in 1400-byte segments)"""
    q = dnsmsg(0x5151, name)
    recs = [(t0, eth(ipv4(C, RES, 17, udp(40100, 53, q))))]
    if forged_first:
        recs.append((t0 + 0.002, eth(ipv4(RES, C, 17, udp(53, 40100, dnsmsg(0x5151, name, addr, 10)), ttl=120))))
        recs.append((t0 + 0.030, eth(ipv4(RES, C, 17, udp(53, 40100, dnsmsg(0x5151, name, "203.0.113.10", 300)), ttl=61))))
    else:
        recs.append((t0 + 0.030, eth(ipv4(RES, C, 17, udp(53, 40100, dnsmsg(0x5151, name, addr, 10)), ttl=61))))
    f = Flow(sport, t0=t0 + 0.05, srv=addr)
    f.handshake()
    f.c("PA", b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % name.encode())
    page = b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: %d\r\n\r\n" % (location.encode(), body_len) + b"x" * body_len
    for o in range(0, len(page), 1400):
        f.s("PA", page[o:o + 1400])
    f.c("FA"); f.s("FA")
    return recs + f.recs

def main(out):
    os.makedirs(out, exist_ok=True)
    cases = {}

    f = Flow(41001); f.handshake(); f.c("PA", REQ)          # on-path: forged RST races the answer
    f.s("RA", ttl=118, ipid=54321, dt=0.002); f.s("PA", RESP); f.c("FA"); f.s("FA")
    cases["rst_race"] = f.recs

    f = Flow(41002); f.handshake(); f.c("PA", REQ)          # GFW type-2: three RSTs, spread seq
    base = f.sseq
    for i, d in enumerate((0, 1460, 4380)):
        f.s("RA", ttl=90 + i, ipid=999 * (i + 7), seq=base + d, dt=0.001)
    cases["rst_burst"] = f.recs

    f = Flow(41003, 443); f.handshake(); f.c("PA", client_hello("blocked.example"))
    f.s("RA", ttl=200, ipid=0, dt=0.002)                    # reset right after the ClientHello
    cases["tls_reset"] = f.recs

    f = Flow(41004); f.handshake(); f.c("PA", REQ)          # injected 451 page, real answer dropped
    f.s("FPA", PAGE, ttl=250, ipid=0); f.c("FA")
    cases["blockpage"] = f.recs

    f = Flow(41005, 443, t0=T0)                            # SYN never answered
    f.c("S", dt=0); f.cseq -= 1; f.c("S", dt=1); f.cseq -= 1; f.c("S", dt=2)
    f.recs.append((T0 + 300, eth(ipv4(C, "203.0.113.99", 17, udp(5000, 9999, b"x")))))  # time passes
    cases["syn_timeout"] = f.recs

    q = dnsmsg(0x4242, "blocked.example")                  # a forged answer races the real one
    cases["dns_race"] = [
        (T0, eth(ipv4(C, "203.0.113.53", 17, udp(40000, 53, q)))),
        (T0 + 0.002, eth(ipv4("203.0.113.53", C, 17, udp(53, 40000, dnsmsg(0x4242, "blocked.example", "203.0.113.250")), ttl=120))),
        (T0 + 0.030, eth(ipv4("203.0.113.53", C, 17, udp(53, 40000, dnsmsg(0x4242, "blocked.example", "203.0.113.10")), ttl=61))),
    ]

    # --- benign look-alikes: no verdict ---
    f = Flow(42001); f.handshake(); f.c("PA", REQ); f.s("PA", RESP); f.c("RA")   # client aborts
    cases["benign_client_abort"] = f.recs
    f = Flow(42002); f.handshake(); f.c("PA", REQ); f.s("PA", RESP); f.s("RA")   # server's abortive close
    cases["benign_server_abort"] = f.recs
    f = Flow(42003); f.handshake(); f.c("PA", REQ); f.s("PA", RESP); f.c("FA"); f.s("FA")
    g = Flow(42004, 81, t0=T0 + 1); g.c("S", dt=0); g.s("RA", seq=0)            # closed port, server's TTL
    cases["benign_closed_port"] = f.recs + g.recs
    f = Flow(42005); f.handshake(); f.c("PA", REQ)                               # route change for good
    for i in range(12):
        f.s("A", b"x" * 1400, ttl=40)
    f.c("FA"); f.s("FA", ttl=40)
    cases["benign_route_change"] = f.recs
    cases["benign_dns"] = [
        (T0, eth(ipv4(C, "203.0.113.53", 17, udp(40001, 53, q)))),
        (T0 + 0.020, eth(ipv4("203.0.113.53", C, 17, udp(53, 40001, dnsmsg(0x4242, "blocked.example", "203.0.113.10")), ttl=61))),
    ]
    # in-path: the request is dropped and an RST copying the server's TTL and
    # IP-ID comes back 1 ms later, from a server 40 ms away
    f = Flow(44001); f.handshake(rtt=0.040); f.c("PA", REQ); f.s("RA", dt=0.001)
    cases["inpath_rst"] = f.recs
    f = Flow(44002, 443); f.handshake(rtt=0.040); f.c("PA", client_hello("blocked.example")); f.s("RA", dt=0.001)
    cases["inpath_tls_reset"] = f.recs
    # the server's own abortive close after reading the request: one round trip later
    f = Flow(44003); f.handshake(rtt=0.040); f.c("PA", REQ); f.s("RA", dt=0.045)
    cases["benign_abort_far"] = f.recs
    # a server 2 ms away: half its round trip is within scheduling jitter
    f = Flow(44004); f.handshake(rtt=0.002); f.c("PA", REQ); f.s("RA", dt=0.0005)
    cases["benign_abort_near"] = f.recs
    # one SYN-ACK held up a second (lost before us, resent by the server):
    # the server's round trip is what earlier flows measured, 40 ms
    f = Flow(44005); f.handshake(rtt=0.040); f.c("PA", REQ); f.s("PA", RESP); f.c("FA"); f.s("FA")
    g = Flow(44006, t0=T0 + 5); g.handshake(rtt=1.040); g.c("PA", REQ); g.s("RA", dt=0.045)
    cases["benign_abort_slow_synack"] = f.recs + g.recs

    # silence after a ClientHello: the name (tls_interference) or the server
    # (blackhole)?  Other flows near in time decide; flows end at idle time
    later = (T0 + 400, eth(ipv4(C, "203.0.113.99", 17, udp(5000, 9999, b"x"))))  # time passes
    CH = client_hello("blocked.example")
    HTTP_REQ = b"GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n"
    f = Flow(45001, 443); f.handshake(); f.unanswered(CH)
    cases["tls_silence_alone"] = f.recs + [later]
    g = Flow(45002, 443, t0=T0 + 5); g.handshake(); g.c("PA", client_hello("other.example")); g.s("PA", b"\x16\x03\x03\x00\x04\x02\x00\x00\x00")
    cases["tls_silence_other_sni_answered"] = f.recs + g.recs + [later]
    g = Flow(45003, 80, t0=T0 + 10); g.handshake(); g.unanswered(HTTP_REQ)
    cases["tls_silence_server_silent"] = f.recs + g.recs + [later]
    # plain HTTP for the name, to another address, from another prefix: silent
    g = Flow(45004, 80, t0=T0 + 10, srv="203.0.113.6", cli="192.0.2.9"); g.handshake(); g.unanswered(HTTP_REQ)
    cases["tls_silence_name_silent_elsewhere"] = f.recs + g.recs + [later]
    # ... but answered from this prefix: the name is reachable here over HTTP
    h = Flow(45005, 80, t0=T0 + 12, srv="203.0.113.6"); h.handshake(); h.c("PA", HTTP_REQ); h.s("PA", RESP)
    cases["tls_silence_name_answered_here"] = f.recs + g.recs + h.recs + [later]
    # the silent HTTP flow ends after the ClientHello's hold is over (packets
    # at +130 s and +160 s drive the clock): decided without it
    g = Flow(45006, 80, t0=T0 + 100); g.handshake(); g.unanswered(HTTP_REQ)
    tick = [(T0 + t, eth(ipv4(C, "203.0.113.99", 17, udp(5001, 9999, b"t")))) for t in (130, 160)]
    cases["tls_silence_context_too_late"] = sorted(f.recs + g.recs + tick, key=lambda r: r[0]) + [later]

    # ISP NXDOMAIN redirection: labelled, never tampering; look-alikes are not labelled
    cases["isp_redirect"] = isp_redirect(T0, "typo-name.example", "198.18.0.80",
                                         "http://search.isp.example/results?q=http://typo-name.example/&t=0")
    cases["redirect_same_site"] = isp_redirect(T0, "portal.example", "198.18.0.81",
                                               "https://login.portal.example/?service=http://portal.example/")
    cases["redirect_no_name"] = isp_redirect(T0, "typo-name.example", "198.18.0.82", "http://search.isp.example/")
    cases["redirect_forged_dns"] = isp_redirect(T0, "typo-name.example", "198.18.0.83",
                                                "http://search.isp.example/results?q=typo-name.example", forged_first=True)
    cases["redirect_no_dns"] = isp_redirect(T0, "typo-name.example", "198.18.0.84",
                                            "http://search.isp.example/results?q=typo-name.example")[2:]
    for name, recs in cases.items():
        with open(os.path.join(out, name + ".pcap"), "wb") as fh:
            fh.write(pcap(1, recs))

if __name__ == "__main__":
    main(sys.argv[1])
