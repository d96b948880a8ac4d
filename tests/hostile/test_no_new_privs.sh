#!/usr/bin/env bash
# Least privilege, the part that is done: every thread of a running
# tamperwatchd (main loop, control socket, metrics server) has
# no_new_privs set, so nothing it might ever start gains privileges
# through set-user-ID files or file capabilities.
. "$(dirname "$0")/lib.sh"
python3 tests/replay/craft_alerts.py "$WORK/craft" || fail craft
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
held_start "$WORK/craft/incident.pcap" 3 --metrics "127.0.0.1:$PORT"
n=0
for t in /proc/"$HELD_PID"/task/*; do
  grep -q "^NoNewPrivs:[[:space:]]*1$" "$t/status" || fail "thread $(basename "$t") ($(cat "$t/comm")): $(grep NoNewPrivs "$t/status")"
  n=$((n + 1))
done
[ $n -ge 3 ] || fail "only $n threads: control socket and metrics threads missing"
ok "no_new_privs on all $n threads"
held_stop || fail "held replay: rc $?: $(cat "$WORK/held.err")"
