#!/usr/bin/env python3
"""Damaged copies of real corpus captures for test_mutated_captures.sh,
made the same way on every run (seeded).  usage: mutate.py OUTDIR SRC...
Per source: two with random bit flips past the file header, one cut at a
random byte, for classic pcap one with a record length made absurd and
one with a zero-length run, and gzip copies damaged (a byte changed in
the middle) and cut short.  Prints one line per file: NAME KIND SOURCE."""
import gzip, os, random, struct, sys

out, srcs = sys.argv[1], sys.argv[2:]
rng = random.Random(20)
os.makedirs(out, exist_ok=True)

def put(name, kind, src, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    print(name, kind, src)

for i, src in enumerate(srcs):
    d = open(src, "rb").read()
    if src.endswith(".gz"):
        d = gzip.decompress(d)
    base = f"m{i:02d}"
    hdr = 24 if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 0
    for k in range(2):
        b = bytearray(d)
        for _ in range(16):
            pos = rng.randrange(max(hdr, 28), len(b))
            b[pos] ^= 1 << rng.randrange(8)
        put(f"{base}-flip{k}.pcap", "bitflip", src, bytes(b))
    put(f"{base}-cut.pcap", "cut", src, d[:rng.randrange(hdr + 1, len(d))])
    if hdr:
        le = d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
        fmt = "<I" if le else ">I"
        # walk to a record in the middle and give it an absurd captured length
        off, recs = 24, []
        while off + 16 <= len(d):
            recs.append(off)
            off += 16 + struct.unpack(fmt, d[off + 8:off + 12])[0]
        r = recs[len(recs) // 2]
        b = bytearray(d)
        b[r + 8:r + 12] = struct.pack(fmt, 0xFFFFFFF0)
        put(f"{base}-badlen.pcap", "badlen", src, bytes(b))
        # a run of zero-length records spliced in: skipped and counted
        zero = struct.pack(fmt, 0) * 4
        put(f"{base}-zeros.pcap", "zeros", src, d[:r] + (d[r:r + 4] + zero[:12]) * 5000 + d[r:])
    g = bytearray(gzip.compress(d, mtime=0))
    g[len(g) // 2] ^= 0x5A
    put(f"{base}-gzbad.pcap.gz", "gzip-damaged", src, bytes(g))
    put(f"{base}-gzcut.pcap.gz", "gzip-cut", src, bytes(g[:rng.randrange(20, len(g) - 10)]))
