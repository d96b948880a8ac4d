#!/usr/bin/env bash
# The NATS JetStream publisher (docs/hub.md), against a real nats-server
# started here (JetStream, file store):
#  0. bad settings refused; a password never echoed in an error;
#  1. a replay publishes exactly its tamper and alert records, in order,
#     each once, with the site's identity and without client ports; the
#     same run again is deduplicated by message ID (JetStream says so);
#  2. the server down for a whole run: the records are spooled (counted),
#     kept on disk, and published first, in order, by the next run once the
#     server is back: none lost, none twice;
#  3. the server stopped in the middle of a run and restarted: what the
#     run published meanwhile (heartbeats) waits and follows, none lost;
#  4. user/password authentication; a spool beyond nats.spool_max drops
#     what does not fit, counted.
# Runs in its own network namespace (unshare -n): loopback ports are ours.
cd "$(dirname "$0")/../.." || exit 1
. tests/outputs/nats_lib.sh
nats_own_netns "$0" "$@"
W=$(mktemp -d /tmp/tw-nats.XXXXXX)
trap 'ns_cleanup; rm -rf "$W"' EXIT
python3 tests/replay/craft_alerts.py "$W/c" >/dev/null || fail craft
python3 -c "import struct,sys; open(sys.argv[1],'wb').write(struct.pack('<IHHiIII',0xa1b2c3d4,2,4,0,0,65535,1))" "$W/empty.pcap"
PORT=14322
URL=nats://127.0.0.1:$PORT
gw() {  # NAME SITE tamperwatchd-arguments...: a gateway's run, its log NAME.json
  local name=$1 site=$2; shift 2
  "$TW" --set nats.url=$URL --set nats.site="$site" --set nats.network=AS6450${#site} --set nats.region=north \
    --alerts "$W/$name.json" "$@" 2>"$W/$name.err" || fail "$name: exit $?"
}

# ---- 0. settings ----------------------------------------------------------
"$TW" --check-config --set nats.url=http://u:s3cretpw@127.0.0.1:1 2>"$W/bad1.err"; rc=$?
[ $rc = 2 ] && grep -q "nats.url" "$W/bad1.err" && ! grep -q s3cretpw "$W/bad1.err" || fail "bad url: rc $rc: $(cat "$W/bad1.err")"
"$TW" --check-config --set nats.site=a.b 2>"$W/bad2.err"; rc=$?
[ $rc = 2 ] && grep -q "nats.site" "$W/bad2.err" || fail "bad site: rc $rc"
"$TW" --events --replay "$W/empty.pcap" --set nats.url=$URL --alerts /dev/null 2>"$W/bad3.err"; rc=$?
[ $rc = 3 ] && grep -q "nats.site" "$W/bad3.err" || fail "no site: rc $rc: $(cat "$W/bad3.err")"
ok "bad settings refused, no password echoed"

# ---- 1. published exactly once, in order; the same run again deduplicated -
ns_start n1 $PORT
gw a1 isp-a --events --replay "$W/c/incident.pcap"
nats_stats "$W/a1.json" 's["published"] == s["records"] and s["records"] >= 15 and s["spooled"] == 0 and s["dropped"] == 0 and s["queue"] == 0'
dump $PORT >"$W/d1" || fail dump
python3 tests/outputs/nats_check.py same "$W/d1" isp-a "$W/a1.json" || fail "run 1 not as published"
gw a1b isp-a --events --replay "$W/c/incident.pcap"
nats_stats "$W/a1b.json" 's["published"] == s["records"] and s["duplicates"] >= 15'
dump $PORT >"$W/d1b" || fail dump
python3 tests/outputs/nats_check.py same "$W/d1b" isp-a "$W/a1.json" || fail "the same run again was stored twice"
ok "a replay's records published once, in order; the same records again deduplicated by message ID"

# ---- 2. the server down for a whole run ---------------------------------
gw b1 isp-b --events --replay "$W/c/part1.pcap" --state "$W/sb"
ns_stop n1
gw b2 isp-b --events --replay "$W/c/part2.pcap" --state "$W/sb" --set nats.drain_timeout=1
nats_stats "$W/b2.json" 's["published"] == 0 and s["spooled"] >= 1 and s["queue"] >= 5 and s["dropped"] == 0'
[ -s "$W/sb/nats.spool" ] || fail "no spool file"
ns_start n1 $PORT
gw b3 isp-b --events --replay "$W/empty.pcap" --state "$W/sb"
grep -q "records from the spool go first" "$W/b3.err" || fail "spool not replayed: $(cat "$W/b3.err")"
nats_stats "$W/b3.json" 's["spool_loaded"] >= 5 and s["queue"] == 0 and s["dropped"] == 0'
dump $PORT >"$W/d2" || fail dump
python3 tests/outputs/nats_check.py same "$W/d2" isp-b "$W/b1.json" "$W/b2.json" "$W/b3.json" || fail "spooled records"
ok "server down for a run: records spooled to disk and published by the next run, in order, none lost"

# ---- 3. the server stopped mid-run and restarted --------------------------
# a gateway that lives 12 s (its capture arrives at the end), a heartbeat a second
(sleep 12; cat "$W/c/incident.pcap") | "$TW" --events --replay - --set nats.url=$URL --set nats.site=isp-c \
  --set nats.heartbeat=1 --metrics 127.0.0.1:19465 --alerts "$W/c1.json" 2>"$W/c1.err" &
GW=$!
metric() { curl -sf http://127.0.0.1:19465/metrics | awk -v m="$1" '$1 == m {print $2}'; }
wait_for 30 '[ "$(metric tamperwatch_nats_connected)" = 1 ]' || fail "metrics: not connected"
sleep 1
ns_stop n1 KILL
wait_for 30 '[ "$(metric tamperwatch_nats_connected)" = 0 ] && [ "$(metric tamperwatch_nats_queue_records)" -ge 2 ] && [ "$(metric tamperwatch_nats_spooled_total)" -ge 2 ]' \
  || fail "metrics while the server is down: $(curl -sf http://127.0.0.1:19465/metrics | grep nats_)"
ns_start n1 $PORT
wait $GW || fail "c1: exit $?"
nats_stats "$W/c1.json" 's["spooled"] >= 2 and s["dropped"] == 0 and s["queue"] == 0 and s["published"] == s["records"]'
dump $PORT >"$W/d3" || fail dump
python3 tests/outputs/nats_check.py heartbeats "$W/d3" isp-c 10 || fail "heartbeats lost"
python3 tests/outputs/nats_check.py same "$W/d3" isp-c "$W/c1.json" || fail "c1 records"
ok "server killed mid-run and restarted: what waited was published after, none lost"
ns_stop n1

# ---- 4. authentication; the spool bound ---------------------------------
ns_start n2 $PORT --user tw --pass s3cretpw
gw d1 isp-d --events --replay "$W/c/incident.pcap" --set nats.user=tw --set nats.password=s3cretpw
nats_stats "$W/d1.json" 's["published"] == s["records"] and s["dropped"] == 0'
# 15 records and a heartbeat a second for 4 s: more than the 16 the spool may keep
(sleep 4; cat "$W/c/incident.pcap") | gw d2 isp-d --events --replay - --set nats.user=tw --set nats.password=wrongpw \
  --set nats.drain_timeout=1 --set nats.spool_max=16 --set nats.heartbeat=1 --state "$W/sd"
nats_stats "$W/d2.json" 's["published"] == 0 and s["queue"] == 16 and s["dropped"] == s["records"] - 16 and s["dropped"] >= 1'
! grep -rq wrongpw "$W/d2.err" "$W/d2.json" "$W/sd" || fail "the password was echoed"
ok "user/password; a wrong password publishes nothing and is not echoed; the spool bound drops, counted"
ns_stop n2

# ---- 5. a three-node cluster, one node killed mid-run ---------------------
R="nats-route://127.0.0.1:16501,nats-route://127.0.0.1:16502,nats-route://127.0.0.1:16503"
for i in 1 2 3; do
  "$NATS" -a 127.0.0.1 -p 1450$i -m 1550$i -js -sd "$W/js-c$i" -n c$i --cluster_name tw \
    --cluster nats://127.0.0.1:1650$i --routes "$R" >>"$W/ns-c$i.log" 2>&1 &
  NATS_PID[c$i]=$!
done
for i in 1 2 3; do
  wait_for 30 "curl -sf 'http://127.0.0.1:1550$i/healthz' >/dev/null" || fail "cluster node c$i not ready"
done
CURL=nats://127.0.0.1:14501,nats://127.0.0.1:14502,nats://127.0.0.1:14503
cgw() {  # NAME tamperwatchd-arguments...
  local name=$1; shift
  "$TW" --set nats.url=$CURL --set nats.site=isp-e --set nats.replicas=3 --alerts "$W/$name.json" "$@" \
    2>"$W/$name.err" || fail "$name: exit $?"
}
# the stream is made with three replicas once the cluster has a JetStream leader
wait_for 30 "cgw e0 --events --replay '$W/empty.pcap' --set nats.drain_timeout=2 && nats_stats '$W/e0.json' 's[\"published\"] == s[\"records\"]' >/dev/null" \
  || fail "cluster: first publish: $(cat "$W/e0.err")"
(sleep 3; cat "$W/c/incident.pcap") | cgw e1 --events --replay - --set nats.heartbeat=1 --set nats.drain_timeout=30 &
GW=$!
sleep 1
ns_stop c1 KILL
wait $GW || fail "e1: exit $?"
nats_stats "$W/e1.json" 's["published"] == s["records"] and s["dropped"] == 0 and s["queue"] == 0'
dump 14502 >"$W/d5" || fail "dump from c2"
python3 tests/outputs/nats_check.py same "$W/d5" isp-e "$W/e0.json" "$W/e1.json" || fail "cluster records"
ok "three-node cluster, one node killed mid-run: publishing went on, every record stored once"
for i in 2 3; do ns_stop c$i; done

# ---- 6. TLS with a private CA ----------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=tw-test-ca -keyout "$W/ca.key" -out "$W/ca.pem" \
  >/dev/null 2>&1 || fail "openssl ca"
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$W/srv.key" -out "$W/srv.csr" >/dev/null 2>&1 &&
  openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 1 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$W/srv.pem" >/dev/null 2>&1 || fail "openssl server cert"
ns_start t1 $PORT --tls --tlscert "$W/srv.pem" --tlskey "$W/srv.key"
"$TW" --events --replay "$W/c/incident.pcap" --set nats.url=tls://127.0.0.1:$PORT --set nats.site=isp-f --set nats.ca_file="$W/ca.pem" \
  --alerts "$W/f1.json" 2>"$W/f1.err" || fail "f1: exit $?"
nats_stats "$W/f1.json" 's["published"] == s["records"] and s["records"] >= 15'
# without the CA the server is not trusted: nothing published, counted, no secret in the errors
"$TW" --events --replay "$W/c/incident.pcap" --set nats.url=tls://127.0.0.1:$PORT --set nats.site=isp-g --set nats.drain_timeout=1 \
  --alerts "$W/g1.json" 2>"$W/g1.err" || fail "g1: exit $?"
nats_stats "$W/g1.json" 's["published"] == 0 and s["dropped"] == s["records"] and s["dropped_at_exit"] == s["records"]'
ok "TLS: published with nats.ca_file; without it nothing, every record counted as dropped at exit (no spool)"
