#!/usr/bin/env bash
# A crash during an incident (README "State"): tamperwatchd live (XDP) in the
# gateway of tests/outputs/lib.sh sees the censor's forged RSTs raise an
# alert, saves it, and is killed with SIGKILL.  The restart attaches again
# (the dead daemon's XDP link went with it), restores the incident from the
# state directory and carries it on: the same alert.id is updated with the
# flows of both runs and resolved once when the censor stops; `raised` is
# written once across both runs.  Then:
#  - SIGKILL right after a raise with state.interval at an hour: only the
#    save at the raise can have recorded it, and the restart does not raise
#    it again;
#  - TC mode: the killed daemon's filters outlive it and the restart replaces
#    them (it holds the interface lock); a live daemon's are never replaced;
#  - the state file's faults: truncated, empty, flipped bytes, bad CRC,
#    foreign, another version -> one line naming the file, set aside as it
#    was, fresh state, exit status 0 (one live, the rest on a replay);
#    unreadable (a directory; permissions, as an unprivileged user) ->
#    startup stops with status 3, one line, the file left alone.
. "$(dirname "$0")/lib.sh"
need_root
topo_up
LOG=$WORK/alerts.json STATE=$WORK/state
FAST=(--alerts "$LOG" --state "$STATE" --set state.interval=1 --set flows.tcp_closed=1
      --set alerts.update_interval=1 --set alerts.resolve_after=30)
C4=${CLIENTS4[0]} C4b=${CLIENTS4[1]} C6=${CLIENTS6[0]} C6b=${CLIENTS6[1]}

censor_on blocked.example blocked2.example
[ "$(fetch $C4)" = 56 ] || fail "the censor did not reset the request"

# ---- run 1: the incident is raised and saved, then SIGKILL
tw_start run1 "${FAST[@]}"
for a in $C4 $C4b $C6 $C6b; do fetch $a >/dev/null; done
wait_alert "$LOG" 'S.count("raised") == 1'
ID=$("$PY" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"raised\"" in l][0]["alert"]["id"])' "$LOG")
for _ in $(seq 50); do state_text "$STATE" alerts.state 2>/dev/null | grep -q "^A open=1 id=$ID " && break; sleep 0.1; done
state_text "$STATE" alerts.state | grep -q "^A open=1 id=$ID " || fail "the open alert $ID was never saved"
tw_kill9
for dev in gw-cli gw-up; do
  ip -n $NS_G -d link show dev $dev | grep -q 'prog/xdp' && fail "$dev: the killed daemon's XDP program is still attached"
done
ok "alert $ID raised and saved; SIGKILL left nothing attached"
KILLED=$(wc -l <"$LOG")
NA=$(grep -c '"event_type":"alert"' "$LOG")

# ---- run 2: same state, the incident goes on, then the censor stops
tw_start run2 "${FAST[@]}"
grep -Eq "corrupt|malformed|not saved" "$WORK/run2.err" && fail "run 2: $(cat "$WORK/run2.err")"
for a in $C4 $C6 $C4b; do fetch $a >/dev/null; done
wait_alert "$LOG" "'updated' in S[$NA:]"
censor_off
for a in $C4 $C6 $C4b $C6b; do
  [ "$(fetch $a)" = 0 ] || fail "$a: not answered with the censor off"
done
wait_alert "$LOG" 'S.count("resolved") >= 1'
tw_stop_int run2
"$PY" - "$LOG" "$ID" "$KILLED" <<'PY' || fail "alerts across the restart"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
killed = int(sys.argv[3])
A = [(i, json.loads(l)) for i, l in enumerate(lines) if '"event_type":"alert"' in l]
for i, a in A:
    print(i, a["alert"]["state"], a["alert"]["id"], a["stats"]["affected_flows"], a["first_seen"])
