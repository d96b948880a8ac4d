#!/usr/bin/env bash
# Payload parser errors are counted, never silent (README "Metrics":
# tamperwatch_payload_parse_errors_total; the stats record's
# payload_parse_errors): crafted DNS answers, one broken (a compression
# pointer that points at itself) and one cut short (a header announcing a
# question that is not there), and one good answer, give dns malformed 1,
# truncated 1 and nothing else.  The ISP-redirect check reads a DNS-linked
# response only up to an 8 KiB body; a larger one is counted as
# redirect_bodies_skipped: 8192 bytes is read (redirect record, count 0),
# 8193 is counted once, and 8193 without the DNS answer is out of the
# check's scope (count 0).
cd "$(dirname "$0")/../.." || exit 1
TW=${TW:-build/tamperwatchd}
W=$(mktemp -d /tmp/tw-parse.XXXXXX); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 - "$W/dns.pcap" <<'PY' || fail craft
import struct, sys
sys.path.insert(0, "tests/replay")
from craft import eth, ipv4, udp, pcap
C, R = "198.51.100.7", "203.0.113.53"
q = lambda i: struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + b"\x07example\x03com\x00\x00\x01\x00\x01"
good = lambda i: (struct.pack("!HHHHHH", i, 0x8180, 1, 1, 0, 0) + b"\x07example\x03com\x00\x00\x01\x00\x01"
                  + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([93, 184, 216, 34]))
loop = lambda i: struct.pack("!HHHHHH", i, 0x8180, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
short = lambda i: struct.pack("!HHHHHH", i, 0x8180, 1, 0, 0, 0)
recs, t = [], 1700000000.0
for i, ans in ((1, good), (2, loop), (3, short)):
    recs.append((t, eth(ipv4(C, R, 17, udp(40000 + i, 53, q(i))))))
    recs.append((t + 0.01, eth(ipv4(R, C, 17, udp(53, 40000 + i, ans(i)), ttl=60))))
    t += 1
open(sys.argv[1], "wb").write(pcap(1, recs))
PY
"$TW" --events --replay "$W/dns.pcap" --alerts "$W/out.json" 2>"$W/err" || fail "exit $?: $(cat "$W/err")"
python3 - "$W/out.json" <<'PY' || fail "counts"
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1])]
st = [r for r in rec if r["event_type"] == "stats"][-1]
assert st["final"], st
pe = st["stats"]["payload_parse_errors"]
print("payload_parse_errors:", pe)
assert pe["dns"] == {"truncated": 1, "malformed": 1}, pe
assert all(v == {"truncated": 0, "malformed": 0} for k, v in pe.items() if k != "dns"), pe
PY
python3 - "$W" <<'PY' || fail craft-redirect
import os, sys
sys.path.insert(0, "tests/replay")
from craft import pcap
from craft_verdicts import isp_redirect, T0
loc = "http://search.isp.example/results?q=typo-name.example"
for name, n, dns in (("redir_8192", 8192, True), ("redir_8193", 8193, True), ("redir_8193_nodns", 8193, False)):
    recs = isp_redirect(T0, "typo-name.example", "198.18.0.80", loc, body_len=n)
    open(os.path.join(sys.argv[1], name + ".pcap"), "wb").write(pcap(1, recs if dns else recs[2:]))
PY
for c in redir_8192:1:0 redir_8193:0:1 redir_8193_nodns:0:0; do
  IFS=: read -r name want_rec want_skip <<<"$c"
  "$TW" --events --replay "$W/$name.pcap" --alerts "$W/$name.json" 2>"$W/err" || fail "$name exit $?: $(cat "$W/err")"
  python3 - "$W/$name.json" "$want_rec" "$want_skip" "$name" <<'PY' || fail "$name: counts"
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1])]
st = [r for r in rec if r["event_type"] == "stats"][-1]["stats"]
red = [r for r in rec if r["event_type"] == "redirect"]
print(f"{sys.argv[4]}: redirect records {len(red)}, redirect_bodies_skipped {st['redirect_bodies_skipped']}")
assert len(red) == int(sys.argv[2]) and st["redirect_bodies_skipped"] == int(sys.argv[3])
PY
done
echo "ok: payload parser errors counted, oversized redirect bodies counted"
