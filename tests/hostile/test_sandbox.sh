#!/usr/bin/env bash
# The sandbox after setup (daemon/sandbox.c, docs/hardening.md), in the
# replay modes: a probe inside the running daemon (tests/lib/sysprobe.c,
# LD_PRELOAD, on SIGUSR2) makes a system call an attacker would.  With the
# filter the daemon dies of SIGSYS, saying which call and mode; with
# sandbox.seccomp = no the same call returns and the daemon goes on.  Normal
# operation under the filter: the same output as without it, a control
# socket and metrics that answer.  Capabilities: as root, the main thread
# keeps only what the mode needs (replay: none; replay-bpf: CAP_BPF), the
# others nothing.
# The live modes: tests/live/test_live_sandbox.sh; the hub: tests/outputs/test_nats_hub.sh.
. "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || skip "no C compiler for the probe"
cc -shared -fPIC -Wall -Wextra -Werror -o "$WORK/sysprobe.so" tests/lib/sysprobe.c || fail "building the probe"
python3 tests/replay/craft_alerts.py "$WORK/craft" >/dev/null || fail craft
PCAP=$WORK/craft/incident.pcap
REAL=$TW
printf '#!/bin/sh\nLD_PRELOAD=%s exec %s "$@"\n' "$WORK/sysprobe.so" "$REAL" >"$WORK/tw-probe"
chmod +x "$WORK/tw-probe"
TW=$WORK/tw-probe
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# every thread of $HELD_PID: Seccomp mode $1 (2: filter, 0: none); CapEff
# and CapPrm $2 (hex) for the main thread, none for the others
threads_are() {
  local n=0 t
  for t in /proc/"$HELD_PID"/task/*; do
    grep -q "^Seccomp:[[:space:]]*$1$" "$t/status" || fail "thread $(cat "$t/comm"): $(grep '^Seccomp:' "$t/status"), want $1"
    if [ -n "${2:-}" ]; then
      local want=0000000000000000 c
      [ "${t##*/}" = "$HELD_PID" ] && want=$2
      for c in CapEff CapPrm; do
        [ "$(awk -v c="$c:" '$1 == c {print $2}' "$t/status")" = "$want" ] ||
          fail "thread ${t##*/} ($(cat "$t/comm")): $(grep "^$c:" "$t/status"), want $want"
      done
    fi
    n=$((n + 1))
  done
  [ $n -ge 3 ] || fail "only $n threads: control socket and metrics threads missing"
  echo $n
}

# probe_refused MODE CALL SYSCALL [daemon args]: the probe's CALL (the system
# call SYSCALL) kills the daemon (SIGSYS: 159)
probe_refused() {
  local mode=$1 call=$2 sys=$3; shift 3
  export TW_PROBE=$call
  held_start "$PCAP" 3 --metrics "127.0.0.1:$PORT" "$@"
  local n caps=""
  [ "$(id -u)" -eq 0 ] && caps=$WANT_CAPS
  n=$(threads_are 2 "$caps") || exit 1
  curl -sf "http://127.0.0.1:$PORT/metrics" | grep -q '^tamperwatch_' || fail "$mode: metrics do not answer under the filter"
  "$CLI" --socket "$WORK/ctl.sock" status >/dev/null || fail "$mode: the control socket does not answer under the filter"
  kill -USR2 "$HELD_PID"
  held_stop
  local rc=$?
  [ $rc -eq 159 ] || fail "$mode: $call: exit status $rc, want 159 (SIGSYS): $(cat "$WORK/held.err")"
  grep -q "^tamperwatchd: sandbox: system call $sys ([0-9]*) is not allowed in mode $mode; stopping" "$WORK/held.err" ||
    fail "$mode: $call: no sandbox line: $(cat "$WORK/held.err")"
  grep -q "^sysprobe: $call returned" "$WORK/held.err" && fail "$mode: $call returned under the filter"
  ok "$mode: $n threads filtered${caps:+, capabilities $caps}; metrics and control answer; $call refused: $(grep -o 'system call [a-z_0-9]* ([0-9]*)' "$WORK/held.err")"
}

# probe_allowed MODE CALL [daemon args]: sandbox.seccomp = no: the call returns
probe_allowed() {
  local mode=$1 call=$2; shift 2
  export TW_PROBE=$call
  held_start "$PCAP" 3 --metrics "127.0.0.1:$PORT" --set sandbox.seccomp=no "$@"
  threads_are 0 >/dev/null || exit 1
  kill -USR2 "$HELD_PID"
  for _ in $(seq 50); do grep -q "^sysprobe: $call returned" "$WORK/held.err" && break; sleep 0.1; done
  grep -q "^sysprobe: $call returned" "$WORK/held.err" || fail "$mode: the probe did not run: $(cat "$WORK/held.err")"
  held_stop || fail "$mode: sandbox.seccomp = no: exit status $?: $(cat "$WORK/held.err")"
  ok "$mode: sandbox.seccomp = no: $(grep -o "^sysprobe: .*" "$WORK/held.err"), the daemon went on"
}

WANT_CAPS=0000000000000000
probe_refused replay execve execve
probe_refused replay bpf_lookup bpf
probe_refused replay ptrace ptrace
probe_refused replay fork clone
probe_allowed replay execve
probe_allowed replay bpf_lookup

# normal operation: the filter changes nothing in what a replay writes
"$REAL" --events --replay "$PCAP" --alerts "$WORK/on.json" 2>"$WORK/on.err" || fail "replay under the filter: rc $?: $(cat "$WORK/on.err")"
"$REAL" --events --replay "$PCAP" --alerts "$WORK/off.json" --set sandbox.seccomp=no || fail "replay without the filter"
cmp -s "$WORK/on.json" "$WORK/off.json" || fail "the filter changed the output"
ok "replay: the same $(wc -l <"$WORK/on.json") lines with and without the filter"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP (part): replay-bpf and capabilities need root"
  exit 0
fi
WANT_CAPS=$(printf '%016x' $((1 << 39))) # CAP_BPF only
probe_refused replay-bpf bpf_prog_load bpf --replay-engine bpf
probe_refused replay-bpf execve execve --replay-engine bpf
"$REAL" --events --replay "$PCAP" --replay-engine bpf --alerts "$WORK/bpf.json" 2>"$WORK/bpf.err" || fail "bpf replay under the filter: $(cat "$WORK/bpf.err")"
cmp -s "$WORK/on.json" "$WORK/bpf.json" || fail "bpf replay under the filter differs from the user engine's"
ok "replay-bpf: the same lines as the user engine under the filter"
