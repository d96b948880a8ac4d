#!/usr/bin/env bash
# QUIC client Initials in the event log (README "Events", payload): the GFW
# availability-attack server capture (corpus, gfw-report__usenixsecurity25-
# quic-sni) holds 1252-byte Initials of the victim (SNI http3check.net) and
# of the attacker's spoofed trigger (google.com).  Replayed whole, each
# flow's first client datagram is kept whole (snippet_len 1252) and its
# payload event carries quic {version 1, sni, alpn [h3], authenticated
# true}.  The same capture cut to a 1142-byte snaplen (1100 bytes of UDP
# payload) leaves the Initial unauthenticated: read with AES-CTR, the SNI
# (which starts past byte 1040) is still there, the ALPN not, parse
# "truncated".
cd "$(dirname "$0")/../.." || exit 1
TW=${TW:-build/tamperwatchd}
CORPUS=${TW_CORPUS:-../shared/corpus}
PCAP=$CORPUS/gfw-report__usenixsecurity25-quic-sni/experiments/availability-attack/pcap/quic_server_anon.pcap
[ -r "$PCAP" ] || { echo "corpus capture $PCAP is missing (set TW_CORPUS)"; exit 77; }
W=$(mktemp -d /tmp/tw-quic.XXXXXX); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

python3 - "$PCAP" "$W/cut.pcap" <<'PY' || fail "cut capture"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:4] == b"\xd4\xc3\xb2\xa1", "little-endian pcap expected"
snap = 14 + 20 + 8 + 1100
out, o = bytearray(b[:24]), 24
out[16:20] = struct.pack("<I", snap)
while o < len(b):
    ts, us, incl, orig = struct.unpack_from("<IIII", b, o)
    data = b[o + 16:o + 16 + incl]
    out += struct.pack("<IIII", ts, us, min(incl, snap), orig) + data[:snap]
    o += 16 + incl
open(sys.argv[2], "wb").write(out)
PY

for c in whole:1252:true: cut:1100:false:truncated; do
  IFS=: read -r name snip auth parse <<<"$c"
  [ "$name" = whole ] && in=$PCAP || in=$W/cut.pcap
  "$TW" --events --replay "$in" --alerts "$W/$name.json" 2>"$W/err" || fail "$name: exit $?: $(cat "$W/err")"
  python3 - "$W/$name.json" "$snip" "$auth" "$parse" "$name" <<'PY' || fail "$name: quic objects"
import collections, json, sys
path, snip, auth, parse, name = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "true", sys.argv[4], sys.argv[5]
ev = [json.loads(l) for l in open(path)]
pl = [r for r in ev if r["event_type"] == "payload" and r["dest_port"] == 443 and r["direction"] == "to_server"]
sni = collections.Counter()
for r in pl:
    q = r.get("quic")
    assert q, r
    assert r["snippet_len"] == snip and r["packet"]["payload_len"] == 1252, r
    # the ALPN extension comes after the SNI, past the 1100 bytes of the cut
    assert q["version"] == "1" and q["alpn"] == (["h3"] if auth else []) and q["authenticated"] is auth, q
    assert q.get("parse", "") == parse, q
    sni[q["sni"]] += 1
print(name, "payload events:", len(pl), dict(sni))
assert sni == {"http3check.net": 10, "google.com": 2}, sni
PY
done
echo "ok: 12 QUIC first datagrams: whole -> authenticated with SNI; cut to 1100 bytes -> SNI unauthenticated, truncated"

# quic_interference verdicts (README "Verdicts", verdicts/quic.c) on the
# victim's own capture of the availability attack: 42 Initials (SNI
# http3check.net) to one server, one every 11 s from a new source port, a
# single datagram each (no retransmission), none answered.  The server's
# capture of the same run is the ground truth: it holds 10 of them (the
# source ports survive the NAT), the 32 others were dropped by the GFW's
# residual blocking (set off twice by the attacker's spoofed google.com
# Initial: 3-tuple blocked ~180 s, fresh ports too), and the server
# answered none of the 10 that reached it: it only captured.  From the
# victim's side a dropped flow and a delivered one are the same silent
# Initial, as a server without QUIC gives: nothing in this capture can lift
# the 32 over 0.5 without lifting the 10 with them.  So each is a weak
# INITIAL->timeout (0.30; 0.32 with quic_residual_block, every one after
# the first follows a silent Initial to the same server:port within 180 s),
# the delivered ones carry exactly what the dropped ones carry, and there is
# no alert (tests/eval/corpus-labels.csv: visible "no", with why).
VICTIM=$CORPUS/gfw-report__usenixsecurity25-quic-sni/experiments/availability-attack/pcap/quic_victim_client_anon.pcap
"$TW" --events --replay "$VICTIM" --alerts "$W/victim.json" 2>"$W/err" || fail "victim: exit $?: $(cat "$W/err")"
python3 - "$W/victim.json" "$PCAP" <<'PY' || fail "victim: quic_interference verdicts"
import json, struct, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t = [r for r in ev if r["event_type"] == "tamper"]
assert len(t) == 42, len(t)
for i, r in enumerate(t):
    x = r["tamper"]
    assert x["method"] == "quic_interference" and x["signature"] == "INITIAL->timeout", x
    assert x["sni"] == "http3check.net" and x["stage"] == "after_request", x
    assert 0.29 <= x["confidence"] < 0.4, x
    assert ("quic_residual_block" in x["anomalies"]) == (i > 0), (i, x)
    assert "quic_server_answers_others" not in x["anomalies"], x
al = [r for r in ev if r["event_type"] == "alert"]
assert not al, al
# ground truth: what reached the server (Ethernet, IPv4, UDP)
b = open(sys.argv[2], "rb").read()
assert b[:4] == b"\xd4\xc3\xb2\xa1", "little-endian pcap expected"
arrived, answers, o = set(), 0, 24
while o < len(b):
    incl = struct.unpack_from("<I", b, o + 8)[0]
    p = b[o + 16:o + 16 + incl]
    o += 16 + incl
    if p[12:14] != b"\x08\x00" or p[23] != 17:
        continue
    u = 14 + (p[14] & 15) * 4
    sport, dport = struct.unpack_from(">HH", p, u)
    if dport == 443:
        arrived.add(sport)
    answers += sport == 443
assert answers == 0, "the server answered %d datagrams" % answers
dropped = [r for r in t if r["src_port"] not in arrived]
passed = [r for r in t if r["src_port"] in arrived]
assert len(dropped) == 32 and len(passed) == 10, (len(dropped), len(passed))
# the first flow (delivered, no earlier silence) aside, the victim's view
# gives the dropped flows nothing the delivered ones lack
shape = lambda rs: {(r["tamper"]["confidence"], tuple(r["tamper"]["anomalies"])) for r in rs}
assert shape(dropped) == shape(passed[1:]), (shape(dropped), shape(passed[1:]))
print("victim: 42 weak INITIAL->timeout verdicts for http3check.net (32 dropped by the GFW, 10 delivered to a "
      "server that answered none: the same verdicts), 41 residual, no alert")
PY
echo "ok: GFW victim capture -> 42 weak quic_interference verdicts (SNI http3check.net); the server's capture shows the victim's view cannot tell the 32 dropped from the 10 delivered"
