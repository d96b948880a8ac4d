#!/usr/bin/env python3
"""Check the status page's DOM as a real browser built it (chromium
--dump-dom): the sections, the alert rows and the plots expected, and no
client address anywhere (the lab's clients are hosts of 198.51.100.0/24,
192.0.2.0/24, 2001:db8:a::/64 and 2001:db8:b::/64; the page may name those
networks as prefixes, never a host in them).

usage: page_check.py DOM.html [RAW.html] [--alert CATEGORY[=TEXT]]... [--plot ID[=band|points|line]]...
Prints what it found; exit 1 on a fault.
"""
import re, sys
from html.parser import HTMLParser

SECTIONS = ("alerts-open", "alerts-recent", "shutdown", "targets", "throttling", "health", "records", "links")
CLIENT = re.compile(r"(?<![\d.])(?:198\.51\.100|192\.0\.2)\.(?!0/)\d{1,3}(?![\d/])|2001:db8:[ab]:(?!:/)[0-9a-f:]*[0-9a-f]",
                    re.I)


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.rows, self.plots = set(), [], {}
        self.row = self.plot = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "tr" and a.get("class") == "alert":
            self.row = {"category": a.get("data-category"), "state": a.get("data-state"),
                        "id": a.get("data-alert-id"), "text": ""}
            self.rows.append(self.row)
        if tag == "svg" and a.get("data-plot"):
            self.plot = self.plots.setdefault(a["data-plot"], {"band": 0, "points": 0, "line": 0})
        if self.plot is not None:
            if tag == "rect" and a.get("class") == "band":
                self.plot["band"] += 1
            if tag == "circle" and a.get("data-v"):
                self.plot["points"] += 1
            if tag == "polyline" and len(a.get("points", "").split()) >= 1:
                self.plot["line"] += 1

    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None
        if tag == "svg":
            self.plot = None

    def handle_data(self, data):
        if self.row is not None:
            self.row["text"] += data


def main(argv):
    files, want_alerts, want_plots = [], [], []
    i = 0
    while i < len(argv):
        if argv[i] in ("--alert", "--plot"):
            (want_alerts if argv[i] == "--alert" else want_plots).append(argv[i + 1])
            i += 2
        else:
            files.append(argv[i])
            i += 1
    texts = [open(f, encoding="utf-8", errors="replace").read() for f in files]
    d = Dom()
    d.feed(texts[0])
    missing = [s for s in SECTIONS if s not in d.ids]
    assert not missing, "sections missing: %s" % missing
    for w in want_alerts:
        cat, _, text = w.partition("=")
        rows = [r for r in d.rows if r["category"] == cat and text in r["text"]]
        assert rows, "no %s alert row with %r (rows: %s)" % (cat, text, [(r["category"], r["text"][:80]) for r in d.rows])
    for w in want_plots:
        pid, _, what = w.partition("=")
        assert pid in d.plots, "no plot %s (plots: %s)" % (pid, sorted(d.plots))
        assert d.plots[pid]["line"] > 0, "plot %s draws no series" % pid
        if what:
            assert d.plots[pid][what] > 0, "plot %s has no %s: %s" % (pid, what, d.plots[pid])
    for f, t in zip(files, texts):
        m = CLIENT.search(t)
        assert not m, "%s: a client address: %r" % (f, t[max(0, m.start() - 60):m.end() + 20])
    print("page: %d alert rows (%s), plots %s, no client address" % (
        len(d.rows), sorted({(r["category"], r["state"]) for r in d.rows}),
        {k: v for k, v in sorted(d.plots.items())}))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except AssertionError as e:
        print("page_check: %s" % e)
        sys.exit(1)
