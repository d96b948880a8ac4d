#!/usr/bin/env bash
# The Prometheus endpoint against a real Prometheus (README "Metrics").
# tamperwatchd runs live (XDP) in the gateway namespace of tests/live/lib.sh
# with --metrics 127.0.0.1:9464; Prometheus runs in the same namespace and
# scrapes it over that namespace's own loopback every second.  The namespace
# is created by this test, so its loopback ports are free by construction and
# nothing on the host (or another test run) can be reached or collide.
# Asserts: up == 1 and the expected series with plausible values after real
# traffic (packets, bytes, events by type, links up, build info), a link
# taken down shows as 0, no client (or target) address in any label or
# sample, hostile requests (404, 405, oversized, idle, too many connections)
# refused and counted, and the startup errors (bad address: exit 2, port in
# use: exit 3, bad config key: exit 2).  A second daemon replays the crafted
# incident of tests/replay/craft_alerts.py and stays up reading a fifo, its
# endpoint on [::1]: Prometheus sees the alert raised, updated and resolved.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
. tests/live/traffic.sh
need_root
PROM=${PROM:-/usr/bin/prometheus}
[ -x "$PROM" ] || skip "prometheus not installed (scripts/install-deps.sh)"
topo_up
gw() { ip netns exec $NS_G "$@"; }

# ---- startup errors: one line on stderr, the right status, nothing attached
start_err() {  # expected status, stderr pattern, arguments...
  local want=$1 pat=$2; shift 2
  gw "$TW" -i gw-cli --alerts /dev/null --control "$WORK/err.sock" "$@" 2>"$WORK/err.txt"; local rc=$?
  [ "$rc" = "$want" ] || fail "$*: exit $rc, want $want: $(cat "$WORK/err.txt")"
  [ "$(wc -l <"$WORK/err.txt")" = 1 ] || fail "$*: not one line: $(cat "$WORK/err.txt")"
  grep -q -- "$pat" "$WORK/err.txt" || fail "$*: no '$pat' in: $(cat "$WORK/err.txt")"
}
start_err 2 "is not an IPv4 literal" --metrics 999.1.1.1:9464
start_err 2 "host names are not resolved" --metrics localhost:9464
start_err 2 "expected \[IPV6\]:PORT" --metrics "[::1]"
start_err 2 "port must be" --metrics 127.0.0.1:0
start_err 2 "Cannot assign requested address" --metrics 192.0.2.77:9464
printf '[metrics]\nlisten = 127.0.0.1\n' >"$WORK/bad.conf"
start_err 2 "bad.conf:2: metrics.listen" -c "$WORK/bad.conf"
ip netns exec $NS_G python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",9464)); s.listen(); time.sleep(30)' &
BUSY=$!
for i in $(seq 50); do gw ss -Hltn 'sport = :9464' | grep -q . && break; sleep 0.1; done
start_err 3 "Address already in use" --metrics 127.0.0.1:9464
kill $BUSY; wait $BUSY 2>/dev/null
assert_detached
ok "startup errors"

# ---- live daemon and a real Prometheus
tw_start "$WORK/out.json" -i gw-cli -i gw-srv --metrics 127.0.0.1:9464
grep -q "metrics on http://127.0.0.1:9464/metrics" "$WORK/out.json.stderr" || fail "no metrics notice"
cat >"$WORK/prom.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tamperwatch
    static_configs:
      - targets: ['127.0.0.1:9464']
  - job_name: replay
    static_configs:
      - targets: ['[::1]:9465']
YML
ip netns exec $NS_G "$PROM" --config.file="$WORK/prom.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address=127.0.0.1:9090 >"$WORK/prom.log" 2>&1 &
PIDS+=($!)

# value of the first sample of an instant query ("" when none)
pq() {
  gw curl -s --max-time 3 http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1" |
    python3 -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}
# wait until every query of the arguments has a sample > 0 (bounded)
wait_series() {
  local q v i
  for i in $(seq 60); do
    local all=1
    for q in "$@"; do
      v=$(pq "$q")
      python3 -c 'import sys; sys.exit(0 if sys.argv[1] and float(sys.argv[1]) > 0 else 1)' "$v" || { all=0; break; }
    done
    [ $all = 1 ] && return 0
    sleep 1
  done
  fail "no sample > 0 for '$q' (last '$v'); prometheus: $(tail -3 "$WORK/prom.log")"
}

wait_series 'up{job="tamperwatch"}'
run_traffic
wait_series 'tamperwatch_packets_total{backend="xdp"}' 'tamperwatch_bytes_total{backend="xdp"}' \
  'tamperwatch_events_total{type="handshake"}' 'tamperwatch_events_total{type="payload"}' \
  'tamperwatch_events_total{type="dns"}' 'tamperwatch_events_total{type="flow"}' \
  'tamperwatch_link_up{interface="gw-cli"}' 'tamperwatch_link_up{interface="gw-srv"}' \
  'tamperwatch_build_info{backend="xdp",version!=""}' 'tamperwatch_start_time_seconds' \
  'tamperwatch_metrics_requests_total'
# plausible: the big download alone is 300 kB; the daemon started before now
wait_series 'tamperwatch_bytes_total{backend="xdp"} > 300000' 'tamperwatch_start_time_seconds < time()'
for q in 'tamperwatch_events_lost_total' 'tamperwatch_events_malformed_total' 'tamperwatch_output_write_errors_total' \
         'sum(tamperwatch_bus_dropped_total)' 'up{job="tamperwatch"}'; do
  v=$(pq "$q"); [ -n "$v" ] || fail "no series for $q"
  case $q in up*) [ "$v" = 1 ] ;; *) [ "$v" = 0 ] ;; esac || fail "$q = $v"
