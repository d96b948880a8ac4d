#!/usr/bin/env bash
# tamperwatchd attached to a gateway (XDP, then TC) sees a real QUIC client
# (ngtcp2's gtlsclient) fetch a file from a real QUIC server (gtlsserver),
# in QUIC v1 and draft-29: the client's first datagram of each connection is
# kept whole and its payload event says the version and, from the decrypted
# Initial, the SNI and ALPN, authenticated by the AES-GCM tag; the server's
# first datagram keeps the ordinary 1024-byte bound.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
need_root
need_quic
topo_up
quic_server_start
for mode in xdp tc; do
out=$WORK/quic-$mode.json
tw_start "$out" -i gw-cli -i gw-srv --mode $mode
mkdir -p "$WORK/dl"
for v in v1 0xff00001d; do
  for i in $(seq 20); do  # the server may still be starting
    client timeout 5 gtlsclient --quiet --exit-on-all-streams-close -v $v --download="$WORK/dl" \
      203.0.113.10 443 https://www.lab/index.html >"$WORK/quic-client-$v.log" 2>&1 && break
    sleep 0.3
  done
  cmp -s "$WORK/dl/index.html" "$WORK/www/index.html" || fail "$mode: QUIC $v download: $(tail -3 "$WORK/quic-client-$v.log")"
  rm -f "$WORK/dl/index.html"
done
ok "$mode: QUIC v1 and draft-29 downloads"
sleep 0.5
tw_stop "$out"
assert_detached
python3 - "$out" <<'PY' || fail "$mode: QUIC payload events"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
pl = [r for r in ev if r["event_type"] == "payload" and r["proto"] == "UDP" and r["dest_port"] == 443]
cli = [r for r in pl if r["direction"] == "to_server"]
srv = [r for r in pl if r["direction"] == "to_client"]
for r in cli:
    print("client:", r["snippet_len"], r["packet"]["payload_len"], json.dumps(r.get("quic")))
ok = {}
for r in cli:
    q = r.get("quic") or {}
    # gtlsclient names a numeric host "localhost" in its SNI
    if (r["snippet_len"] == r["packet"]["payload_len"] >= 1200 and q.get("sni") == "localhost" and "h3" in q.get("alpn", [])
            and q.get("authenticated") is True and "parse" not in q):
        ok[q["version"]] = ok.get(q["version"], 0) + 1
print("authenticated Initials by version:", ok)
assert ok.get("1", 0) >= 1 and ok.get("draft-29", 0) >= 1, ok
assert srv and all(r["snippet_len"] <= 1024 and "quic" not in r for r in srv), srv
PY
ok "$mode: QUIC Initials decrypted from the live traffic: version, SNI, ALPN h3, authenticated"
done
