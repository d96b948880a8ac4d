#!/usr/bin/python3
"""A censor that answers a QUIC client's Initial with a forged packet, for
tests/live/test_live_quic_forged.sh.  Python 3 standard library only.

Runs in the gateway namespace: an AF_PACKET socket on the client-side link
reads the client's UDP/443 datagrams; for a long-header Initial whose
Destination Connection ID starts with one of the given prefixes it sends,
from the server's address and port to the client, through a raw IP socket
(the packet built by the lab censor's build_udp, scripts/lab.d/censor.py):

  vn     a Version Negotiation packet (version 0) that echoes the client's
         connection IDs, swapped, and lists the client's own version among
         others: no server that spoke the client's version would send it
         (RFC 9000 6.1), and a client discards it (6.2)
  reset  a stateless reset: a short-header datagram of 43 random bytes, the
         last 16 a "token", before the server ever answered (RFC 9000 10.3)

The Initial itself is dropped by nftables (the test's rules), as the
censor's drop.  One forged packet per connection (keyed by the client's
port and SCID).  Logs one JSON line per forgery to --log.

  quic_forge.py --iface IF --vn HEXPREFIX --reset HEXPREFIX --log FILE --ready FILE
"""
import argparse, json, os, random, signal, socket, struct, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lab.d"))
from censor import build_udp  # noqa: E402  (the lab censor's packet builder)

ETH_P_ALL = 0x0003


def initial(frame):
    """(src, dst, sport, dport, version, dcid, scid) of a client's IPv4 UDP/443 long-header Initial, else None"""
    if len(frame) < 14 + 20 + 8 + 7 or struct.unpack("!H", frame[12:14])[0] != 0x0800:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0xF) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < ihl + 8 + 7:
        return None
    sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
    q = ip[ihl + 8:]
    if dport != 443 or not q[0] & 0x80:
        return None
    version = struct.unpack("!I", q[1:5])[0]
    if version == 0 or (q[0] >> 4) & 3 != (1 if version == 0x6B3343CF else 0):   # Initial (v2: type 1)
        return None
    dl = q[5]
    if dl > 20 or len(q) < 7 + dl:
        return None
    dcid = q[6:6 + dl]
    sl = q[6 + dl]
    if sl > 20 or len(q) < 7 + dl + sl:
        return None
    scid = q[7 + dl:7 + dl + sl]
    return socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), sport, dport, version, dcid, scid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--vn", default="")
    ap.add_argument("--reset", default="")
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", default="")
    a = ap.parse_args()
    vn, rs = bytes.fromhex(a.vn), bytes.fromhex(a.reset)
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    rx.bind((a.iface, 0))
    rx.settimeout(0.2)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    log = open(a.log, "a")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    done = set()
    if a.ready:
        open(a.ready, "w").close()
    while not stop:
        try:
            frame, addr = rx.recvfrom(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        p = initial(frame)
        if not p:
            continue
        src, dst, sport, dport, version, dcid, scid = p
        kind = "vn" if vn and dcid.startswith(vn) else "reset" if rs and dcid.startswith(rs) else None
        key = (src, sport, scid)
        if not kind or key in done:
            continue
        done.add(key)
        if kind == "vn":
            # echoes the IDs, swapped; lists a reserved version and the client's own
            payload = bytes([0x80 | random.randint(0, 0x7F)]) + b"\0\0\0\0" + bytes([len(scid)]) + scid + \
                bytes([len(dcid)]) + dcid + struct.pack("!II", 0x1A2A3A4A, version)
        else:
            payload = bytes([0x40 | random.randint(0, 0x3F)]) + os.urandom(42)
        tx.sendto(build_udp(4, dst, src, dport, sport, payload, ttl=64, ipid=random.randint(1, 0xFFFF)), (src, 0))
        log.write(json.dumps({"forged": kind, "client_port": sport, "version": "%08x" % version,
                              "dcid": dcid.hex(), "scid": scid.hex(), "bytes": len(payload)}) + "\n")
        log.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
