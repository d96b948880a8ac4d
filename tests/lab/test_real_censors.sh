#!/usr/bin/env bash
# Censors as the corpus's real ones behave (issue 18), each beside its
# benign look-alike: a request dropped after the handshake and sent once
# (CenTrace) / a hung application whose kernel ACKs; redirect injection
# with the server's TTL copied and IP-ID 0x3412, in-path and racing
# (Citizen Lab, PacketLogic) / a server that redirects to another site
# itself; an endpoint firewall that resets after the server's own reset
# (CenTrace ft.com, not a censor) / a server that resets once; a
# commercial filter's block page (FortiGate), named by the default
# fingerprints.  Verdicts are judged at 0.5, the goal of issue 18.
. "$(dirname "$0")/lib.sh"
lab_up

# strong verdicts (>= 0.5) of METHOD on the truth's targets, at least MIN
# (default 1), none elsewhere; or with METHOD "-": none >= 0.5 at all
strong() { # METHOD [MIN]
  local out
  if out=$("$PY" - "$RUN_DIR" "$1" "${2:-1}" 2>&1 <<'PYEOF'
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["REPO"], "scripts", "lab.d"))
from verdict_match import matches, tampers
d, method, least = sys.argv[1], sys.argv[2], int(sys.argv[3])
truth = json.load(open(os.path.join(d, "truth.json")))
recs = [r for r in tampers(os.path.join(d, "alerts.json")) if r["tamper"]["confidence"] >= 0.5]
entries = [e for e in truth["tamper"] if e["method"] == method]
hits = [r for r in recs if any(matches(r, e) for e in entries)]
wrong = [r for r in recs if r not in hits]
print("%d %s verdicts >= 0.5 on the truth's targets, %d others >= 0.5" % (len(hits), method, len(wrong)),
      [(r["tamper"]["method"], r["tamper"]["confidence"], r["tamper"]["anomalies"], r["dest_ip"], r["src_prefix"])
       for r in wrong][:4])
sys.exit(0 if (len(hits) >= least or method == "-") and not wrong else 1)
PYEOF
  ); then ok "detector: $out"; else bad "detector: $out"; fi
}
export REPO

# ---- (a) a request dropped after the handshake, sent once
lab_run drop-request-once
for n in c1-once-1 c1-once-2 c1-once-3; do assert_out $n connected; assert_out $n no_ack; done
assert_out c2-once "reply"        # region-b: the same request acknowledged and answered
expect_truth 'any(e["action"] == "drop" for e in t["injections"])'
strong blackhole 3              # each of the three region-a clients
expect_alerts

lab_run benign-hung-app
for n in c1-hung-once-1 c1-hung-once-2 c2-hung-once; do assert_out $n "acked"; done
assert_rc c1-hung-curl 28
strong -
expect_alerts

# ---- (b) in-path redirect injection with the server's TTL and IP-ID 0x3412
lab_run inject-307-ttlcopy
for n in c1-http-target-1 c1-http-target-2; do assert_http $n 307; done
assert_http c2-http-target 200; assert_http c1-http-control 200
expect_truth 'all(e["redirect"]["ipid"] == 0x3412 and e["redirect"]["ttl"] == e["redirect"]["server_ttl"] for e in t["injections"] if e.get("redirect"))'
expect_truth 'len([e for e in t["injections"] if e.get("redirect")]) >= 3'
strong http_injection 2         # the IPv4 ones (IPv6 has no IP-ID to repeat)

# ---- (c) on-path redirect injection to a third-party host, downloads only
lab_run inject-redirect-download
for n in c1-download-1 c1-download-2 c1-download-v6; do assert_http $n 307; done
assert_http c1-page 200; assert_http c2-download 200
expect_truth 'all(e["redirect"]["location"].startswith("http://downloads.example/down.php?a=") for e in t["injections"] if e.get("redirect"))'
strong http_injection 2

lab_run benign-redirect
for n in c1-redirect-1 c1-redirect-2 c1-redirect-3 c2-redirect; do assert_http $n 307; done
strong -
expect_alerts

# ---- (d) an endpoint firewall that resets after the server's own reset
lab_run firewall-reset-after-server
for n in c1-fw-1 c1-fw-2 c2-fw-1 c2-fw-2; do assert_out $n reset; assert_out $n "later_resets [1-9]"; done
expect_truth 'len([e for e in t["injections"] if e.get("trigger") == "after_server_rst"]) >= 4'
expect_truth 'all(r["ttl"] == 237 for e in t["injections"] for r in e.get("rsts", []))'
strong -
expect_alerts

lab_run benign-server-abort
strong -
expect_alerts

# ---- (e) a commercial filter's block page, caught by the default fingerprints
lab_run blockpage-fortigate
for n in c1-http-target-1 c1-http-target-2 c1-http-target-v6; do
  assert_http $n 403; assert_body $n "Application Control Violation"
done
assert_http c2-http-target 200
strong http_blockpage 3
grep -q '"fingerprint":"tw.fortigate_appctrl_' "$RUN_DIR/alerts.json" &&
  ok "the default fingerprint set names the FortiGate page (no --fingerprints)" ||
  bad "no tw.fortigate_ fingerprint in the verdicts"
finish