done
ok "series and values in Prometheus after traffic"

# a link taken down shows as 0
ip -n $NS_G link set gw-srv down
for i in $(seq 30); do [ "$(pq 'tamperwatch_link_up{interface="gw-srv"}')" = 0 ] && break; sleep 1; done
[ "$(pq 'tamperwatch_link_up{interface="gw-srv"}')" = 0 ] || fail "gw-srv down not seen"
ip -n $NS_G link set gw-srv up
ok "link down seen as tamperwatch_link_up 0"

# ---- alerts, from a replay on an IPv6 endpoint that stays up on a fifo
python3 tests/replay/craft_alerts.py "$WORK/cap" || fail craft
mkfifo "$WORK/fifo"
ip netns exec $NS_G "$TW" --events --replay "$WORK/cap/incident.pcap" --replay - --alerts "$WORK/replay.json" \
  --metrics "[::1]:9465" <"$WORK/fifo" 2>"$WORK/v6.err" &
V6=$!
exec 9>"$WORK/fifo"
A='category="blocking",method="rst_injection",legitimacy="undeclared"'
wait_series "tamperwatch_alerts_total{job=\"replay\",$A,state=\"raised\"} == 1" \
  "tamperwatch_alerts_total{job=\"replay\",$A,state=\"updated\"} >= 1" \
  "tamperwatch_alerts_total{job=\"replay\",$A,state=\"resolved\"} == 1" \
  "tamperwatch_build_info{job=\"replay\",backend=\"replay-user\"}" \
  "tamperwatch_tamper_verdicts_total{job=\"replay\",method=\"rst_injection\"}"
[ "$(pq "tamperwatch_alerts_open{job=\"replay\",$A}")" = 0 ] || fail "alert still open"
ok "alert raised, updated and resolved in Prometheus (IPv6 endpoint)"

# privacy: no client (nor target) address anywhere in what Prometheus holds, nor in the text
gw curl -s --max-time 3 http://127.0.0.1:9090/api/v1/query --data-urlencode 'query={__name__=~"tamperwatch_.+"}' >"$WORK/all.json"
gw curl -s --max-time 3 http://127.0.0.1:9464/metrics >"$WORK/metrics.txt"
python3 - "$WORK/all.json" "$WORK/metrics.txt" <<'PY' || fail "privacy"
import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
assert len(r) > 50, len(r)
text = open(sys.argv[2]).read() + json.dumps(r)
for a in ("198.51.100.", "2001:db8:1:", "203.0.113.", "2001:db8:2:", "www.lab", "192.0.2.", "100.64.1.",
          "blocked.example", "ok.example"):
    assert a not in text, a
labels = {k for s in r for k in s["metric"]}
allowed = {"__name__", "instance", "job", "backend", "version", "reason", "type", "method", "category",
           "legitimacy", "state", "interface", "transport", "parser", "result"}
assert labels <= allowed, labels - allowed
print("series:", len(r), "labels:", sorted(labels))
PY
ok "no address in labels or samples"

# ---- hostile clients: refused, counted, and the endpoint still answers
gw python3 - <<'PY' || fail "hostile clients"
import socket, time
A = ("127.0.0.1", 9464)
def ask(data, wait=3):
    s = socket.create_connection(A, timeout=wait); s.sendall(data)
    out = b""
    while True:
        b = s.recv(65536)
        if not b: break
        out += b
    s.close(); return out
assert ask(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 404"), "404"
assert ask(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").startswith(b"HTTP/1.1 405"), "405"
assert ask(b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400"), "400"
assert ask(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431"), "431"
h = ask(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
assert h.startswith(b"HTTP/1.1 200") and h.endswith(b"\r\n\r\n"), h[:200]
# 20 idle connections: 16 are held (then time out), the rest are refused with 503
idle = [socket.create_connection(A, timeout=10) for _ in range(20)]
time.sleep(0.5)
busy = 0
for s in idle:
    s.setblocking(False)
    try:
        if s.recv(100).startswith(b"HTTP/1.1 503"): busy += 1
    except BlockingIOError:
        pass
assert busy == 4, f"{busy} refused with 503, want 4"
# the held ones are closed by the server after its timeout
for s in idle:
    s.settimeout(10)
    try:
        while s.recv(100): pass
    except ConnectionResetError:
        pass
    s.close()
m = ask(b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").decode()
assert m.startswith("HTTP/1.1 200") and "text/plain; version=0.0.4" in m, m[:300]
got = {l.split()[0]: int(l.split()[1]) for l in m.splitlines() if l.startswith("tamperwatch_metrics_rejected_total{")}
want = {"not_found": 1, "method_not_allowed": 1, "bad_request": 1, "too_large": 1, "too_many_connections": 4}
R = lambda k: got.get('tamperwatch_metrics_rejected_total{reason="%s"}' % k, 0)
for k, v in want.items():
    # Prometheus's own scrapes meet the full table too: more 503s, never fewer
    assert R(k) == v or (k == "too_many_connections" and R(k) > v), (k, R(k), v)
# the 16 held ones end by their timeout, or displaced by a scrape of
# Prometheus that came once they had been silent 100 ms (idle_evicted)
assert R("timeout") + R("idle_evicted") == 16, (R("timeout"), R("idle_evicted"))
print("rejected:", got)
PY
ok "hostile requests refused and counted"

exec 9>&-
wait $V6
tw_stop "$WORK/out.json"
assert_detached
echo "ok: prometheus"
