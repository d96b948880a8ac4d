#!/usr/bin/python3
"""Search files for client addresses in clear (tests/outputs/test_leak.sh).

usage: leakscan.py --addr ADDR [--addr ADDR]... [--expect TEXT]... PATH...
       leakscan.py --selftest

Every file under each PATH is read whole and searched, and so is every zlib
or gzip stream found inside it (state files, compressed logs), and the
percent-decoded text of each (URLs, form bodies).  An address is found as:
  - text: IPv4 dotted quad; IPv6 in every form a tool may write (RFC 5952
    compressed, any run of zero groups compressed, uncompressed with or
    without leading zeros, any letter case);
  - hex digits of its bytes (any case), and IPv4 as a decimal 32-bit number
    in either byte order;
  - its raw 4 or 16 bytes.
Text forms must stand alone (not inside a longer number or address), so a
client's prefix such as 198.51.100.0/24 is not a finding, and neither is
198.51.100.20 when searching for 198.51.100.2.

--expect TEXT: TEXT must occur somewhere (in some file or decompressed
stream), so that a scan of outputs that never saw the clients cannot pass.
Exit status: 0 nothing found, 1 a finding (each printed with file, form and
offset) or an expectation unmet, 2 usage.
"""
import argparse
import gzip
import ipaddress
import os
import re
import struct
import sys
import tempfile
import urllib.parse
import zlib

MAX_STREAMS = 64          # zlib/gzip streams tried per file
MAX_FILE = 256 << 20      # bytes read per file


def v6_forms(a):
    groups = [int(g, 16) for g in a.exploded.split(":")]
    forms = {a.compressed, a.exploded, ":".join("%x" % g for g in groups)}
    for full in (["%x" % g for g in groups], ["%04x" % g for g in groups]):
        for i in range(8):
            for j in range(i + 1, 9):
                if all(g == 0 for g in groups[i:j]):
                    forms.add(":".join(full[:i]) + "::" + ":".join(full[j:]))
    return forms


def patterns(addr):
    """(name, compiled regex over bytes) for every form of one address."""
    a = ipaddress.ip_address(addr)
    raw = a.packed
    out = []
    if a.version == 4:
        out.append(("dotted", rb"(?<![0-9.])" + re.escape(str(a).encode()) + rb"(?![0-9])"))
        for order, v in (("big-endian", struct.unpack(">I", raw)[0]), ("little-endian", struct.unpack("<I", raw)[0])):
            out.append(("decimal " + order, rb"(?<![0-9])" + str(v).encode() + rb"(?![0-9])"))
        hexb = raw.hex().encode()
        out.append(("hex", rb"(?i)(?<![0-9a-f])" + hexb + rb"(?![0-9a-f])"))
    else:
        for f in sorted(v6_forms(a)):
            out.append(("text " + f, rb"(?i)(?<![0-9a-f:])" + re.escape(f.encode()) + rb"(?![0-9a-f:])"))
        out.append(("hex", rb"(?i)(?<![0-9a-f])" + raw.hex().encode() + rb"(?![0-9a-f])"))
    pats = [(n, re.compile(p)) for n, p in out]
    pats.append(("raw %d bytes" % len(raw), re.compile(re.escape(raw))))
    return pats


def streams(data):
    """Decompressed zlib/gzip streams inside data: (offset, kind, bytes)."""
    found = 0
    i = 0
    while found < MAX_STREAMS:
        m = re.compile(rb"\x78[\x01\x5e\x9c\xda]|\x1f\x8b\x08", re.S).search(data, i)
        if not m:
            break
        off = m.start()
        i = off + 1
        try:
            if data[off] == 0x1f:
                body = gzip.decompress(data[off:])
                kind = "gzip"
            else:
                d = zlib.decompressobj()
                body = d.decompress(data[off:], MAX_FILE)
                if not d.eof:
                    continue
                kind = "zlib"
        except (zlib.error, OSError, EOFError):
            continue
        if body:
            found += 1
            yield off, kind, body


def blobs(path):
    with open(path, "rb") as f:
        data = f.read(MAX_FILE)
    out = [(path, data)]
    out += [("%s [%s stream at %d]" % (path, kind, off), body) for off, kind, body in streams(data)]
    for where, b in list(out):
        if b"%" in b:
            dec = urllib.parse.unquote_to_bytes(b)
            if dec != b:
                out.append((where + " [percent-decoded]", dec))
    return out


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                for n in sorted(names):
                    yield os.path.join(root, n)
        else:
            yield p


