#!/usr/bin/env bash
# The sandbox live (daemon/sandbox.c, docs/hardening.md): once attached,
# its main thread holds CAP_BPF and CAP_NET_ADMIN only, every other thread
# nothing (read back from /proc/PID/task/*/status), and every thread runs
# under the seccomp filter, in
# XDP and TC mode; traffic is still seen and SIGINT still detaches.  A probe
# inside the daemon (tests/lib/sysprobe.c, on SIGUSR2) then loads a BPF
# program, which an attacker in the process would do first: refused, the
# daemon dies of SIGSYS with the sandbox's line.  sandbox.user switches
# every thread to another user, the main thread keeping the same two.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
. tests/live/traffic.sh
need_root
command -v cc >/dev/null || skip "no C compiler for the probe"
topo_up
cc -shared -fPIC -Wall -Wextra -Werror -o "$WORK/sysprobe.so" tests/lib/sysprobe.c || fail "building the probe"
printf '#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' "$WORK/sysprobe.so" "$PWD/$TW" >"$WORK/tw-probe"
chmod +x "$WORK/tw-probe"
TW=$WORK/tw-probe
WANT=$(printf '%016x' $(((1 << 39) | (1 << 12)))) # CAP_BPF | CAP_NET_ADMIN

# every thread of TW_PID: seccomp filter on, CapEff/CapPrm = WANT for the
# main thread (maps, detach) and none for the others, uid $1
threads_ok() {
  local n=0 t c want
  for t in /proc/"$TW_PID"/task/*; do
    grep -q "^Seccomp:[[:space:]]*2$" "$t/status" || fail "thread $(cat "$t/comm"): $(grep '^Seccomp:' "$t/status")"
    want=0000000000000000
    [ "${t##*/}" = "$TW_PID" ] && want=$WANT
    for c in CapEff CapPrm; do
      [ "$(awk -v c="$c:" '$1 == c {print $2}' "$t/status")" = "$want" ] ||
        fail "thread ${t##*/} ($(cat "$t/comm")): $(grep "^$c:" "$t/status"), want $want"
    done
    [ "$(awk '$1 == "Uid:" {print $2 "," $3 "," $4}' "$t/status")" = "$1,$1,$1" ] ||
      fail "thread $(cat "$t/comm"): $(grep '^Uid:' "$t/status"), want $1"
    n=$((n + 1))
  done
  [ $n -ge 2 ] || fail "only $n threads"
  echo $n
}

export TW_PROBE=bpf_prog_load
# XDP sees what enters a link: both links, as test_live_xdp.sh; TC both ways of one
for mode in xdp tc; do
  links=(-i gw-cli)
  [ $mode = xdp ] && links+=(-i gw-srv)
  tw_start "$WORK/$mode.json" "${links[@]}" --mode $mode
  n=$(threads_ok 0) || exit 1
  run_traffic
  tw_stop "$WORK/$mode.json"
  assert_detached
  assert_events "$WORK/$mode.json"
  ok "$mode: $n threads filtered, the main one with capabilities $WANT, the others none; traffic seen; detached on SIGINT"
done

# sandbox.user: another user, the same two capabilities; still detaches
NOBODY=$(id -u nobody) || skip "no user nobody"
chmod 0755 "$WORK"
tw_start "$WORK/user.json" -i gw-cli --mode tc --set sandbox.user=nobody
n=$(threads_ok "$NOBODY") || exit 1
run_traffic
tw_stop "$WORK/user.json"
assert_detached
ok "sandbox.user = nobody: $n threads as uid $NOBODY with $WANT; detached"

# the probe: a BPF program load from inside the running daemon
tw_start "$WORK/probe.json" -i gw-cli --mode xdp
kill -USR2 $TW_PID
for _ in $(seq 50); do kill -0 $TW_PID 2>/dev/null || break; sleep 0.1; done
wait $TW_PID
rc=$?
[ $rc -eq 159 ] || fail "probe: exit status $rc, want 159 (SIGSYS): $(cat "$WORK/probe.json.stderr")"
grep -q "^tamperwatchd: sandbox: system call bpf ([0-9]*) is not allowed in mode live; stopping" "$WORK/probe.json.stderr" ||
  fail "probe: no sandbox line: $(cat "$WORK/probe.json.stderr")"
grep -q "^sysprobe:" "$WORK/probe.json.stderr" && fail "probe: the BPF load returned under the filter"
ok "live: a BPF program load from inside the daemon: $(grep -o 'system call bpf ([0-9]*) is not allowed in mode live' "$WORK/probe.json.stderr")"
# killed, it left its program on the link, as after SIGKILL: the next start
# recognises it (docs/architecture.md) and the filter lets it detach
tw_start "$WORK/after.json" -i gw-cli --mode xdp
tw_stop "$WORK/after.json"
assert_detached
ok "restarted after the kill and detached"
