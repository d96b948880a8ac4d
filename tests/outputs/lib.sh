# shellcheck shell=bash
# Shared by tests/outputs/test_restart.sh and test_leak.sh: a censored path
# built in network namespaces this test creates (names $P-*, unique per run),
# tamperwatchd live in the gateway, the lab's censor emulator on the path.
#
#   cli ── c-eth | gw-cli ── gw ── gw-up | cen-gw ── cen ── cen-srv | s-eth ── srv
#   clients         (tamperwatchd, XDP on     (scripts/lab.d/censor.py:    python3 http.server,
#   CLIENTS4/6       gw-cli and gw-up)         on-path RSTs, delay line)    unbound
#
# The censor sits nearer the client than the server and holds the server's
# packets for 30 ms, so its forged RST beats the real answer (as in the lab).
# Addresses are documentation prefixes that exist only inside the namespaces.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
. tests/lib/unbound.sh
. tests/lib/alertmanager.sh
TW=${TW:-build/tamperwatchd}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3   # not a pyenv shim: 1 s a call on a busy machine
P=${TW_NS_PREFIX:-rst6}-$$
NS_C=$P-cli NS_G=$P-gw NS_X=$P-cen NS_S=$P-srv
WORK=$(mktemp -d /tmp/tw-outputs.XXXXXX)
PIDS=()
CENSOR_PID=""
TW_PID=""
SRV4=203.0.113.10 SRV6=2001:db8:2::10
# every client address the tests use: the leak test searches for each
CLIENTS4=(198.51.100.2 198.51.100.77)
CLIENTS6=(2001:db8:1::2 2001:db8:1:0:abcd::7)

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
ok()   { echo "ok: [${SECONDS}s] $*"; }
cli()  { ip netns exec "$NS_C" "$@"; }
gw()   { ip netns exec "$NS_G" "$@"; }

need_root() {
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, BPF)"
  [ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
  local c
  for c in iptables ip6tables tcpdump curl unbound dig "$PY"; do
    command -v "$c" >/dev/null || skip "$c not installed (scripts/install-deps.sh)"
  done
  [ -x "$TW" ] || fail "$TW not built (make)"
}

topo_down() {
  [ -n "$TW_PID" ] && kill -9 "$TW_PID" 2>/dev/null
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for ns in $NS_C $NS_G $NS_X $NS_S; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}

