# shellcheck shell=bash
# Shared by tests/outputs/test_nats*.sh: real nats-server processes with
# JetStream on loopback, each with its store in the test's directory $W, and
# the stream read back with nats_dump.py.  The caller runs in its own network
# namespace (nats_own_netns), so the loopback ports are its own, and sets W.
NATS=/usr/sbin/nats-server
[ -x "$NATS" ] || { echo "nats-server not installed (scripts/install-deps.sh)"; exit 77; }
TW=${TW:-build/tamperwatchd}
declare -A NATS_PID=()
# nats_own_netns "$0" "$@": run the calling test again in a private network namespace
nats_own_netns() {
  if [ "${TW_NATS_INNER:-}" != 1 ]; then
    [ "$(id -u)" -eq 0 ] || { echo "needs root (a private network namespace)"; exit 77; }
    TW_NATS_INNER=1 exec unshare -n -- bash "$@"
  fi
  ip link set lo up || exit 1
}
fail() { echo "FAIL: $*" >&2; for f in "$W"/*.err "$W"/ns-*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 8 "$f" >&2; }; done; exit 1; }
ok() { echo "ok: [${SECONDS}s] $*"; }
wait_for() {  # seconds, shell condition
  local i; for i in $(seq $(( $1 * 5 ))); do eval "$2" && return 0; sleep 0.2; done; return 1
}
# ns_start NAME PORT [nats-server options...]: JetStream, store $W/js-NAME, monitoring on PORT+1000
ns_start() {
  local name=$1 port=$2; shift 2
  "$NATS" -a 127.0.0.1 -p "$port" -m $((port + 1000)) -js -sd "$W/js-$name" -n "$name" "$@" \
    >>"$W/ns-$name.log" 2>&1 &
  NATS_PID[$name]=$!
  wait_for 10 "curl -sf 'http://127.0.0.1:$((port + 1000))/healthz?js-enabled-only=true' >/dev/null" \
    || fail "nats-server $name did not become ready"
}
ns_stop() {  # NAME [signal]
  local p=${NATS_PID[$1]:-}
  [ -n "$p" ] || return 0
  kill "-${2:-TERM}" "$p" 2>/dev/null; wait "$p" 2>/dev/null; NATS_PID[$1]=
}
ns_cleanup() { local n; for n in "${!NATS_PID[@]}"; do ns_stop "$n" KILL; done; }
# dump PORT: every message of the stream, one per line (nats_dump.py)
dump() { python3 tests/outputs/nats_dump.py "127.0.0.1:$1" "${STREAM:-TAMPERWATCH}"; }
# final stats' "nats" object of a gateway's log, checked by a python expression over s
nats_stats() {  # LOG EXPR
  python3 - "$1" "$2" <<'PY' || fail "$1: nats stats: $2"
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
s = [x for x in L if x["event_type"] == "stats" and x.get("final")][-1]["stats"]["nats"]
print({k: v for k, v in s.items() if v})
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}
