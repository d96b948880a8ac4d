#!/usr/bin/env bash
# bench_live: a veth gateway in network namespaces (client -- gateway --
# server), iperf3 with 4 parallel streams from the client to the server
# through the gateway, throughput and CPU:
#   none       no program on the gateway's veths
#   empty_xdp  bpf/bench_empty.bpf.c's bench_empty_xdp (XDP_PASS at once,
#              xdp.frags like tw_xdp) on both gateway veths, native mode,
#              attached by bench/xdp_attach.c (built here): what any XDP
#              program costs on this link
#   tw_xdp     tamperwatchd --mode xdp -i gw-cli -i gw-srv (native XDP on
#              both: each packet seen once, at its ingress)
#   tw_tc      tamperwatchd --mode tc -i gw-cli (clsact ingress + egress:
#              each packet seen once, both directions)
# Ratios: tw_xdp against empty_xdp, tw_tc against none (target >= 0.95).
# GRO is on on the gateway's veths in every configuration, as on a router.
#
# Each run lasts BENCH_LIVE_SECONDS (default 10) after a 1 s iperf3 warm-up
# it omits; BENCH_LIVE_RUNS rounds (default 3), the configurations
# interleaved within a round; median reported.  CPU: iperf3's own (sender
# and receiver processes, where veth's softirq work is accounted) and the
# whole machine's busy share from /proc/stat (other load on the machine
# shows there too).
#
# Takes the machine-wide namespace lock (/tmp/tw-netns.lock) for the whole
# run, unless TW_NETNS_LOCK_HELD=1 says the caller holds it.  Sends packets
# only inside the namespaces it creates.  Exit 0 whatever the figures, 77
# when something it needs is missing, 1 when the set-up fails.  Figures go
# to build/bench/bench_live.results (bench/results.sh).
set -u
cd "$(dirname "$0")/.." || exit 1

B=build/bench
TW=build/tamperwatchd
EMPTY=build/bpf/bench_empty.bpf.o
SECS=${BENCH_LIVE_SECONDS:-10}
RUNS=${BENCH_LIVE_RUNS:-3}
TARGET=0.95
CONFIGS=(none empty_xdp tw_xdp tw_tc)

skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "needs root (namespaces, XDP)"
command -v iperf3 >/dev/null || skip "iperf3 not installed (Debian: iperf3; scripts/install-deps.sh)"
command -v python3 >/dev/null || skip "python3 not installed"
[ -x "$TW" ] && [ -s "$EMPTY" ] || skip "$TW or $EMPTY not built (run make)"
ATTACH=$B/xdp_attach
mkdir -p "$B"
if [ ! -x "$ATTACH" ] || [ bench/xdp_attach.c -nt "$ATTACH" ]; then
  ${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror bench/xdp_attach.c -o "$ATTACH" $(pkg-config --cflags --libs libbpf) ||
    die "cannot build bench/xdp_attach.c"
fi
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"

if [ "${TW_NETNS_LOCK_HELD:-0}" != 1 ]; then
  exec 9>/tmp/tw-netns.lock
  flock 9
fi

P=twb$$
NS_C=$P-cli NS_G=$P-gw NS_S=$P-srv
WORK=$(mktemp -d /tmp/tw-bench-live.XXXXXX)
IPERF_PID= TW_PID=
down() {
  [ -n "$TW_PID" ] && kill "$TW_PID" 2>/dev/null && wait "$TW_PID" 2>/dev/null
  [ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null
  for ns in $NS_C $NS_G $NS_S; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap down EXIT

for ns in $NS_C $NS_G $NS_S; do ip netns add "$ns" || die "ip netns add $ns"; ip -n "$ns" link set lo up; done
ip link add c-eth netns $NS_C type veth peer name gw-cli netns $NS_G || die "veth"
ip link add s-eth netns $NS_S type veth peer name gw-srv netns $NS_G || die "veth"
ip -n $NS_C addr add 198.51.100.2/24 dev c-eth
ip -n $NS_G addr add 198.51.100.1/24 dev gw-cli
ip -n $NS_G addr add 203.0.113.1/24 dev gw-srv
ip -n $NS_S addr add 203.0.113.10/24 dev s-eth
for l in "$NS_C c-eth" "$NS_G gw-cli" "$NS_G gw-srv" "$NS_S s-eth"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n $NS_C route add default via 198.51.100.1
ip -n $NS_S route add default via 203.0.113.1
ip netns exec $NS_G sysctl -qw net.ipv4.ip_forward=1
for d in gw-cli gw-srv; do ip netns exec $NS_G ethtool -K $d gro on >/dev/null 2>&1; done
ip netns exec $NS_S iperf3 -s -B 203.0.113.10 >"$WORK/iperf3-server.log" 2>&1 &
IPERF_PID=$!
for i in $(seq 50); do
  ip netns exec $NS_C iperf3 -c 203.0.113.10 -t 1 -P 1 >/dev/null 2>&1 && break
  [ "$i" -eq 50 ] && die "iperf3 server did not come up: $(cat "$WORK/iperf3-server.log")"
  sleep 0.2
done

# busy and total jiffies of the whole machine
cpu_jiffies() { awk '/^cpu / {b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6}' /proc/stat; }

config_up() {
  case $1 in
    none) ;;
    empty_xdp)
      ip netns exec $NS_G "$ATTACH" "$EMPTY" gw-cli gw-srv || die "cannot attach $EMPTY" ;;
    tw_xdp | tw_tc)
      local args=(--mode xdp -i gw-cli -i gw-srv)
      [ "$1" = tw_tc ] && args=(--mode tc -i gw-cli)
      ip netns exec $NS_G "$TW" "${args[@]}" --alerts "$WORK/$1.json" --control "$WORK/ctl.sock" \
        --set output.stats_interval=0 2>"$WORK/$1.stderr" &
      TW_PID=$!
      for i in $(seq 100); do
        grep -q watching "$WORK/$1.stderr" 2>/dev/null && break
        kill -0 $TW_PID 2>/dev/null || die "tamperwatchd exited: $(cat "$WORK/$1.stderr")"
        [ "$i" -eq 100 ] && die "tamperwatchd did not attach: $(cat "$WORK/$1.stderr")"
        sleep 0.1
      done
      if [ "$1" = tw_xdp ] && ! ip -n $NS_G link show gw-cli | grep -q 'xdp '; then
        die "tamperwatchd --mode xdp did not attach in native mode: $(ip -n $NS_G link show gw-cli)"
      fi ;;
  esac
}