topo_up() {
  trap topo_down EXIT
  local ns
  for ns in $NS_C $NS_G $NS_X $NS_S; do
    ip netns add "$ns" || fail "ip netns add $ns"
    ip -n "$ns" link set lo up
  done
  ip link add c-eth netns $NS_C type veth peer name gw-cli netns $NS_G
  ip link add gw-up netns $NS_G type veth peer name cen-gw netns $NS_X
  ip link add cen-srv netns $NS_X type veth peer name s-eth netns $NS_S
  local a
  for a in "${CLIENTS4[@]}"; do ip -n $NS_C addr add "$a/24" dev c-eth; done
  for a in "${CLIENTS6[@]}"; do ip -n $NS_C addr add "$a/64" dev c-eth nodad; done
  ip -n $NS_G addr add 198.51.100.1/24 dev gw-cli
  ip -n $NS_G addr add 2001:db8:1::1/64 dev gw-cli nodad
  ip -n $NS_G addr add 100.64.0.1/30 dev gw-up
  ip -n $NS_G addr add fd00:64::1/64 dev gw-up nodad
  ip -n $NS_X addr add 100.64.0.2/30 dev cen-gw
  ip -n $NS_X addr add fd00:64::2/64 dev cen-gw nodad
  ip -n $NS_X addr add 203.0.113.1/24 dev cen-srv
  ip -n $NS_X addr add 2001:db8:2::1/64 dev cen-srv nodad
  ip -n $NS_S addr add $SRV4/24 dev s-eth
  ip -n $NS_S addr add $SRV6/64 dev s-eth nodad
  local l
  for l in "$NS_C c-eth" "$NS_G gw-cli" "$NS_G gw-up" "$NS_X cen-gw" "$NS_X cen-srv" "$NS_S s-eth"; do
    set -- $l; ip -n "$1" link set "$2" up
  done
  ip -n $NS_C route add default via 198.51.100.1
  ip -n $NS_C -6 route add default via 2001:db8:1::1
  ip -n $NS_G route add default via 100.64.0.2
  ip -n $NS_G -6 route add default via fd00:64::2
  ip -n $NS_X route add 198.51.100.0/24 via 100.64.0.1
  ip -n $NS_X -6 route add 2001:db8:1::/64 via fd00:64::1
  ip -n $NS_S route add default via 203.0.113.1
  ip -n $NS_S -6 route add default via 2001:db8:2::1
  for ns in $NS_G $NS_X; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  done
  mkdir -p "$WORK/www"
  echo "the real blocked.example" > "$WORK/www/index.html"
  ip netns exec $NS_S "$PY" -m http.server 80 --bind :: --directory "$WORK/www" >"$WORK/http.log" 2>&1 &
  PIDS+=($!)
  unbound_start $NS_S "$WORK" example. $SRV4 $SRV6 -- \
    "blocked.example. 60 IN A $SRV4" "blocked.example. 60 IN AAAA $SRV6"
  for _ in $(seq 50); do
    cli timeout 1 dig +short +tries=1 +time=1 @$SRV4 blocked.example A >/dev/null 2>&1 &&
      cli timeout 1 curl -s -o /dev/null http://$SRV4/ &&
      cli timeout 1 curl -s -g -o /dev/null "http://[$SRV6]/" && return 0
    sleep 0.2
  done
  fail "servers did not come up: $(tail -3 "$WORK/unbound.log" "$WORK/http.log")"
}

# censor_on DOMAIN...: on-path GFW type-1 RSTs on the HTTP Host, for every
# client; the server's packets to clients held 30 ms (censor.py queue 1)
censor_on() {
  local hosts="" d
  for d in "$@"; do hosts+="${hosts:+,}\"$d\""; done
  printf '[{"name":"outputs","action":"rst","path":"on","style":"single","http_host":[%s],"ports":[80],"to_server":true}]\n' \
    "$hosts" >"$WORK/censor-rules.json"
  ip netns exec $NS_X iptables -w -A FORWARD -s $SRV4 -d 198.51.100.0/24 -j NFQUEUE --queue-num 1 --queue-bypass
  ip netns exec $NS_X ip6tables -w -A FORWARD -s $SRV6 -d 2001:db8:1::/64 -j NFQUEUE --queue-num 1 --queue-bypass
  rm -f "$WORK/censor.ready"
  ip netns exec $NS_X "$PY" scripts/lab.d/censor.py --rules "$WORK/censor-rules.json" \
    --log "$WORK/censor-events.jsonl" --ready "$WORK/censor.ready" --tap cen-gw --queue --delay-ms 30 \
    >"$WORK/censor.log" 2>&1 </dev/null &
  CENSOR_PID=$!
  PIDS+=("$CENSOR_PID")
  for _ in $(seq 50); do [ -e "$WORK/censor.ready" ] && return 0; sleep 0.1; done
  fail "censor did not start: $(cat "$WORK/censor.log")"
}

censor_off() {
  [ -n "$CENSOR_PID" ] && kill -TERM "$CENSOR_PID" 2>/dev/null && wait "$CENSOR_PID" 2>/dev/null
  CENSOR_PID=""
  ip netns exec $NS_X iptables -w -F FORWARD
  ip netns exec $NS_X ip6tables -w -F FORWARD
}

