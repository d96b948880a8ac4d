#!/usr/bin/env python3
"""Checks of what sites published (tests/outputs/test_nats*.sh), on a dump
of the stream made by nats_dump.py.
usage: nats_check.py same DUMP SITE LOG...
         the site's records in the stream are exactly the tamper, alert, link
         and gap records of its logs, in the logs' order, each once, with
         the site's identity, without the client's port; message IDs unique
       nats_check.py heartbeats DUMP SITE MIN
         the site's heartbeats of each daemon run are numbered 0, 1, 2...
         without a gap (none lost), at least MIN in all"""
import json, sys

PUBLISHED = ("tamper", "alert", "link", "gap")

def load(dump, site):
    out = []
    for line in open(dump):
        seq, subj, msgid, data = line.rstrip("\n").split("\t", 3)
        r = json.loads(data)
        if r["site"]["name"] == site:
            assert subj == "tamperwatch.%s.%s" % (site, r["event_type"]), (subj, r["event_type"])
            out.append((int(seq), msgid, r))
    return out

def same(dump, site, logs):
    got = load(dump, site)
    ids = [m for _, m, _ in got]
    assert len(ids) == len(set(ids)), "duplicate message IDs in the stream"
    recs = [r for _, _, r in got if r["event_type"] != "site"]
    want = []
    for log in logs:
        for l in open(log):
            r = json.loads(l)
            if r["event_type"] in PUBLISHED:
                r.pop("src_port", None)
                r.pop("in_iface", None)
                want.append(r)
    for r in recs:
        assert "src_port" not in r and "in_iface" not in r, r
        assert r.pop("site")["name"] == site
    if recs != want:
        for i, (a, b) in enumerate(zip(recs, want)):
            if a != b:
                sys.exit("record %d differs:\n stream %s\n log    %s" % (i, a, b))
        sys.exit("stream has %d records of %s, its logs %d" % (len(recs), site, len(want)))
    print("%s: %d records, as in its logs, each once" % (site, len(recs)))

def heartbeats(dump, site, least):
    runs = {}
    for _, msgid, r in load(dump, site):
        if r["event_type"] == "site":
            run = msgid.rsplit("-", 1)[0]
            runs.setdefault(run, []).append(r["site_status"]["seq"])
    n = 0
    for run, seqs in runs.items():
        assert seqs == list(range(len(seqs))), "heartbeats of %s: %s" % (run, seqs)
        n += len(seqs)
    assert n >= least, "only %d heartbeats" % n
    print("%s: %d heartbeats in %d runs, none missing" % (site, n, len(runs)))

cmd = sys.argv[1]
if cmd == "same":
    same(sys.argv[2], sys.argv[3], sys.argv[4:])
elif cmd == "heartbeats":
    heartbeats(sys.argv[2], sys.argv[3], int(sys.argv[4]))
else:
    sys.exit(2)
