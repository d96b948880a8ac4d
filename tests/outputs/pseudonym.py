#!/usr/bin/python3
"""Client pseudonyms of the evidence pcaps, for tests/outputs/test_leak.sh.

usage: pseudonym.py key STATE_DIR CLIENT...
       pseudonym.py pcap STATE_DIR --client CLIENT... PCAP...

A pseudonym keeps the client's prefix (/24, /48), so with a random key the
pseudonym of one client is another client of the same /24 about once in
128 runs, and the leak scan would rightly call that address a finding.
`key` therefore draws keys until no client's pseudonym is a client and
writes it as STATE_DIR/pseudonym.key, in the state-file format of
daemon/util/state.c, for the daemon to load.

`pcap` reads the evidence files (pcap, LINKTYPE_RAW) and checks that the
client side of every packet is the pseudonym of one of the clients under
that key, that IPv4 and IPv6 clients both appear and that there are RSTs:
the files hold what the incident made, written under pseudonyms. The
pseudonyms are computed here independently of daemon/outputs/pseudonym.c (the
same construction: pi^-1(pi(host)+1), pi an 8-round Feistel network on
the host bits with HMAC-SHA256 rounds, walked back into range), so a
change to the construction fails here first, by name, instead of making
the leak scan flaky.
"""
import hashlib
import hmac
import ipaddress
import os
import struct
import sys
import zlib

ROUNDS = 8
PREFIX = {4: 24, 6: 48}          # privacy.prefix_v4 / prefix_v6 defaults


def _round(key, fam, net, rnd, half, h):
    msg = b"tw-pnym1" + bytes([fam]) + net + bytes([rnd]) + half.to_bytes(8, "little")
    v = int.from_bytes(hmac.new(key, msg, hashlib.sha256).digest()[:8], "little")
    return v if h >= 64 else v & ((1 << h) - 1)


def _feistel(key, fam, net, h, x, inverse):
    mask = (1 << h) - 1
    l, r = (x >> h) & mask, x & mask
    for i in range(ROUNDS):
        if inverse:
            l, r = r ^ _round(key, fam, net, ROUNDS - 1 - i, l, h), l
        else:
            l, r = r, l ^ _round(key, fam, net, i, r, h)
    return (l << h) | r


def _perm(key, fam, net, n, x, inverse):
    h, lim = (n + 1) // 2, (1 << n) - 1
    x = _feistel(key, fam, net, h, x, inverse)
    while x > lim:
        x = _feistel(key, fam, net, h, x, inverse)
    return x


def pseudonym(key, addr):
    a = ipaddress.ip_address(addr)
    bits = a.max_prefixlen
    n = bits - PREFIX[a.version]
    lim = (1 << n) - 1
    v = int(a)
    net = (v & ~lim & ((1 << bits) - 1)).to_bytes(bits // 8, "big").ljust(16, b"\0")
    y = _perm(key, a.version, net, n, v & lim, False)
    y = _perm(key, a.version, net, n, (y + 1) & lim, True)
    return ipaddress.ip_address((v & ~lim) | y)


def write_key(state_dir, key):
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    body = zlib.compress(key, 6)
    hdr = struct.pack("<8sIIQQ", b"TWSTATE\0", 1, zlib.crc32(key), len(key), len(body))
    path = os.path.join(state_dir, "pseudonym.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(hdr + body)


def read_key(state_dir):
    b = open(os.path.join(state_dir, "pseudonym.key"), "rb").read()
    magic, ver, crc, raw, clen = struct.unpack("<8sIIQQ", b[:32])
    key = zlib.decompress(b[32:32 + clen])
    assert magic == b"TWSTATE\0" and ver == 1 and len(key) == raw == 32 and zlib.crc32(key) == crc
    return key


def cmd_key(state_dir, clients):
    cl = {ipaddress.ip_address(c) for c in clients}
    for _ in range(1000):
        key = os.urandom(32)
        if not any(pseudonym(key, c) in cl for c in cl):
            write_key(state_dir, key)
            return 0
    print("pseudonym.py: no key keeps the clients apart", file=sys.stderr)
    return 1


def packets(path):
    d = open(path, "rb").read()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", d[:24])
    assert magic in (0xa1b2c3d4, 0xa1b23c4d) and link == 101, (path, hex(magic), link)
    off = 24
    while off + 16 <= len(d):
        incl = struct.unpack_from("<IIII", d, off)[2]
        yield d[off + 16:off + 16 + incl]
        off += 16 + incl


def cmd_pcap(state_dir, clients, pcaps):
    key = read_key(state_dir)
    want = {pseudonym(key, c): c for c in clients}
    nets = [ipaddress.ip_network("%s/%d" % (c, PREFIX[ipaddress.ip_address(c).version]), strict=False)
            for c in clients]
    seen, npk, rst, bad = {4: set(), 6: set()}, 0, 0, []
    for p in pcaps:
        for pk in packets(p):
            npk += 1
            if pk[0] >> 4 == 4:
                src, dst, l4, proto = pk[12:16], pk[16:20], pk[(pk[0] & 15) * 4:], pk[9]
            else:
                src, dst, l4, proto = pk[8:24], pk[24:40], pk[40:], pk[6]
            if proto == 6 and len(l4) > 13 and l4[13] & 4:
                rst += 1
            for raw in (src, dst):
                a = ipaddress.ip_address(raw)
                if any(a in n for n in nets):
                    seen[a.version].add(a)
                    if a not in want:
                        bad.append(str(a))
    print("evidence: %d files, %d packets, %d RSTs, client pseudonyms %s" %
          (len(pcaps), npk, rst, sorted(str(a) for s in seen.values() for a in s)))
    if bad:
        print("evidence: client-side addresses that are no client's pseudonym under the key: %s "
              "(a client in clear; or daemon/outputs/pseudonym.c changed: update tests/outputs/pseudonym.py)"
              % sorted(set(bad)))
    ok = not bad and seen[4] and seen[6] and rst
    if not ok:
        print("evidence: want IPv4 and IPv6 client pseudonyms and an RST")
    return 0 if ok else 1


def main(argv):
    if len(argv) >= 3 and argv[0] == "key":
        return cmd_key(argv[1], argv[2:])
    if len(argv) >= 3 and argv[0] == "pcap":
        clients, rest, i = [], [], 2
        while i < len(argv):
            if argv[i] == "--client" and i + 1 < len(argv):
                clients.append(argv[i + 1])
                i += 2
            else:
                rest.append(argv[i])
                i += 1
        if clients and rest:
            return cmd_pcap(argv[1], clients, rest)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
