#!/usr/bin/env python3
"""Check the picture of a report bundle (tamperwatch report): plot.svg is
well-formed XML (xmllint, libxml2-utils), plot.png decodes (every chunk's
CRC, the zlib stream, the scanlines' size and filter bytes), and the values
plotted (the SVG's data-t/data-v of each point) are the alert's own figures
(alert.json): stats.ratio for blocking, stats.rate_bps for throttling,
stats.current and stats.baseline for a shutdown.  The raise is marked at
the raised line's time.

usage: plotcheck.py BUNDLE.tar.gz   (prints one summary line, exit 1 on a fault)
"""
import json, struct, subprocess, sys, tarfile, tempfile, zlib, os
import xml.etree.ElementTree as ET
from datetime import datetime

SVG = "{http://www.w3.org/2000/svg}"


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def png_decode(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, ihdr, seen_end = 8, b"", None, False
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        typ, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(typ + body) & 0xffffffff == crc, "bad CRC in %s" % typ
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        elif typ == b"IEND":
            seen_end = True
        pos += 12 + n
    assert ihdr and seen_end, "no IHDR or IEND"
    w, h, depth, color = ihdr[:4]
    assert depth == 8 and color == 2, ihdr
    raw = zlib.decompress(idat)
    assert len(raw) == h * (1 + 3 * w), "scanlines: %d bytes for %dx%d" % (len(raw), w, h)
    assert all(raw[y * (1 + 3 * w)] <= 4 for y in range(h)), "bad filter byte"
    # not blank: the series' red is there
    assert b"\xd6\x27\x28" in raw, "no series drawn in the PNG"
    return w, h


def main(bundle):
    tf = tarfile.open(bundle, "r:gz")
    m = {x.name: tf.extractfile(x).read() for x in tf.getmembers()}
    assert "plot.svg" in m and "plot.png" in m, sorted(m)
    with tempfile.NamedTemporaryFile(suffix=".svg", delete=False) as f:
        f.write(m["plot.svg"])
    try:
        r = subprocess.run(["xmllint", "--noout", f.name], capture_output=True, text=True)
        assert r.returncode == 0, "xmllint: " + r.stderr
    finally:
        os.unlink(f.name)
    w, h = png_decode(m["plot.png"])
    root = ET.fromstring(m["plot.svg"])
    lines = [json.loads(l) for l in m["alert.json"].decode().splitlines()]
    cat = lines[0]["alert"]["category"]
    pts = {}
    for c in root.iter(SVG + "circle"):
        pts.setdefault(c.get("data-series"), []).append((float(c.get("data-t")), float(c.get("data-v"))))
    want = {}
    for l in lines:
        t, s = ts(l["timestamp"]), l["stats"]
        if cat == "blocking":
            want.setdefault("tampered share (stats.ratio)", []).append((t, s["ratio"]))
        elif cat == "throttling":
            want.setdefault("measured rate (stats.rate_bps)", []).append((t, s["rate_bps"]))
        elif "current" in s:
            want.setdefault("traffic (stats.current)", []).append((t, s["current"]))
            want.setdefault("baseline (stats.baseline)", []).append((t, s["baseline"]))
        else:
            want.setdefault("prefixes down", []).append((t, s["prefixes_down"]))
    assert set(pts) == set(want), (sorted(pts), sorted(want))
    for k in want:
        got = pts[k]
        assert len(got) == len(want[k]), (k, got, want[k])
        for (gt, gv), (wt, wv) in zip(got, want[k]):
            assert abs(gt - wt) < 0.001 and gv == wv, (k, (gt, gv), (wt, wv))
    raised = [ts(l["timestamp"]) for l in lines if l["alert"]["state"] == "raised"]
    marks = [float(x.get("data-t")) for x in root.iter(SVG + "line") if x.get("class") == "mark"]
    assert raised and len(marks) == 1 and abs(marks[0] - raised[0]) < 0.001, (marks, raised)
    assert root.get("data-plot") == lines[0]["alert"]["id"], root.get("data-plot")
    print("plot: %s, %s points match the alert's figures, raise marked, svg valid, png %dx%d decodes"
          % (cat, sum(len(v) for v in want.values()), w, h))


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except AssertionError as e:
        print("plotcheck: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        sys.exit(1)
