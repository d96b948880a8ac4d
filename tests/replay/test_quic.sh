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

# quic_interference verdicts (README "Verdicts", verdicts/quic.c).  The
# victim's own capture of the availability attack: 42 Initials (SNI
# http3check.net) to one server, one every 11 s from a new port, none
# answered (the server only captured; the GFW's residual blocking, set off
# by the attacker's spoofed google.com Initial, dropped 32 of them on the
# way: the server capture holds 10).  From the victim's side alone each is a
# silent Initial with no control, so each is a weak INITIAL->timeout (0.30,
# below alerts.min_confidence_timeout: a server without QUIC looks the
# same); every one after the first
# follows a silent Initial on the same server:port within 180 s and says
# quic_residual_block.  No QUIC flow of that client is answered anywhere, so
# no alert: a local UDP/443 firewall would look the same.
VICTIM=$CORPUS/gfw-report__usenixsecurity25-quic-sni/experiments/availability-attack/pcap/quic_victim_client_anon.pcap
"$TW" --events --replay "$VICTIM" --alerts "$W/victim.json" 2>"$W/err" || fail "victim: exit $?: $(cat "$W/err")"
python3 - "$W/victim.json" <<'PY' || fail "victim: quic_interference verdicts"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t = [r["tamper"] for r in ev if r["event_type"] == "tamper"]
assert len(t) == 42, len(t)
for i, x in enumerate(t):
    assert x["method"] == "quic_interference" and x["signature"] == "INITIAL->timeout", x
    assert x["sni"] == "http3check.net" and x["stage"] == "after_request", x
    assert 0.29 <= x["confidence"] < 0.4, x
    assert ("quic_residual_block" in x["anomalies"]) == (i > 0), (i, x)
    assert "quic_server_answers_others" not in x["anomalies"], x
al = [r for r in ev if r["event_type"] == "alert"]
assert not al, al
print("victim: 42 weak INITIAL->timeout verdicts for http3check.net, 41 residual, no alert")
PY
echo "ok: GFW victim capture -> 42 weak quic_interference verdicts (SNI http3check.net), residual blocking named, no alert without a control"