ids = {a["alert"]["id"] for _, a in A}
S = [a["alert"]["state"] for _, a in A]
assert ids == {sys.argv[2]}, ids
assert S.count("raised") == 1 and A[0][0] < killed and S[0] == "raised", "raised once, before the kill"
assert S.count("resolved") == 1 and S[-1] == "resolved" and A[-1][0] >= killed, "resolved once, by run 2"
after = [a for i, a in A if i >= killed]
assert any(a["alert"]["state"] == "updated" for a in after), "no update after the restart"
raised, resolved = A[0][1], A[-1][1]
# the restored incident: same start, flows of both runs counted
assert resolved["first_seen"] == raised["first_seen"], (raised["first_seen"], resolved["first_seen"])
assert resolved["stats"]["affected_flows"] >= raised["stats"]["affected_flows"] + 2, "flows before the crash forgotten"
assert resolved["stats"]["clients"] == 2 and sorted(resolved["scope"]["prefixes"]) == ["198.51.100.0/24", "2001:db8:1::/48"]
PY
ok "one alert id across SIGKILL and restart: raised once, updated after, resolved once"

# ---- SIGKILL right after a raise: state.interval is an hour, so only the
# save at the raise can have recorded it
LOG2=$WORK/alerts2.json STATE2=$WORK/state2
SLOW=(--alerts "$LOG2" --state "$STATE2" --set state.interval=3600 --set flows.tcp_closed=1
      --set alerts.update_interval=1 --set alerts.resolve_after=30)
censor_on blocked2.example
tw_start run3 "${SLOW[@]}"
for a in $C4 $C6 $C4b $C6b; do fetch $a blocked2.example >/dev/null; done   # one spare
wait_alert "$LOG2" 'S.count("raised") == 1'
for _ in $(seq 30); do [ -s "$STATE2/alerts.state" ] && break; sleep 0.1; done
tw_kill9
tw_start run4 "${SLOW[@]}"
# as many flows as raise it: a run that forgot the alert raises it again
for a in $C6b $C4 $C6 $C4b; do fetch $a blocked2.example >/dev/null; done
wait_alert "$LOG2" 'S.count("updated") >= 1 or S.count("raised") > 1'
tw_stop_int run4
alerts_py "$LOG2" 'S.count("raised") == 1 and len({a["alert"]["id"] for a in A}) == 1' ||
  fail "raised again after a SIGKILL right after the raise: $(grep '"alert"' "$LOG2")"
censor_off
ok "a raise is saved at once, not at the next state.interval"

# ---- TC filters outlive a SIGKILL: the restart replaces the orphan (it holds
# the interface lock, so no live daemon owns it), never a live daemon's
tc_ids() { tc -n $NS_G filter show dev gw-cli "$1" | grep -o 'tw_tc:\[[0-9]*\]' | sort; }
tw_start tc1 --alerts /dev/null --mode tc
tw_kill9
orphan=$(tc_ids ingress)
[ -n "$orphan" ] || fail "expected the TC filter to outlive SIGKILL (legacy tc): did the attachment change?"
tw_start tc2 --alerts /dev/null --mode tc
grep -q "gw-cli: replaced the TC ingress program .* a killed tamperwatchd left attached" "$WORK/tc2.err" ||
  fail "orphan not reported: $(cat "$WORK/tc2.err")"
live=$(tc_ids ingress) live_e=$(tc_ids egress)
[ -n "$live" ] && [ "$live" != "$orphan" ] || fail "orphan $orphan not replaced ($live)"
ip netns exec $NS_G "$TW" -i gw-cli --mode tc --alerts /dev/null --control "$WORK/tc3.ctl.sock" 2>"$WORK/tc3.err"; rc=$?
[ $rc = 3 ] && grep -q "cannot attach TC ingress program: File exists" "$WORK/tc3.err" ||
  fail "a second daemon on a watched interface: rc $rc: $(cat "$WORK/tc3.err")"
[ "$(tc_ids ingress)" = "$live" ] && [ "$(tc_ids egress)" = "$live_e" ] || fail "a live daemon's filter was replaced"
tw_stop_int tc2
[ -z "$(tc_ids ingress)$(tc_ids egress)" ] || fail "TC filters left after a clean stop"
for dev in gw-cli gw-up; do tc -n $NS_G qdisc del dev $dev clsact 2>/dev/null; done   # the killed daemon's
ok "TC: a killed daemon's filter replaced at restart, a live daemon's never"

