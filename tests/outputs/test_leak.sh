#!/usr/bin/env bash
# Privacy (README "Privacy"): no client address leaves the process in clear.
# A live incident in the censored path of tests/outputs/lib.sh (forged RSTs
# from the lab's censor emulator, two IPv4 and two IPv6 clients, HTTP that is
# reset and HTTP and DNS that are answered, an alert raised and resolved,
# state saved while it is open and at the end), then every output the daemon
# has is collected and searched by tests/outputs/leakscan.py for each client
# address in every form: text (dotted, every IPv6 spelling), hex, decimal,
# raw bytes, inside zlib/gzip streams (the state files), percent-decoded.
# The scanner checks itself first (a planted address in each form is found,
# a client's prefix is not), and the outputs must contain the clients'
# prefixes, so a run that saw no client cannot pass.
#
# Each output is a few functions, so another branch's output is one more
# name in OUTPUTS:
#   setup_NAME      before the daemon starts: start the output's consumer if
#                   it has one (in the gateway namespace: gw CMD...), add the
#                   daemon's arguments to TW_ARGS
#   collect_NAME D  after the daemon stopped: copy everything the output
#                   produced (files, a consumer's store or log, a CLI's
#                   answers) into directory D
#   expect_NAME     (optional) lines that must occur in what was collected,
#                   proof that the output saw the clients (a prefix, say)
# e.g. syslog: setup_syslog starts rsyslogd writing $WORK/syslog.log and adds
# --set syslog.target=...; collect_syslog copies $WORK/syslog.log; and
# expect_syslog prints 198.51.100.0/24.
. "$(dirname "$0")/lib.sh"
OUTPUTS=(json_log stats stderr state_dir)
TW_ARGS=()

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
# the state directory, as saved while the alert was open and at the end;
# the prefixes are only in the decompressed files
setup_state_dir()  { TW_ARGS+=(--state "$WORK/state" --set state.interval=1); }
collect_state_dir() { cp -a "$WORK/state" "$1/at-end"; cp -a "$WORK/state-open" "$1/while-open"; }
expect_state_dir() { printf '%s\n' 198.51.100.0/24 2001:db8:1::/48; }

need_root
"$PY" tests/outputs/leakscan.py --selftest || fail "the scanner misses a planted address"
topo_up
for o in "${OUTPUTS[@]}"; do "setup_$o"; done
censor_on blocked.example
tw_start leak "${TW_ARGS[@]}" --set flows.tcp_closed=1 --set alerts.update_interval=1 --set alerts.resolve_after=30
ALL=("${CLIENTS4[@]}" "${CLIENTS6[@]}")
for a in "${ALL[@]}"; do fetch "$a" >/dev/null; [ "$(fetch "$a" ok.example)" = 0 ] || fail "$a: ok.example not answered"; done
dns_all
wait_alert "$WORK/out.json" 'S.count("raised") == 1'
sleep 1.5   # a periodic save with the alert open
cp -a "$WORK/state" "$WORK/state-open"
censor_off
for a in "${ALL[@]}"; do [ "$(fetch "$a")" = 0 ] || fail "$a: not answered with the censor off"; done
wait_alert "$WORK/out.json" 'S.count("resolved") == 1'
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
  echo "# $o"
  "$PY" tests/outputs/leakscan.py "${args[@]}" "${exp[@]/#/--expect=}" "$C/$o" || leaky+=("$o")
done
[ ${#leaky[@]} = 0 ] || fail "client addresses (or missing expectations) in: ${leaky[*]}"
ok "no client address in clear in: ${OUTPUTS[*]}"
