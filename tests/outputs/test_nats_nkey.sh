#!/usr/bin/env bash
# NKey authentication of the NATS publisher (docs/hub.md "Credentials and
# TLS"), against a real nats-server started here that knows one user by
# its public NKey.  The key pairs are made here by tests/outputs/nkey.py
# (Ed25519 from python3-cryptography, NATS' base32 and CRC-16 encoding):
#  0. the encoder's CRC and round trip; a seed given as nats.nkey refused
#     at configuration, without echoing it;
#  1. the right seed: every record published and acknowledged;
#  2. another pair's seed for the same public key: nothing published, the
#     reason said clearly (the server refused our credentials), every record
#     counted (spooled, then dropped at exit), no seed in any output;
#  3. that spool published by the next run (nothing of its own), none
#     lost, once the right seed is given.
# Runs in its own network namespace (unshare -n): loopback ports are ours.
cd "$(dirname "$0")/../.." || exit 1
. tests/outputs/nats_lib.sh
nats_own_netns "$0" "$@"
python3 -c 'import cryptography' 2>/dev/null || { echo "python3-cryptography not installed (scripts/install-deps.sh)"; exit 77; }
W=$(mktemp -d /tmp/tw-nkey.XXXXXX) || { echo "FAIL: mktemp" >&2; exit 1; }
trap 'ns_cleanup; rm -rf "$W"' EXIT
python3 tests/replay/craft_alerts.py "$W/c" >/dev/null || fail craft
python3 -c "import struct,sys; open(sys.argv[1],'wb').write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))" "$W/empty.pcap"
PORT=14522
URL=nats://127.0.0.1:$PORT

# ---- 0. the key pairs; a seed is not a public key ---------------------------
python3 tests/outputs/nkey.py --check || fail "nkey encoder"
PUB=$(python3 tests/outputs/nkey.py "$W/user.seed") || fail "nkey pair"
OTHER=$(python3 tests/outputs/nkey.py "$W/other.seed") || fail "second nkey pair"
SEED=$(cat "$W/user.seed") OSEED=$(cat "$W/other.seed")
[ "$PUB" != "$OTHER" ] && [ "${PUB:0:1}" = U ] && [ "${SEED:0:2}" = SU ] || fail "key pairs: $PUB $OTHER"
"$TW" --check-config --set nats.nkey="$SEED" 2>"$W/bad.err"; rc=$?
[ $rc = 2 ] && grep -q "nats.nkey" "$W/bad.err" && ! grep -q "$SEED" "$W/bad.err" || fail "seed as nats.nkey: rc $rc: $(cat "$W/bad.err")"
ok "two NKey pairs made; a seed given as the public key refused, not echoed"

printf 'authorization {\n  users = [ { nkey: "%s" } ]\n}\n' "$PUB" >"$W/server.conf"
ns_start n1 $PORT -c "$W/server.conf"
export NATS_DUMP_SEED=$W/user.seed   # the stream is read back as that user (nats_dump.py signs)
gw() {  # NAME SITE SEEDFILE tamperwatchd-arguments...
  local name=$1 site=$2 seed=$3; shift 3
  "$TW" --events --replay "$W/c/incident.pcap" --set nats.url=$URL --set nats.site="$site" --set nats.nkey="$PUB" \
    --set nats.nkey_seed="$seed" --alerts "$W/$name.json" "$@" 2>"$W/$name.err" || fail "$name: exit $?"
}

# ---- 1. the right seed ------------------------------------------------------
gw k1 isp-k "$W/user.seed"
nats_stats "$W/k1.json" 's["published"] == s["records"] and s["records"] >= 15 and s["dropped"] == 0 and s["publish_errors"] == 0'
dump $PORT >"$W/d1" || fail dump
python3 tests/outputs/nats_check.py same "$W/d1" isp-k "$W/k1.json" || fail "k1 records"
ok "the right seed: every record published, once, in order"

# ---- 2. a wrong seed ---------------------------------------------------------
gw k2 isp-j "$W/other.seed" --state "$W/sk" --set nats.drain_timeout=2
nats_stats "$W/k2.json" 's["published"] == 0 and s["connected"] == 0 and s["spooled"] == s["records"] and s["queue"] == s["records"] and s["records"] >= 15'
grep -q "nats: not connected: .*the server refused our credentials" "$W/k2.err" || fail "no clear reason: $(cat "$W/k2.err")"
grep -q "authentication error" "$W/ns-n1.log" || fail "the server saw no authentication error"
! grep -rqF -e "$OSEED" -e "$SEED" "$W/k2.err" "$W/k2.json" "$W/k1.err" "$W/k1.json" "$W/sk" || fail "a seed was echoed"
dump $PORT >"$W/d2" || fail dump
[ "$(wc -l <"$W/d2")" = "$(wc -l <"$W/d1")" ] || fail "a record reached the stream with the wrong seed"
ok "a wrong seed: nothing published, the refusal said, every record kept in the spool, no seed echoed"

# ---- 3. the spool, with the right seed ---------------------------------------
"$TW" --events --replay "$W/empty.pcap" --set nats.url=$URL --set nats.site=isp-j --set nats.nkey="$PUB" \
  --set nats.nkey_seed="$W/user.seed" --state "$W/sk" --alerts "$W/k3.json" 2>"$W/k3.err" || fail "k3: exit $?"
grep -q "records from the spool go first" "$W/k3.err" || fail "spool not replayed: $(cat "$W/k3.err")"
nats_stats "$W/k3.json" 's["queue"] == 0 and s["dropped"] == 0 and s["spool_loaded"] >= 15'
dump $PORT >"$W/d3" || fail dump
python3 tests/outputs/nats_check.py same "$W/d3" isp-j "$W/k2.json" "$W/k3.json" || fail "k3 records"
ok "the spool of the refused run published with the right seed: none lost, none twice"
