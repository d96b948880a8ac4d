#!/usr/bin/env bash
# Privacy (README "Privacy"): no client address leaves the process in clear.
# A live incident in the censored path of tests/outputs/lib.sh (forged RSTs
# from the lab's censor emulator, two IPv4 and two IPv6 clients, HTTP that is
# reset and HTTP and DNS that are answered, an alert raised and resolved,
# state saved while it is open and at the end), with every output the daemon
# has enabled in the same run and read by a real consumer where there is
# one: the JSON log and its stats records, stderr, the state directory, a
# real rsyslogd (TCP), the Prometheus endpoint (scraped with curl), a real
# Alertmanager with a webhook receiver, the evidence pcaps, the status page
# (HTML and its SVG plots, curl), the operator CLI
# over the control socket (status, alerts, targets, report bundles) and
# everything that crossed the gateway namespace's loopback (tcpdump: the
# requests to Alertmanager, the syslog stream, the scrapes, the webhook).
# Everything collected is searched by tests/outputs/leakscan.py for each
# client address in every form: text (dotted, every IPv6 spelling), hex,
# decimal, raw bytes, inside zlib/gzip streams (state files, report
# bundles), percent-decoded. The scanner checks itself first (a planted
# address in each form is found, a client's prefix is not), and every
# output must show that it saw the incident (its expected lines, its
# checks), so a broken or silent output cannot pass.
#
# Each output is a few functions, so a new output is one more name in
# OUTPUTS:
#   setup_NAME      before the daemon starts: start the output's consumer if
#                   it has one (in the gateway namespace: gw CMD...), add the
#                   daemon's arguments to TW_ARGS
#   during_NAME P   (optional) while the daemon runs, P = open (the alert is
#                   open) and resolved (it is resolved): ask the daemon or
#                   the consumer what it holds now, into $WORK
#   collect_NAME D  after the daemon stopped: stop the consumer, copy
#                   everything the output produced (files, a consumer's
#                   store or log, a CLI's answers) into directory D
#   expect_NAME     (optional) lines that must occur in what was collected,
#                   proof that the output saw the incident (a prefix, say)
#   verify_NAME D   (optional) a check of D that text cannot express
#                   (packets in a pcap, members of a bundle); fails the test
# Outputs are collected in OUTPUTS order: wire last, after the consumers
# have stopped talking.
. "$(dirname "$0")/lib.sh"
OUTPUTS=(json_log stats stderr state_dir syslog prometheus status_page alertmanager evidence cli nats wire)
TW_ARGS=()
ALL=("${CLIENTS4[@]}" "${CLIENTS6[@]}")
# loopback ports in the gateway namespace (this test's own: free by construction)
SYSLOG_PORT=10514 METRICS=127.0.0.1:9464 AM=http://127.0.0.1:9093 HOOK_PORT=9094 NATS_PORT=14222
CLI=build/tamperwatch

