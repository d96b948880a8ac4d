# Shared by the live tests: a client, a gateway and a server namespace joined
# by veth pairs, with a real HTTP server (python3 http.server) and a real DNS
# resolver (unbound) in the server namespace.  Addresses are documentation
# prefixes that exist only inside these namespaces.
#   client 198.51.100.2/24, 2001:db8:1::2/64  -- gw-cli | gw-srv --  server 203.0.113.10/24, 2001:db8:2::10/64
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/unbound.sh"
TW=${TW:-build/tamperwatchd}
P=twl$$                      # namespace prefix, unique per test run
NS_C=$P-cli NS_G=$P-gw NS_S=$P-srv
WORK=$(mktemp -d /tmp/tw-live.XXXXXX)
PIDS=()

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
ok()   { echo "ok: $*"; }

need_root() {
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, BPF)"
  [ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
  command -v unbound >/dev/null || skip "unbound not installed (scripts/install-deps.sh)"
  command -v dig >/dev/null || skip "dig not installed"
}

topo_down() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for ns in $NS_C $NS_G $NS_S; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$WORK"
}

topo_up() {
  trap topo_down EXIT
  for ns in $NS_C $NS_G $NS_S; do ip netns add "$ns" || fail "ip netns add $ns"; ip -n "$ns" link set lo up; done
  ip link add c-eth netns $NS_C type veth peer name gw-cli netns $NS_G
  ip link add s-eth netns $NS_S type veth peer name gw-srv netns $NS_G
  ip -n $NS_C addr add 198.51.100.2/24 dev c-eth
  ip -n $NS_C addr add 2001:db8:1::2/64 dev c-eth nodad
  ip -n $NS_G addr add 198.51.100.1/24 dev gw-cli
  ip -n $NS_G addr add 2001:db8:1::1/64 dev gw-cli nodad
  ip -n $NS_G addr add 203.0.113.1/24 dev gw-srv
  ip -n $NS_G addr add 2001:db8:2::1/64 dev gw-srv nodad
  ip -n $NS_S addr add 203.0.113.10/24 dev s-eth
  ip -n $NS_S addr add 2001:db8:2::10/64 dev s-eth nodad
  for l in "$NS_C c-eth" "$NS_G gw-cli" "$NS_G gw-srv" "$NS_S s-eth"; do set -- $l; ip -n "$1" link set "$2" up; done
  ip -n $NS_C route add default via 198.51.100.1
  ip -n $NS_C -6 route add default via 2001:db8:1::1
  ip -n $NS_S route add default via 203.0.113.1
  ip -n $NS_S -6 route add default via 2001:db8:2::1
  ip netns exec $NS_G sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # GRO on the gateway's veths, as on a real router: TC then sees super-packets
  mkdir -p "$WORK/www"
  head -c 300000 /dev/urandom > "$WORK/www/big.bin"
  echo "hello from the lab" > "$WORK/www/index.html"
  ip netns exec $NS_S python3 -m http.server 80 --bind :: --directory "$WORK/www" >"$WORK/http.log" 2>&1 &
  PIDS+=($!)
  unbound_start $NS_S "$WORK" lab. 203.0.113.10 -- \
    "www.lab. 60 IN A 203.0.113.10" "www.lab. 60 IN AAAA 2001:db8:2::10"
  for i in $(seq 50); do
    ip netns exec $NS_C timeout 1 dig +short +tries=1 +time=1 @203.0.113.10 www.lab A >/dev/null 2>&1 &&
      ip netns exec $NS_C timeout 1 curl -s -o /dev/null http://203.0.113.10/ && return 0
    sleep 0.2
  done
  fail "lab servers did not come up: $(tail -3 "$WORK/unbound.log" "$WORK/http.log")"
}

# start the daemon in the gateway: tw_start OUTFILE ARGS...
# (a control socket of its own unless ARGS name one: tests run side by side)
tw_start() {
  local out=$1; shift
  local ctl=(--control "$out.ctl.sock")
  case " $* " in *" --control "*) ctl=() ;; esac
  # the tests read the per-packet events: on unless ARGS choose output.types
  local ev=(--events)
  case " $* " in *output.types=*) ev=() ;; esac
  ip netns exec $NS_G "$TW" --alerts "$out" --set output.stats_interval=0 "${ctl[@]}" "${ev[@]}" "$@" 2>"$out.stderr" &
  TW_PID=$!
  for i in $(seq 50); do
    grep -q "watching" "$out.stderr" 2>/dev/null && return 0
    kill -0 $TW_PID 2>/dev/null || fail "tamperwatchd exited: $(cat "$out.stderr")"
    sleep 0.1
  done
  fail "tamperwatchd did not attach: $(cat "$out.stderr")"
}

tw_stop() {
  kill -INT $TW_PID
  local i
  for i in $(seq 100); do kill -0 $TW_PID 2>/dev/null || break; sleep 0.1; done
  kill -0 $TW_PID 2>/dev/null && fail "tamperwatchd did not exit on SIGINT"
  wait $TW_PID || fail "tamperwatchd exited with status $?: $(cat "$1.stderr")"
}

# nothing of ours left on the gateway's links
assert_detached() {
  for dev in gw-cli gw-srv; do
    ip -n $NS_G -d link show dev $dev | grep -q 'prog/xdp' && fail "$dev still has an XDP program"
    [ -z "$(tc -n $NS_G filter show dev $dev ingress 2>/dev/null)" ] || fail "$dev still has a TC ingress filter"
    [ -z "$(tc -n $NS_G filter show dev $dev egress 2>/dev/null)" ] || fail "$dev still has a TC egress filter"
    tc -n $NS_G qdisc show dev $dev | grep -q clsact && fail "$dev still has the clsact qdisc we created"
  done
  [ -z "$(ls /sys/fs/bpf 2>/dev/null | grep -i tamperwatch)" ] || fail "something pinned under /sys/fs/bpf"
  ok "nothing left attached or pinned"
}

client() { ip netns exec $NS_C "$@"; }

# count JSON lines matching python expression on record r
count_where() {
  python3 - "$1" "$2" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if eval(sys.argv[2], {}, {"r": r}):
        n += 1
print(n)
PY
}

# ---- QUIC (ngtcp2's gtlsclient and gtlsserver, Debian's ngtcp2-client and
# ngtcp2-server): need_quic skips without them; quic_server_start starts
# gtlsserver at 203.0.113.10:443 with a fresh certificate, serving $WORK/www
need_quic() {
  command -v gtlsclient >/dev/null && command -v gtlsserver >/dev/null ||
    skip "ngtcp2-client / ngtcp2-server not installed (scripts/install-deps.sh)"
}
quic_server_start() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -days 1 -subj /CN=www.lab >/dev/null 2>&1 || fail "openssl certificate"
  ip netns exec $NS_S gtlsserver --quiet -d "$WORK/www" 203.0.113.10 443 "$WORK/key.pem" "$WORK/cert.pem" \
    >"$WORK/quic-server.log" 2>&1 &
  PIDS+=($!)
}
# quic NAME [extra gtlsclient args]: 0 if the download of /index.html worked
# (NAME is the SNI: it resolves through /etc/netns/$NS_C/hosts)
quic() {
  local sni=$1; shift
  rm -f "$WORK/dl/index.html"; mkdir -p "$WORK/dl"
  client timeout 6 gtlsclient --quiet --exit-on-all-streams-close --handshake-timeout=3s \
    --download="$WORK/dl" "$@" "$sni" 443 "https://$sni/index.html" >>"$WORK/quic-client.log" 2>&1 &&
    cmp -s "$WORK/dl/index.html" "$WORK/www/index.html"
}