# fetch ADDR [DOMAIN]: one HTTP request from client address ADDR with Host
# DOMAIN (blocked.example) to the server's address of the same family;
# prints curl's exit status (0 answered, 56 reset)
fetch() {
  local src=$1 host=${2:-blocked.example} url=http://$SRV4/
  [[ $src == *:* ]] && url="http://[$SRV6]/"
  cli timeout 5 curl -s -g -o /dev/null -m 3 --interface "$src" -H "Host: $host" "$url"
  echo $?
}

# every client address asks the resolver once (UDP flows)
dns_all() {
  local a
  for a in "${CLIENTS4[@]}"; do cli timeout 3 dig +short +tries=1 +time=1 -b "$a" @$SRV4 blocked.example A >/dev/null; done
  for a in "${CLIENTS6[@]}"; do cli timeout 3 dig +short +tries=1 +time=1 -b "$a" @$SRV6 blocked.example AAAA >/dev/null; done
}

# the daemon: tw_start NAME ARGS... (live on both gateway links; stderr to
# $WORK/NAME.err; TW_PID); tw_stop_int checks a clean exit; tw_kill9
tw_start() {
  local name=$1; shift
  # not through gw(): TW_PID must be the daemon, not a subshell around it
  # every record type (--events): the leak test reads the events too
  ip netns exec "$NS_G" "$TW" -i gw-cli -i gw-up --mode xdp --control "$WORK/$name.ctl.sock" --events "$@" 2>"$WORK/$name.err" &
  TW_PID=$!
  for _ in $(seq 100); do
    [ "$(grep -c "watching" "$WORK/$name.err" 2>/dev/null)" = 2 ] && return 0
    kill -0 $TW_PID 2>/dev/null || fail "tamperwatchd ($name) exited: $(cat "$WORK/$name.err")"
    sleep 0.1
  done
  fail "tamperwatchd ($name) did not attach: $(cat "$WORK/$name.err")"
}

tw_stop_int() {
  local name=$1 rc
  kill -INT $TW_PID
  for _ in $(seq 100); do kill -0 $TW_PID 2>/dev/null || break; sleep 0.1; done
  kill -0 $TW_PID 2>/dev/null && fail "tamperwatchd ($name) did not exit on SIGINT"
  wait $TW_PID; rc=$?
  TW_PID=""
  [ $rc = 0 ] || fail "tamperwatchd ($name) exited with status $rc: $(cat "$WORK/$name.err")"
}

tw_kill9() {
  kill -9 $TW_PID
  wait $TW_PID 2>/dev/null
  TW_PID=""
}

# wait_alert LOG PYEXPR [SECONDS]: until PYEXPR holds over A (the alert
# records of LOG, in order); prints them on timeout
wait_alert() {
  local log=$1 expr=$2 secs=${3:-15}
  for _ in $(seq $((secs * 5))); do
    alerts_py "$log" "$expr" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  alerts_py "$log" "print(A)" >&2
  echo "censor: $(tail -c 2000 "$WORK/censor.log" 2>/dev/null)" >&2
  "$PY" - "$log" >&2 <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("event_type") in ("tamper", "verdict") or "tamper" in r:
        print("verdict:", json.dumps(r)[:400])
PY
  fail "timed out waiting for: $expr"
}
alerts_py() {
  "$PY" - "$1" "$2" <<'PY'
import json, sys
A = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("event_type") == "alert":
        A.append(r)
S = [a["alert"]["state"] for a in A]
r = eval(sys.argv[2])
sys.exit(0 if r or r is None else 1)
PY
}

# state_text DIR NAME: the body of a state file, decompressed by Python's
# zlib from the header layout of daemon/util/state.h (an independent reader)
state_text() {
  "$PY" - "$1/$2" <<'PY'
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
magic, ver, crc, raw, clen = struct.unpack("<8sIIQQ", b[:32])
assert magic == b"TWSTATE\0" and ver == 1, (magic, ver)
body = zlib.decompress(b[32:32 + clen])
assert len(body) == raw and zlib.crc32(body) == crc and len(b) == 32 + clen
sys.stdout.write(body.decode())
PY
}
