#!/usr/bin/env bash
# The live default of output.types (docs/configuration.md): attached in TC
# mode to a real gateway carrying HTTP (v4, v6, a 300 kB download) and DNS,
# the log gets only the gateway set (here: stats), every event left out is
# counted in lines_not_selected, and the log grows by under 1 % of the bytes
# the detector watched; the same traffic with --events logs the events, with
# nothing left out; output.types=dns,stats logs exactly those two.
cd "$(dirname "$0")/../.." || exit 1
. tests/live/lib.sh
. tests/live/traffic.sh
need_root
topo_up
run() {  # NAME ARGS...: one daemon around run_traffic
  local n=$1; shift
  tw_start "$WORK/$n.json" -i gw-cli --mode tc "$@"
  run_traffic
  tw_stop "$WORK/$n.json"
}
run default --set output.types=
run events --set output.types= --events
run dns --set output.types=dns,stats
python3 - "$WORK" <<'PY' || fail "output types"
import json, os, sys
w = sys.argv[1]
def load(n): return [json.loads(l) for l in open(os.path.join(w, n + ".json"))]
ev = {"handshake", "payload", "rst", "data_after_rst", "fin", "dns", "flow", "flow_rate"}
d, e, q = load("default"), load("events"), load("dns")
kd = {r["event_type"] for r in d}
assert kd <= {"alert", "tamper", "redirect", "link", "gap", "stats"}, kd
fd = d[-1]["stats"]
assert d[-1]["final"] and fd["lines_not_selected"] >= 10, fd   # the events of the traffic, counted
size = os.path.getsize(os.path.join(w, "default.json"))
ratio = size / fd["bytes"]
print(f"default: {len(d)} records, {size} bytes of log for {fd['bytes']} bytes watched ({100 * ratio:.3f} %), "
      f"{fd['lines_not_selected']} records left out")
assert ratio < 0.01, ratio
ke = [r["event_type"] for r in e]
assert {"handshake", "payload", "fin", "dns", "flow"} <= set(ke), set(ke)
assert e[-1]["stats"]["lines_not_selected"] == 0, e[-1]["stats"]
esize = os.path.getsize(os.path.join(w, "events.json"))
print(f"--events: {len(e)} records, {esize} bytes ({100 * esize / e[-1]['stats']['bytes']:.3f} % of the traffic)")
kq = {r["event_type"] for r in q}
assert kq == {"dns", "stats"}, kq
print(f"dns,stats: {len(q)} records")
PY
assert_detached
ok "output types live"