config_down() {
  case $1 in
    empty_xdp) for d in gw-cli gw-srv; do ip -n $NS_G link set dev $d xdpdrv off; done ;;
    tw_xdp | tw_tc)
      kill -INT $TW_PID; wait $TW_PID; TW_PID=
      rm -f "$WORK/ctl.sock" ;;
  esac
}

# one run: "gbps iperf_cpu_sender iperf_cpu_receiver machine_busy_pct"
one_run() {
  local j0 j1 out=$WORK/run.json
  j0=$(cpu_jiffies)
  ip netns exec $NS_C iperf3 -c 203.0.113.10 -P 4 -t "$SECS" -O 1 -J >"$out" 2>&1 || { echo "iperf3 failed: $(tail -3 "$out")" >&2; return 1; }
  j1=$(cpu_jiffies)
  python3 - "$out" "$j0" "$j1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = r["end"]
b0, t0 = map(int, sys.argv[2].split()); b1, t1 = map(int, sys.argv[3].split())
cpu = e.get("cpu_utilization_percent", {})
print("%.3f %.1f %.1f %.1f" % (e["sum_received"]["bits_per_second"] / 1e9, cpu.get("host_total", 0),
      cpu.get("remote_total", 0), 100.0 * (b1 - b0) / max(1, t1 - t0)))
PY
}

declare -A ALL
for ((r = 0; r < RUNS; r++)); do
  for c in "${CONFIGS[@]}"; do
    config_up "$c"
    line=$(one_run) || die "iperf3 run failed ($c)"
    config_down "$c"
    ALL[$c]+="$line"$'\n'
  done
done
grep -h '"event_type":"stats"' "$WORK"/tw_*.json 2>/dev/null | tail -n 2 > "$WORK/stats.txt"

# median of column $2 of the runs of configuration $1
med() { printf '%s' "${ALL[$1]}" | awk -v k="$2" 'NF {print $k}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "bench_live: veth gateway in namespaces, iperf3 -P 4, ${SECS} s per run (1 s warm-up omitted),"
echo "median of $RUNS runs, configurations interleaved; kernel $(uname -r); $(nproc) CPUs"
echo
printf '%-12s %10s %14s %14s %14s\n' config "Gbit/s" "iperf3 snd%" "iperf3 rcv%" "machine busy%"
for c in "${CONFIGS[@]}"; do
  printf '%-12s %10.2f %14.1f %14.1f %14.1f\n' "$c" "$(med $c 1)" "$(med $c 2)" "$(med $c 3)" "$(med $c 4)"
done
echo
echo "runs (Gbit/s):"
for c in "${CONFIGS[@]}"; do echo "  $c: $(printf '%s' "${ALL[$c]}" | awk 'NF {printf "%s ", $1}')"; done
echo
RES=$B/bench_live.results
mkdir -p "$B"
: > "$RES"
report() { # name workload value baseline
  local ratio met
  ratio=$(awk -v a="$3" -v b="$4" 'BEGIN {printf "%.3f", (b > 0) ? a / b : 0}')
  met=$(awk -v r="$ratio" -v t="$TARGET" 'BEGIN {print (r >= t) ? "true" : "false"}')
  echo "target: $1 >= $TARGET: $ratio: $([ "$met" = true ] && echo "TARGET MET" || echo "TARGET MISSED")"
  printf '{"figure":"%s","workload":"%s","value":%s,"unit":"Gbit/s","baseline":%s,"ratio":%s,"target":">= %s","met":%s}\n' \
    "$1" "$2" "$3" "$4" "$ratio" "$TARGET" "$met" >> "$RES"
}
W="bench_live: veth gateway, iperf3 -P 4, $SECS s x $RUNS runs, median"
report "live throughput, TC: tamperwatchd / no program" "$W" "$(med tw_tc 1)" "$(med none 1)"
report "live throughput, XDP: tamperwatchd / empty XDP program" "$W" "$(med tw_xdp 1)" "$(med empty_xdp 1)"
awk -v a="$(med empty_xdp 1)" -v b="$(med none 1)" 'BEGIN {printf "context: empty XDP / no program: %.3f\n", (b > 0) ? a / b : 0}'
if [ -s "$WORK/stats.txt" ]; then
  echo "tamperwatchd's last stats lines (packets seen, losses):"
  sed 's/^/  /' "$WORK/stats.txt" | cut -c1-400
fi
exit 0
