#!/usr/bin/env bash
# Flow sampling on the lab's real censor (docs/configuration.md "Sampling"):
# the on-path RST injector against blocked.example:80, six rounds (18
# tampered flows from region-a), run unsampled and at 1 in 2.  Both raise the
# same alerts (target, port, method); at 1 in 2 every alert and tamper record
# says `sampling: 2`, fewer tamper records are written, and the stats record
# counts the packets left out.  The lab's clients take ephemeral ports, so
# which flows are kept varies from run to run: with 18 tampered flows, fewer
# than the two an alert needs seen at 1 in 2 has a chance of 19 in 2^18.
. "$(dirname "$0")/lib.sh"
lab_up

DA=(--daemon-arg --set --daemon-arg flows.tcp_closed=1 --daemon-arg --set --daemon-arg flows.tcp_idle=4
    --daemon-arg --set --daemon-arg flows.udp_idle=2)
BASE=$LAB_OUT
for n in 1 2; do
  LAB_OUT=$BASE/sample$n
  lab_run rst-onpath-http "${DA[@]}" --daemon-arg --set --daemon-arg flows.sample=$n --rounds 6
  cp "$RUN_DIR/alerts.json" "$BASE/alerts.$n.json" 2>/dev/null || bad "1 in $n: no alerts.json"
done
LAB_OUT=$BASE
if r=$("$PY" - "$BASE/alerts.1.json" "$BASE/alerts.2.json" <<'PY'
import json, sys
def load(p):
    return [json.loads(l) for l in open(p) if l.strip()]
def raised(L):
    return sorted({(a["target"]["domain"] or a["target"]["ip"], a["target"]["port"], a["censorship"]["method"])
                   for a in L if a["event_type"] == "alert" and a["alert"]["state"] == "raised"})
one, two = load(sys.argv[1]), load(sys.argv[2])
assert raised(one) == [("blocked.example", 80, "rst_injection")], raised(one)
assert raised(two) == raised(one), (raised(two), raised(one))
for n, L in ((1, one), (2, two)):
    for r in L:
        if r["event_type"] == "alert":
            assert r["censorship"]["sampling"] == n, (n, r["censorship"])
        if r["event_type"] == "tamper":
            assert r["tamper"]["sampling"] == n, (n, r["tamper"])
    S = [r["stats"] for r in L if r["event_type"] == "stats"]
    if S:
        assert S[-1]["sampling"]["rate"] == n, (n, S[-1]["sampling"])
        assert (S[-1]["sampling"]["packets_not_sampled"] > 0) == (n > 1), (n, S[-1]["sampling"])
t1 = sum(r["event_type"] == "tamper" for r in one)
t2 = sum(r["event_type"] == "tamper" for r in two)
assert 0 < t2 < t1, ("tamper records", t1, t2)
print(f"{raised(one)} unsampled and at 1 in 2; tamper records {t1} and {t2}")
PY
); then ok "sampling: $r"; else bad "sampling: $r"; fi
finish
