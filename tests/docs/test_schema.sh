#!/usr/bin/env bash
# Every record tamperwatchd writes, on real inputs, is valid against the
# JSON Schema of docs/schema/tamperwatch.schema.json (docs/schema.md), and
# every record type the schema declares is seen at least once
# (tests/docs/schema_check.py fails otherwise, and on a type it does not
# declare).  Inputs: replays of corpus captures (verdicts, alerts, the ISP
# redirect), of the crafted captures of tests/replay (every verdict method,
# an alert raised, updated and resolved, declared and residual blocking, region-wide throttling, all
# outputs on), of a shutdown story where two prefixes of one region are cut
# together (full, partial and region alerts, a capture gap), and a short
# live run in network namespaces of its own, under the machine-wide lock
# (link records, live stats, events with their interface).
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
CORPUS=../shared/corpus
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (link records come from a live run in network namespaces)"
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
python3 -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema not installed (scripts/install-deps.sh)"
[ -d "$CORPUS" ] || skip "corpus not found at $CORPUS"
[ -x "$TW" ] || fail "$TW not built"

W=$(mktemp -d /tmp/tw-docs-schema.XXXXXX)
NS=twdocs$$
cleanup() {
  [ -n "${TW_PID:-}" ] && kill "$TW_PID" 2>/dev/null
  [ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null
  ip netns del $NS-a 2>/dev/null
  ip netns del $NS-b 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
OUT=$W/out
mkdir -p "$OUT"

# run NAME ARGS...: one daemon run, its records in $OUT/NAME.json
run() {
  local name=$1; shift
  "$TW" "$@" --alerts "$OUT/$name.json" 2>"$W/$name.err" || fail "$name: exit $?: $(tail -3 "$W/$name.err")"
  [ -s "$OUT/$name.json" ] || fail "$name: no records"
}

# ---- real captures of the corpus: verdicts, alerts, the ISP redirect --------
FP=()
for f in "$CORPUS"/ooni__blocking-fingerprints/*.csv; do FP+=(--fingerprints "$f"); done
n=0
for c in censoredplanet__CenTrace/examples/pcaps/195.64.201.42_psiphon.ca_psiphon.ca_0.pcap \
         censoredplanet__CenTrace/examples/pcaps/195.64.201.42_psiphon.ca_example.com_0.pcap \
         censoredplanet__CenTrace/testdata/116.223.148.197_www.ft.com_www.ft.com.pcap \
         censoredplanet__CenTrace/testdata/222.138.4.221_archive.org_archive.org.pcap \
         citizenlab__badtraffic/pcaps/egypt-packetlogic-ttl-localization.pcap \
         citizenlab__badtraffic/pcaps/turkey-malware-injection.pcap \
         chrissanders__packets/dns_isp_hijack.pcapng \
         chrissanders__packets/http_espn_fail.pcapng; do
  [ -r "$CORPUS/$c" ] || fail "corpus capture missing: $c"
  run corpus$((n++)) --events --replay "$CORPUS/$c" "${FP[@]}"
done

# ---- crafted captures (tests/replay): every verdict, alerts with every output on
mkdir -p "$W/v" "$W/a" "$W/ev"
python3 tests/replay/craft_verdicts.py "$W/v" >/dev/null || fail "craft_verdicts"
python3 tests/replay/craft_alerts.py "$W/a" >/dev/null || fail "craft_alerts"
for p in "$W"/v/*.pcap; do run "v-$(basename "$p" .pcap)" --events --replay "$p"; done
printf '198.51.100.0/24 north 64500\n192.0.2.0/23 north AS64500\n100.64.0.0/10 north 64500\n' >"$W/one.regions"
# every output on: evidence files, syslog and Alertmanager (loopback ports nobody
# listens on: their counters in the stats record), payload snippets, regions
run incident --replay "$W/a/incident.pcap" --events-payload --evidence "$W/ev" --set regions.file="$W/one.regions" \
  --set syslog.enabled=yes --set syslog.target=udp://127.0.0.1:9 \
  --alertmanager http://127.0.0.1:9/ --set alertmanager.drain_timeout=1
printf 'blocked.example, dns_injection, Court order 77/2024, 2020-01-01,\n' >"$W/declared.csv"
run declared --events --replay "$W/a/incident.pcap" --declared "$W/declared.csv"
run residual --events --replay "$W/a/residual.pcap"
# region-wide throttling (tests/replay/craft_throttle_region.py): its alert and stats section
mkdir -p "$W/rt"
python3 tests/replay/craft_throttle_region.py "$W/rt" >/dev/null || fail "craft_throttle_region"
run region-throttling --replay "$W/rt/region.pcap" --set regions.file="$W/rt/regions.txt"

# ---- shutdown: the story of tests/replay/craft_shutdown.py, with the partial
# shutdown moved onto the full one's time and both prefixes in one region, so
# that a region alert is raised; cut short the day after
mkdir -p "$W/s"
printf '198.51.100.0/24 north\n203.0.113.0/24 north\n2001:db8:a::/48 east\n' >"$W/s/regions.txt"
python3 - "$W/s" <<'PY' || fail "craft_shutdown"
import sys
sys.path.insert(0, "tests/replay")
import craft_shutdown as c
out = sys.argv[1]
c.PARTIAL = c.CUT
c.DAYS = 10
c.END = c.T0 + c.DAYS * c.DAY + 60
c.main(out)
# the story's week is the detector's period: hourly bins, 10 s polls, a
# week of warm-up, a minute down to raise and up to resolve
conf = {"enabled": "true", "interval": 10, "period": c.WEEK, "bins": 168, "warmup": c.WEEK,
        "min_duration": 60, "recover": 60, "min_clients": 2, "region_min": 2, "summary_interval": 600}
with open(f"{out}/tw.conf", "w") as f:
    f.write(f"[regions]\nfile = {out}/regions.txt\n[shutdown]\n")
    f.writelines(f"{k} = {v}\n" for k, v in conf.items())
PY
run shutdown -c "$W/s/tw.conf" --events --replay "$W/s/diurnal.pcap"

# ---- live, in two namespaces of our own joined by a veth pair ---------------
live() {
  ip netns add $NS-a && ip netns add $NS-b || fail "ip netns add"
  ip link add tw-docs0 netns $NS-a type veth peer name tw-docs1 netns $NS-b || fail "veth"
  ip -n $NS-a addr add 198.51.100.1/24 dev tw-docs0
  ip -n $NS-b addr add 198.51.100.2/24 dev tw-docs1
  for l in "$NS-a tw-docs0" "$NS-b tw-docs1" "$NS-a lo" "$NS-b lo"; do set -- $l; ip -n "$1" link set "$2" up; done
  mkdir -p "$W/www" && echo hello >"$W/www/index.html"
  ip netns exec $NS-b python3 -m http.server 8080 --bind 198.51.100.2 --directory "$W/www" >/dev/null 2>&1 &
  HTTP_PID=$!
  printf '198.51.100.0/24 lab\n' >"$W/live.regions"
  ip netns exec $NS-a "$TW" -i tw-docs0 --alerts "$OUT/live.json" --control "$W/ctl.sock" --events \
    --set shutdown.enabled=true --set regions.file="$W/live.regions" --set output.stats_interval=1 \
    2>"$W/live.err" &
  TW_PID=$!
  for i in $(seq 50); do grep -q watching "$W/live.err" 2>/dev/null && break; sleep 0.1; done
  grep -q watching "$W/live.err" || fail "live daemon did not attach: $(cat "$W/live.err")"
  for i in $(seq 30); do
    ip netns exec $NS-a curl -s -o /dev/null --max-time 1 http://198.51.100.2:8080/ && break; sleep 0.2
  done
  ip -n $NS-a link set tw-docs0 down; sleep 1.5
  ip -n $NS-a link set tw-docs0 up; sleep 1.5
  kill -INT $TW_PID
  wait $TW_PID || fail "live daemon exited with status $?: $(cat "$W/live.err")"
  TW_PID=
  # what only a live run writes, so that the schema is checked on it
  grep -q '"event_type":"link"' "$OUT/live.json" || fail "no link record in the live run"
  grep -q '"events_per_s":' "$OUT/live.json" || fail "no events_per_s in the live stats records"
  grep -q '"in_iface":"tw-docs0"' "$OUT/live.json" || fail "no live event naming its interface"
  grep -q '"events_lost_per_cpu":\[' "$OUT/live.json" || fail "no live stats record"
}
exec 9>/tmp/tw-netns.lock
flock 9
live

# the hub's cross-site alerts and a publishing gateway (docs/hub.md): the hub's test, its records kept
# (still under the lock: the hub's test uses fixed names and ports too)
TW_HUB_RECORDS=$OUT bash tests/outputs/test_nats_hub.sh >"$W/hub.log" 2>&1 || fail "hub records: $(tail -5 "$W/hub.log")"
flock -u 9

python3 tests/docs/schema_check.py docs/schema/tamperwatch.schema.json "$OUT"/*.json || fail "records do not match the schema"
echo "ok: $(cat "$OUT"/*.json | wc -l) records of $(ls "$OUT" | wc -l) runs valid; every declared record type seen"
