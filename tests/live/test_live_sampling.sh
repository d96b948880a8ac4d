#!/usr/bin/env bash
# Flow sampling raised and lowered by the daemon itself, end to end on a real
# gateway (docs/configuration.md "Sampling"): tamperwatchd in XDP mode on both
# links of the gateway namespace, with a small event ring buffer
# (events.ring_size=65536), flows.sample_max=2, flows.sample_quiet=6 and a
# stats record every second.  Real HTTP connections to a server started here:
#   A  50 connections at 1 in 1: every one tracked, nothing lost
#   the daemon stopped (SIGSTOP) while 400 connections cross: the ring
#      buffer fills, the kernel counts events lost; SIGCONT: the daemon sees
#      the loss in its next second, doubles the rate to 1 in 2, writes it to
#      the BPF program and logs it
#   B  200 connections at 1 in 2: the program leaves out every flow the hash
#      does not keep at 2 (exactly those: the hash of include/tamperwatch/
#      sample.h computed here over each connection's ports) and counts their
#      packets (packets_not_sampled); the stats record and the Prometheus
#      gauge say 2
#   after 6 s without a lost event the rate is halved back to 1 (logged;
#      stats and gauge say 1, raised 1, lowered 1)
#   C  50 connections at 1 in 1 again: every one tracked
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
need_root
topo_up
PORT_M=9163