# ---- state file faults: one live, the others on a replay (the same code
# reads the state before either backend starts, and a replay needs no BPF load)
SRC=$STATE/alerts.state
[ -s "$SRC" ] || fail "no state file after a clean stop"
"$PY" tests/replay/craft_alerts.py "$WORK/cap" >/dev/null || fail craft
faulty() {  # live|replay, name, command that damages alerts.state in the current directory
  local how=$1 name=$2 D=$WORK/st-$2 rc; shift 2
  mkdir -p "$D"; cp "$SRC" "$D/alerts.state"
  ( cd "$D" && eval "$*" ) || fail "$name: $*"
  cp "$D/alerts.state" "$WORK/$name.damaged"
  if [ "$how" = live ]; then
    tw_start "$name" --alerts "$WORK/$name.json" --state "$D"
    tw_stop_int "$name"
  else
    "$TW" --events --replay "$WORK/cap/benign.pcap" --alerts "$WORK/$name.json" --state "$D" 2>"$WORK/$name.err"; rc=$?
    [ $rc = 0 ] || fail "$name: exit status $rc: $(cat "$WORK/$name.err")"
  fi
  local msg
  msg=$(grep -v -e "watching" -e "stopped; detached" "$WORK/$name.err")
  [ "$(printf '%s\n' "$msg" | grep -c .)" = 1 ] || fail "$name: not one line: $msg"
  printf '%s\n' "$msg" | grep -q "^tamperwatchd: $D/alerts.state: .*moved aside to $D/alerts.state.corrupt-" ||
    fail "$name: $msg"
  local aside=("$D"/alerts.state.corrupt-*)
  [ ${#aside[@]} = 1 ] && [ -f "${aside[0]}" ] || fail "$name: not set aside: $(ls "$D")"
  cmp -s "$D"/alerts.state.corrupt-* "$WORK/$name.damaged" || fail "$name: the file set aside is not the damaged one"
  state_text "$D" alerts.state >/dev/null || fail "$name: no fresh state file saved at the clean stop"
  ok "$name ($how): ${msg#*: }"
}
faulty live truncated 'truncate -s -7 alerts.state'
faulty replay header 'truncate -s 20 alerts.state'
faulty replay empty ': > alerts.state'
faulty replay flipped 'printf "\x55\xaa" | dd of=alerts.state bs=1 seek=40 conv=notrunc status=none'
faulty replay crc '"$PY" -c "import sys; b=bytearray(open(\"alerts.state\",\"rb\").read()); b[12]^=1; open(\"alerts.state\",\"wb\").write(b)"'
faulty replay foreign 'printf "PK\x03\x04 not ours, but long enough for a header...." > alerts.state'
faulty replay version 'printf "\x02" | dd of=alerts.state bs=1 seek=8 conv=notrunc status=none'

# unreadable: startup stops (status 3, one line naming the file), nothing moved
D=$WORK/st-dir; mkdir -p "$D/alerts.state"
gw "$TW" -i gw-cli --alerts /dev/null --control "$WORK/dir.ctl.sock" --state "$D" 2>"$WORK/dir.err"; rc=$?
[ $rc = 3 ] && [ "$(wc -l <"$WORK/dir.err")" = 1 ] && grep -q "$D/alerts.state: cannot read the state file: Is a directory" "$WORK/dir.err" ||
  fail "state file is a directory: rc $rc: $(cat "$WORK/dir.err")"
[ -d "$D/alerts.state" ] && ! compgen -G "$D/alerts.state.corrupt*" >/dev/null || fail "unreadable state was moved"
ip -n $NS_G -d link show dev gw-cli | grep -q 'prog/xdp' && fail "attached after a failed start"
ok "unreadable (directory): $(cat "$WORK/dir.err")"
if command -v setpriv >/dev/null; then
  D=$WORK/st-perm; mkdir -p "$D"; cp "$SRC" "$D/alerts.state"; chmod 000 "$D/alerts.state"; chown 65534 "$D"
  chmod 755 "$WORK"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$TW" --events --replay "$WORK/cap/benign.pcap" --alerts /dev/null \
    --state "$D" 2>"$WORK/perm.err"; rc=$?
  [ $rc = 3 ] && [ "$(wc -l <"$WORK/perm.err")" = 1 ] &&
    grep -q "$D/alerts.state: cannot read the state file: Permission denied" "$WORK/perm.err" ||
    fail "unreadable (permissions): rc $rc: $(cat "$WORK/perm.err")"
  cmp -s "$SRC" "$D/alerts.state" || fail "unreadable state was changed"
  ok "unreadable (permissions): $(cat "$WORK/perm.err")"
fi