def scan(paths, addrs, expect):
    pats = [(a, patterns(a)) for a in addrs]
    findings, seen, nfiles, nblobs = [], {e: False for e in expect}, 0, 0
    for path in files(paths):
        if not os.path.isfile(path):
            continue
        nfiles += 1
        for where, b in blobs(path):
            nblobs += 1
            for e in expect:
                seen[e] = seen[e] or e.encode() in b
            for a, ps in pats:
                for name, rx in ps:
                    m = rx.search(b)
                    if m:
                        ctx = b[max(0, m.start() - 40):m.end() + 40]
                        findings.append("%s: client %s as %s at offset %d: %r" % (where, a, name, m.start(), ctx))
    return findings, [e for e, s in seen.items() if not s], nfiles, nblobs


def selftest():
    """Every form is found; prefixes and neighbours are not."""
    v4, v6 = "198.51.100.2", "2001:db8:1:0:abcd::7"
    raw4, raw6 = ipaddress.ip_address(v4).packed, ipaddress.ip_address(v6).packed
    leaks = {   # name: (file content, what the finding must say)
        "dotted": (b'{"src_ip":"198.51.100.2"}', "as dotted"),
        "v6 compressed": (b"client=2001:db8:1:0:abcd::7 port=5", "as text 2001:db8:1:0:abcd::7"),
        "v6 upper exploded": (b"2001:0DB8:0001:0000:ABCD:0000:0000:0007", "as text 2001:0db8:0001:0000:abcd"),
        "v6 other zero run": (b"x 2001:db8:1::abcd:0:0:7 y", "as text 2001:db8:1::abcd:0:0:7"),
        "v6 uncompressed": (b"2001:db8:1:0:abcd:0:0:7", "as text 2001:db8:1:0:abcd:0:0:7"),
        "hex": (b"key=C6336402;", "as hex"),
        "decimal": (b"addr 3325256706\n", "as decimal big-endian"),
        "raw in zlib": (b"TWSTATE\0" + zlib.compress(b"R 1 2 " + raw4 + b" tail"), "[zlib stream at 8]: client 198.51.100.2 as raw 4"),
        "raw6 in gzip": (b"hdr" + gzip.compress(b"\0\0" + raw6), "[gzip stream at 3]: client 2001:db8:1:0:abcd::7 as raw 16"),
        "percent": (b"GET /?client=2001%3Adb8%3A1%3A0%3Aabcd%3A%3A7 HTTP/1.1", "[percent-decoded]"),
        "raw4": (b"\x00" + raw4 + b"\x00", "as raw 4 bytes"),
    }
    clean = (b'{"src_prefix":"198.51.100.0/24","other":"198.51.100.20","p6":"2001:db8:1::/48",'
             b'"n":"198.51.100.25","v6":"2001:db8:1:0:abcd::77"}' + zlib.compress(b"198.51.100.0/24"))
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        for name, (data, want) in leaks.items():
            p = os.path.join(d, "leak")
            with open(p, "wb") as f:
                f.write(data)
            found, _, _, _ = scan([p], [v4, v6], [])
            hit = any(want in f for f in found)
            print("selftest %-20s %s" % (name, "found" if hit else "MISSED (%s)" % found))
            bad |= not hit
        p = os.path.join(d, "clean")
        with open(p, "wb") as f:
            f.write(clean)
        found, missing, _, _ = scan([p], [v4, v6], ["198.51.100.0/24"])
        print("selftest %-20s %s" % ("clean control", "false positive: %s" % found if found or missing else "clean"))
        bad |= bool(found or missing)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", action="append", default=[])
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("paths", nargs="*")
    a = ap.parse_args()
    if a.selftest:
        return selftest()
    if not a.addr or not a.paths:
        ap.print_usage(sys.stderr)
        return 2
    findings, missing, nfiles, nblobs = scan(a.paths, a.addr, a.expect)
    for f in findings:
        print("LEAK " + f)
    for e in missing:
        print("MISSING expected text %r: the outputs never saw the clients?" % e)
    print("leakscan: %d files, %d blobs searched for %d addresses: %d findings" %
          (nfiles, nblobs, len(a.addr), len(findings)))
    return 1 if findings or missing else 0


if __name__ == "__main__":
    sys.exit(main())