# the server: 8081-8084 (one port per phase), a short HTTP answer, close
cat >"$WORK/srv.py" <<'PY'
import socketserver, sys, threading
class H(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(2)
        try:
            self.request.recv(1024)
            self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        except OSError:
            pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
for p in (8081, 8082, 8083, 8084):
    s = socketserver.ThreadingTCPServer(("203.0.113.10", p), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("up", flush=True)
threading.Event().wait()
PY
# the client: N connections to PORT, PACE s apart; the local ports used, one a line
cat >"$WORK/cli.py" <<'PY'
import socket, sys, time
port, n, pace, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ports, bad = [], 0
for i in range(n):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(("203.0.113.10", port))
        ports.append(s.getsockname()[1])
        s.sendall(b"GET / HTTP/1.0\r\nHost: www.lab\r\n\r\n")
        while s.recv(4096):
            pass
    except OSError:
        bad += 1
    s.close()
    if pace:
        time.sleep(pace)
open(out, "w").write("".join(f"{p}\n" for p in ports))
print(f"{len(ports)} connections to {port}, {bad} failed")
sys.exit(1 if bad > n // 20 else 0)
PY
ip netns exec $NS_S python3 "$WORK/srv.py" >"$WORK/srv.log" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do grep -q up "$WORK/srv.log" && break; sleep 0.1; done
grep -q up "$WORK/srv.log" || fail "test server did not start: $(cat "$WORK/srv.log")"

conns() { client python3 "$WORK/cli.py" "$@" || fail "connections to $1: $(cat "$WORK/srv.log")"; }
gauge() {  # the tamperwatch_flow_sampling gauge
  ip netns exec $NS_G curl -s --max-time 3 "http://127.0.0.1:$PORT_M/metrics" |
    sed -n 's/^tamperwatch_flow_sampling{backend="xdp"} //p'
}
# wait up to $2 s for a line matching $1 in the daemon's log
wait_log() {
  local i
  for i in $(seq $(($2 * 10))); do grep -q "$1" "$OUT.stderr" && return 0; sleep 0.1; done
  return 1
}

OUT=$WORK/s.json
T0=$(date +%s)
tw_start "$OUT" -i gw-cli -i gw-srv --mode xdp --set events.ring_size=65536 --set flows.sample_max=2 \
  --set flows.sample_quiet=6 --set output.stats_interval=1 --set metrics.listen=127.0.0.1:$PORT_M \
  --set flows.tcp_closed=1
conns 8081 50 0.02 "$WORK/a.ports"
# a raise waits 5 s after the start (docs/configuration.md "Sampling")
while [ $(($(date +%s) - T0)) -lt 7 ]; do sleep 0.2; done
grep -q "flow sampling raised" "$OUT.stderr" &&
  fail "raised before the daemon was stopped (events lost at 1 connection in 20 ms?): $(cat "$OUT.stderr")"
G=$(gauge)
[ "$G" = 1 ] || fail "tamperwatch_flow_sampling before the loss: '$G': $(ip netns exec $NS_G curl -sS --max-time 3 \
  "http://127.0.0.1:$PORT_M/metrics" 2>&1 | grep -i -m3 'sampl\|curl'); $(cat "$OUT.stderr")"

kill -STOP $TW_PID
conns 8082 400 0 "$WORK/burst.ports"
sleep 0.5
kill -CONT $TW_PID
wait_log "flow sampling raised from 1 in 1 to 1 in 2 flows (events were lost)" 5 ||
  fail "no raise after the loss: $(cat "$OUT.stderr")"
ok "events lost while the daemon was stopped: raised to 1 in 2"

conns 8083 200 0.01 "$WORK/b.ports"
G=$(gauge)
[ "$G" = 2 ] || fail "tamperwatch_flow_sampling while raised: '$G'"
ok "tamperwatch_flow_sampling 2 while raised"
grep -q "lowered" "$OUT.stderr" && fail "lowered too early: $(cat "$OUT.stderr")"
wait_log "flow sampling lowered from 1 in 2 to 1 in 1 flows (no event lost for flows.sample_quiet)" 12 ||
  fail "not lowered after flows.sample_quiet: $(cat "$OUT.stderr")"
ok "lowered to 1 in 1 after 6 quiet seconds"
sleep 1.2 # the metrics snapshot is refreshed once a second
G=$(gauge)
[ "$G" = 1 ] || fail "tamperwatch_flow_sampling after the lowering: '$G'"
conns 8084 50 0.02 "$WORK/c.ports"
sleep 2.5 # the last flows end (flows.tcp_closed=1) and a stats record follows
tw_stop "$OUT"
assert_detached

python3 - "$OUT" "$WORK" <<'PY' || fail "sampling live"
import json, os, struct, sys
out, w = sys.argv[1], sys.argv[2]
ev = [json.loads(l) for l in open(out)]
M = (1 << 64) - 1
def mix(h, x):
    h ^= x
    h = (h * 0xff51afd7ed558ccd) & M
    return h ^ (h >> 32)
def kept(cport, sport, n):
    # include/tamperwatch/sample.h over classify.h's canonical key: the side
    # whose first 8 address bytes read lower (as a little-endian u64) first
    c = bytes([198, 51, 100, 2]) + bytes(12)
    s = bytes([203, 0, 113, 10]) + bytes(12)
    a, pa, b, pb = (c, cport, s, sport)
    if struct.unpack("<Q", c[:8])[0] > struct.unpack("<Q", s[:8])[0]:
        a, pa, b, pb = (s, sport, c, cport)
    h = 0x9e3779b97f4a7c15
    for x in struct.unpack("<QQ", a) + struct.unpack("<QQ", b):
        h = mix(h, x)
    h = mix(h, pa | pb << 16 | 4 << 32 | 6 << 40)
    h = (h * 0xc4ceb9fe1a85ec53) & M
    h ^= h >> 29
    return ((h >> 32) * n) >> 32 == 0
def ports(name):
    return [int(l) for l in open(os.path.join(w, name))]
def tracked(dport):
    return {r["src_port"] for r in ev if r["event_type"] == "handshake" and r["dest_port"] == dport}

a, b, c = ports("a.ports"), ports("b.ports"), ports("c.ports")
ta, tb, tc = tracked(8081), tracked(8083), tracked(8084)
assert ta == set(a), f"A (1 in 1): {len(ta)} of {len(a)} connections tracked"
assert tc == set(c), f"C (1 in 1 again): {len(tc)} of {len(c)} connections tracked"
want = {p for p in b if kept(p, 8083, 2)}
assert 0.3 * len(b) < len(want) < 0.7 * len(b), (len(want), len(b))
assert tb == want, f"B (1 in 2): tracked {len(tb)}, the hash keeps {len(want)}; " \
    f"not kept but tracked {sorted(tb - want)[:5]}, kept but missing {sorted(want - tb)[:5]}"
print(f"A: {len(ta)}/{len(a)} tracked; B at 1 in 2: {len(tb)}/{len(b)} tracked, exactly those the hash keeps; "
      f"C: {len(tc)}/{len(c)} tracked")

st = [r["stats"] for r in ev if r["event_type"] == "stats"]
assert len(st) >= 10, f"{len(st)} stats records"
rates = [s["sampling"]["rate"] for s in st]
# 1 until the loss, 2 while raised, 1 again at the end
first2 = rates.index(2)
last2 = len(rates) - 1 - rates[::-1].index(2)
assert set(rates[:first2]) == {1} and set(rates[first2:last2 + 1]) == {2} and set(rates[last2 + 1:]) == {1}, rates
before, raised, fin = st[first2 - 1], st[first2], st[-1]
assert before["events_lost"] == 0 and before["sampling"]["packets_not_sampled"] == 0, before
assert raised["events_lost"] > 0 and raised["sampling"]["raised"] == 1, raised
assert fin["sampling"] == {**fin["sampling"], "rate": 1, "raised": 1, "lowered": 1}, fin["sampling"]
# the packets of B's flows left out: at least the SYN, the request and the FIN of each
nb = len(b) - len(want)
assert fin["sampling"]["packets_not_sampled"] >= 3 * nb, (fin["sampling"], nb)
print(f"stats: rate {rates[first2 - 1]} -> 2 ({last2 - first2 + 1} records) -> 1; events_lost {fin['events_lost']}; "
      f"packets_not_sampled {fin['sampling']['packets_not_sampled']} for {nb} flows left out")
PY
ok "sampling raised by lost events, enforced in the kernel, lowered after the quiet spell"