# wait_for SECONDS CMD...: until CMD succeeds (bounded)
wait_for() {
  for _ in $(seq $(($1 * 10))); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# gw_bg CMD...: CMD in the gateway namespace, in the background; BG is its
# pid (not through gw(): the pid of a subshell would not stop CMD)
gw_bg() { ip netns exec "$NS_G" "$@" & BG=$!; PIDS+=("$BG"); }

# the JSON-lines log: events, tamper verdicts, alerts
setup_json_log()   { TW_ARGS+=(--alerts "$WORK/out.json"); }
collect_json_log() { grep -v '"event_type":"stats"' "$WORK/out.json" >"$1/log.json"; }
expect_json_log()  { printf '%s\n' '"src_prefix":"198.51.100.0/24"' '"src_prefix":"2001:db8:1::/48"' \
                       '"event_type":"tamper"' '"state":"raised"' '"state":"resolved"'; }
# stats records (in the same log, every second)
setup_stats()      { TW_ARGS+=(--set output.stats_interval=1); }
collect_stats()    { grep '"event_type":"stats"' "$WORK/out.json" >"$1/stats.json"; }
expect_stats()     { echo '"final":true'; }
# whatever the daemon says on stderr
setup_stderr()     { :; }
collect_stderr()   { cp "$WORK/leak.err" "$1/"; }
# the state directory, as saved while the alert was open and at the end
# (aggregation, the Alertmanager spool, the pseudonym key); the prefixes
# are only in the decompressed files
setup_state_dir()  { TW_ARGS+=(--state "$WORK/state" --set state.interval=1); }
collect_state_dir() { cp -a "$WORK/state" "$1/at-end"; cp -a "$WORK/state-open" "$1/while-open"; }
expect_state_dir() { printf '%s\n' 198.51.100.0/24 2001:db8:1::/48; }

# syslog: a real rsyslogd over TCP (RFC 6587 framing), writing the raw
# message, what its own RFC 5424 parser made of it, its default file format
# and its internal log
setup_syslog() {
  mkdir -p "$WORK/rsyslog"
  cat >"$WORK/rsyslog.conf" <<RSCONF
global(workDirectory="$WORK/rsyslog")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
template(name="parsed" type="string" string="%protocol-version%|%app-name%|%msgid%|%structured-data%|%msg%\n")
ruleset(name="tw") {
  action(type="omfile" file="$WORK/rsyslog/raw.log" template="raw")
  action(type="omfile" file="$WORK/rsyslog/parsed.log" template="parsed")
  action(type="omfile" file="$WORK/rsyslog/messages.log")
}
input(type="imtcp" address="127.0.0.1" port="$SYSLOG_PORT" ruleset="tw")
*.* action(type="omfile" file="$WORK/rsyslog/internal.log")
RSCONF
  gw_bg rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslog.pid" >"$WORK/rsyslog/stdout.log" 2>&1
  RS_PID=$BG
  wait_for 10 eval "gw ss -Hltn 'sport = :$SYSLOG_PORT' | grep -q ." ||
    fail "rsyslogd did not listen: $(cat "$WORK/rsyslog/stdout.log")"
  TW_ARGS+=(--set syslog.enabled=yes --set "syslog.target=tcp://127.0.0.1:$SYSLOG_PORT" --set syslog.facility=local3)
}
collect_syslog() {
  # both alert lines have arrived before rsyslogd is stopped (it flushes on SIGTERM)
  wait_for 10 grep -q 'state="resolved"' "$WORK/rsyslog/raw.log" ||
    echo "syslog: no resolved message ($(grep -c . "$WORK/rsyslog/raw.log" 2>/dev/null) messages)" >&2
  stop_pid "$RS_PID"
  cp -a "$WORK/rsyslog/." "$1/"
}
expect_syslog() { printf '%s\n' '1|tamperwatchd|alert|[tamperwatch@32473 id=' 'state="raised"' 'state="resolved"' \
                    'domain="blocked.example"' 'method="rst_injection"'; }

# Prometheus: the exposition text as a scraper gets it (headers too),
# every second from a background curl and once in each phase
setup_prometheus() {
  mkdir -p "$WORK/scrapes"
  TW_ARGS+=(--metrics "$METRICS")
  # shellcheck disable=SC2016 # expanded by the inner shell
  gw_bg bash -c 'i=0; while :; do i=$((i + 1))
      curl -sfi -m 2 -o "$1/tmp" "http://$2/metrics" && mv "$1/tmp" "$1/every-second-$i.txt"; sleep 1; done' \
    _ "$WORK/scrapes" "$METRICS"
  SCRAPER=$BG
}
during_prometheus() { gw curl -sfi -m 3 "http://$METRICS/metrics" >"$WORK/scrapes/$1.txt" || fail "metrics scrape ($1) failed"; }
collect_prometheus() { stop_pid "$SCRAPER"; rm -f "$WORK/scrapes/tmp"; cp -a "$WORK/scrapes/." "$1/"; }
expect_prometheus() { printf '%s\n' 'tamperwatch_alerts_open{category="blocking",method="rst_injection",legitimacy="undeclared"} 1' \
                        'state="resolved"} 1' 'tamperwatch_events_total{type="rst"}' 'tamperwatch_syslog_messages_total{transport="tcp"}'; }
verify_prometheus() {
  local n; n=$(find "$1" -name 'every-second-*' | wc -l)
  [ "$n" -ge 3 ] || { echo "prometheus: only $n background scrapes"; return 1; }
  echo "prometheus: $n background scrapes and one in each phase"
}

# the status page (--status-page, on the metrics listener): the HTML with
# its inline SVG plots, as a browser gets it, in each phase
setup_status_page() { mkdir -p "$WORK/page"; TW_ARGS+=(--status-page); }
during_status_page() { gw curl -sf -m 3 "http://$METRICS/status" >"$WORK/page/$1.html" || fail "status page ($1) failed"; }
collect_status_page() { cp -a "$WORK/page/." "$1/"; }
expect_status_page() { printf '%s\n' 198.51.100.0/24 2001:db8:1::/48 'data-category="blocking"' blocked.example 'id="health"'; }
verify_status_page() {
  grep -q 'class="alert" data-alert-id="[0-9a-f]*" data-category="blocking" data-state="raised\|class="alert" data-alert-id="[0-9a-f]*" data-category="blocking" data-state="updated' "$1/open.html" ||
    { echo "status page: no open blocking alert in the open phase"; return 1; }
  grep -q 'data-state="resolved"' "$1/resolved.html" || { echo "status page: no resolved record in the resolved phase"; return 1; }
  echo "status page: the open alert, then its resolution, in each phase's page"
}

# Alertmanager: a real one (API v2, debug log of what it receives) whose
# receiver is a webhook that keeps every notification body; collected: its
# API answers while the alert is open and after, the webhook bodies, its
# log and storage, and the daemon's spool (open and at the end)
setup_alertmanager() {
  mkdir -p "$WORK/am"
  cat >"$WORK/am.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(bytes(self.requestline, "latin-1") + b"\n" + bytes(self.headers) + body + b"\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
  gw_bg "$PY" "$WORK/am.py" "$HOOK_PORT" "$WORK/am/webhook.log"
  am_config "$WORK/am.yml" "$HOOK_PORT"
  gw_bg prometheus-alertmanager --config.file="$WORK/am.yml" --storage.path="$WORK/am/data" --log.level=debug \
    --web.listen-address="${AM#http://}" --cluster.listen-address= >"$WORK/am/alertmanager.log" 2>&1
  AM_PID=$BG
  wait_for 20 gw curl -sf "$AM/-/ready" || fail "alertmanager not ready: $(tail -3 "$WORK/am/alertmanager.log")"
  TW_ARGS+=(--alertmanager "$AM" --set 'alertmanager.labels=site=leak-test')
}
during_alertmanager() {
  local q
  if [ "$1" = open ]; then   # the alert has reached Alertmanager and a notification went out
    wait_for 10 eval "gw curl -sf '$AM/api/v2/alerts' | grep -q alert_id" || fail "alert not active in Alertmanager"
    wait_for 10 grep -q '"status":"firing"' "$WORK/am/webhook.log" || fail "no firing notification at the webhook"
  fi
  for q in alerts:alerts groups:alerts/groups all:'alerts?active=true&silenced=true&inhibited=true&unprocessed=true'; do
    gw curl -sf "$AM/api/v2/${q#*:}" >"$WORK/am/api-$1-${q%%:*}.json" || fail "alertmanager api/v2/${q#*:}"
    echo >>"$WORK/am/api-$1-${q%%:*}.json"
  done
}
collect_alertmanager() {
  wait_for 10 grep -q '"status":"resolved"' "$WORK/am/webhook.log" || echo "alertmanager: no resolved notification" >&2
  stop_pid "$AM_PID"   # writes its nflog and silences snapshots
  cp -a "$WORK/am/." "$1/"
  local s
  for s in state-open state; do
    [ -f "$WORK/$s/alertmanager.spool" ] && cp "$WORK/$s/alertmanager.spool" "$1/spool-$s"
  done
  [ -f "$1/spool-state-open" ] || fail "no Alertmanager spool while the alert was open"
}
expect_alertmanager() { printf '%s\n' '"alert_id":"' '"scope_prefixes":"198.51.100.0/24, 2001:db8:1::/48"' \
                          '"status":"firing"' '"status":"resolved"' '"site":"leak-test"'; }

# evidence: the alert's pcap, clients under pseudonyms that keep the /24
# (/48). The key is chosen so that no client's pseudonym is another client
# (else that address would rightly be a finding; tests/outputs/pseudonym.py)
setup_evidence() {
  "$PY" tests/outputs/pseudonym.py key "$WORK/state" "${ALL[@]}" || fail "pseudonym key"
  cp "$WORK/state/pseudonym.key" "$WORK/pseudonym.key.orig"
  TW_ARGS+=(--evidence "$WORK/evidence")
}
collect_evidence() { cp -a "$WORK/evidence/." "$1/"; }
verify_evidence() {
  cmp -s "$WORK/state/pseudonym.key" "$WORK/pseudonym.key.orig" || { echo "evidence: the daemon did not keep the key"; return 1; }
  local a args=()
  for a in "${ALL[@]}"; do args+=(--client "$a"); done
  "$PY" tests/outputs/pseudonym.py pcap "$WORK/state" "${args[@]}" "$1"/*.pcap
}

# the operator CLI over the control socket, human and --json, in each
# phase; report bundles are kept as they came and extracted
cli_ask() { "$CLI" --socket "$WORK/leak.ctl.sock" "$@"; }
setup_cli() { :; }
during_cli() {
  local d=$WORK/cli/$1 c id
  mkdir -p "$d"
  for c in status alerts targets; do
    cli_ask "$c" >"$d/$c.txt" 2>>"$d/stderr.txt" || fail "tamperwatch $c: rc $?"
    cli_ask --json "$c" >"$d/$c.json" 2>>"$d/stderr.txt" || fail "tamperwatch --json $c: rc $?"
  done
  id=$(grep -o '"alert":{"id":"[0-9a-f]*"' "$d/alerts.json" | head -1 | cut -d'"' -f6)
  [ -n "$id" ] || fail "tamperwatch alerts: no alert id"
  cli_ask --json report "$id" -o "$d/report.tar.gz" >"$d/report.json" 2>>"$d/stderr.txt" || fail "tamperwatch report: rc $?"
}
collect_cli() {
  cp -a "$WORK/cli/." "$1/"
  local b
  for b in "$1"/*/report.tar.gz; do
    if ! mkdir "${b%.tar.gz}" || ! tar -xzf "$b" -C "${b%.tar.gz}" --no-same-owner; then fail "cannot extract $b"; fi
  done
}
expect_cli() { printf '%s\n' 198.51.100.0/24 2001:db8:1::/48 '"state":"raised"' '"state":"resolved"' blocked.example; }
verify_cli() {
  local p m
  for p in open resolved; do
    for m in alert.json timeline.txt README.txt evidence.pcap plot.svg plot.png; do
      [ -s "$1/$p/report/$m" ] || { echo "cli: the $p report bundle has no $m"; return 1; }
    done
  done
  echo "cli: status, alerts, targets (text and --json) and a report bundle with evidence.pcap and its plot in each phase"
}

# NATS JetStream (docs/hub.md): a real nats-server; what the stream holds
# (read back with nats_dump.py) and the server's own store files
setup_nats() {
  gw_bg /usr/sbin/nats-server -a 127.0.0.1 -p $NATS_PORT -js -sd "$WORK/nats-store" >"$WORK/nats-server.log" 2>&1
  NATS_SERVER=$BG
  wait_for 10 grep -q "Server is ready" "$WORK/nats-server.log" || fail "nats-server: $(tail -3 "$WORK/nats-server.log")"
  TW_ARGS+=(--set nats.url=nats://127.0.0.1:$NATS_PORT --set nats.site=leak --set nats.heartbeat=1)
  # per-prefix traffic summaries every second, published too
  printf '198.51.100.0/24 lab\n2001:db8:1::/48 lab\n' >"$WORK/nats.regions"
  TW_ARGS+=(--set shutdown.enabled=true --set regions.file="$WORK/nats.regions" --set shutdown.interval=1
            --set shutdown.summary_interval=1)
}
collect_nats() {
  gw "$PY" tests/outputs/nats_dump.py 127.0.0.1:$NATS_PORT TAMPERWATCH >"$1/stream.tsv" || fail "nats_dump"
  stop_pid "$NATS_SERVER"
  cp -a "$WORK/nats-store" "$1/store"
}
expect_nats() { printf '%s\n' 'tamperwatch.leak.alert' 'tamperwatch.leak.tamper' '"state":"resolved"' '"src_prefix":"198.51.100.0\/24"' \
  'tamperwatch.leak.prefix_summary' '"prefix":"198.51.100.0\/24"'; }

# everything that crossed the gateway namespace's loopback: the daemon's
# requests to Alertmanager (the raw bodies), its syslog stream, the scrapes,
# Alertmanager's notifications
setup_wire() {
  gw_bg tcpdump -i lo -n -s 0 -U -Z root -w "$WORK/loopback.pcap" 2>"$WORK/tcpdump.err"
  TCPDUMP=$BG
  wait_for 10 grep -q "listening on" "$WORK/tcpdump.err" || fail "tcpdump: $(cat "$WORK/tcpdump.err")"
}
collect_wire() { kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null; cp "$WORK/loopback.pcap" "$1/"; }
expect_wire() { printf '%s\n' 'POST /api/v2/alerts' '"scope_prefixes":"198.51.100.0/24, 2001:db8:1::/48"' \
                  'tamperwatch@32473' 'tamperwatch_packets_total' '"status":"resolved"'; }

need_root
for c in rsyslogd prometheus-alertmanager nats-server; do command -v "$c" >/dev/null || skip "$c not installed (scripts/install-deps.sh)"; done
[ -x "$CLI" ] || fail "$CLI not built (make)"
"$PY" tests/outputs/leakscan.py --selftest || fail "the scanner misses a planted address"
topo_up
setup_wire   # the capture first
for o in "${OUTPUTS[@]}"; do [ "$o" = wire ] || "setup_$o"; done
during() { local o; for o in "${OUTPUTS[@]}"; do declare -F "during_$o" >/dev/null && "during_$o" "$1"; done; }
censor_on blocked.example
tw_start leak "${TW_ARGS[@]}" --set flows.tcp_closed=1 --set alerts.update_interval=1 --set alerts.resolve_after=30
ok "daemon up with: ${OUTPUTS[*]}"
for a in "${ALL[@]}"; do fetch "$a" >/dev/null; [ "$(fetch "$a" ok.example)" = 0 ] || fail "$a: ok.example not answered"; done
dns_all
wait_alert "$WORK/out.json" 'S.count("raised") == 1'
sleep 1.5   # a periodic save with the alert open
cp -a "$WORK/state" "$WORK/state-open"
during open
ok "alert open: outputs asked"
censor_off
for a in "${ALL[@]}"; do [ "$(fetch "$a")" = 0 ] || fail "$a: not answered with the censor off"; done
wait_alert "$WORK/out.json" 'S.count("resolved") == 1'
during resolved
tw_stop_int leak
ok "incident raised and resolved; $(wc -l <"$WORK/out.json") log lines"

C=$WORK/collected
args=()
for a in "${ALL[@]}"; do args+=(--addr "$a"); done
leaky=()
for o in "${OUTPUTS[@]}"; do
  mkdir -p "$C/$o"
  "collect_$o" "$C/$o"
  [ -n "$(find "$C/$o" -type f -size +0)" ] || fail "output $o: nothing collected"
  exp=()
  if declare -F "expect_$o" >/dev/null; then mapfile -t exp < <("expect_$o"); fi
  echo "# $o: $(find "$C/$o" -type f | wc -l) files, $(du -sk "$C/$o" | cut -f1) KiB"
  "$PY" tests/outputs/leakscan.py "${args[@]}" "${exp[@]/#/--expect=}" "$C/$o" || leaky+=("$o")
  if declare -F "verify_$o" >/dev/null; then "verify_$o" "$C/$o" || leaky+=("$o (check)"); fi
done
[ ${#leaky[@]} = 0 ] || fail "client addresses, missing expectations or failed checks in: ${leaky[*]}"
ok "no client address in clear in: ${OUTPUTS[*]}"
