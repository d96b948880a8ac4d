#!/usr/bin/env bash
# The same in TC mode (clsact ingress+egress on the client-side link only),
# captured with tcpdump on that link meanwhile: replaying the capture gives
# the same flow events as the live run, timestamps aside.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
. tests/live/traffic.sh
need_root
topo_up
ip netns exec $NS_G tcpdump -i gw-cli -s 0 -w "$WORK/gw-cli.pcap" -U >"$WORK/tcpdump.log" 2>&1 &
DUMP=$!
PIDS+=($DUMP)
sleep 1
tw_start "$WORK/tc.json" -i gw-cli --mode tc
tc -n $NS_G filter show dev gw-cli ingress | grep -q tw_tc || fail "no TC ingress filter while running"
run_traffic
tw_stop "$WORK/tc.json"
sleep 0.5
kill -INT $DUMP; wait $DUMP 2>/dev/null
assert_detached
assert_events "$WORK/tc.json"

# Replay the capture with both engines and compare the flow events
"$TW" --events --replay "$WORK/gw-cli.pcap" --alerts "$WORK/replay-user.json" || fail "replay (user)"
"$TW" --events --replay "$WORK/gw-cli.pcap" --replay-engine bpf --alerts "$WORK/replay-bpf.json" || fail "replay (bpf)"
cmp -s "$WORK/replay-user.json" "$WORK/replay-bpf.json" || fail "user and bpf replay differ"
ok "user and bpf replay identical ($(wc -l < "$WORK/replay-user.json") lines)"
python3 - "$WORK/tc.json" "$WORK/replay-user.json" <<'PY' || fail "live and replay events differ"
import json, sys
# what must not depend on when or where: drop times, interface, timing and
# why a flow ended (live ends at SIGINT, replay at the end of the capture)
def norm(path):
    out = []
    for l in open(path):
        r = json.loads(l)
        # flow_rate snapshots are taken at sweep times: a second of wall
        # clock live, of capture time on replay
        if r["event_type"] in ("stats", "flow_rate"):
            continue
        r.pop("timestamp", None); r.pop("in_iface", None)
        r.get("context", {}).pop("since_other_us", None)
        f = r.get("flow", {})
        for k in ("end_reason", "start", "end"):
            f.pop(k, None)
        # FINs crossing at the same instant reach TC and tcpdump's tap in
        # either order: what depends on that order is left out
        if r["event_type"] == "fin":
            f.pop("state", None); r["context"].pop("ack_rel", None)
        # live, steady data packets read the coarse clock (a jiffy, 4 ms,
        # apart); the capture's times are precise: RTT samples differ
        for d in r.get("rate", {}).values():
            d.pop("rtt_min_us", None); d.pop("rtt_max_us", None)
        # a GSO super-packet counts as its segments live, as one frame in a capture
        for d in ("to_server", "to_client"):
            if d in f:
                f[d].pop("pkts", None); f[d].pop("bytes", None)
        out.append(json.dumps(r, sort_keys=True))
    return out
a, b = norm(sys.argv[1]), norm(sys.argv[2])
# flows end in a different order live (sweeps) and on replay (one flush): compare as multisets
from collections import Counter
ca, cb = Counter(a), Counter(b)
if ca != cb:
    print("only live:", *list((ca - cb).elements())[:5], sep="\n")
    print("only replay:", *list((cb - ca).elements())[:5], sep="\n")
    sys.exit(1)
print(f"{len(a)} events identical between live and replay")
PY
ok "live TC run and replay of its capture agree"
