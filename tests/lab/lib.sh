# shellcheck shell=bash
# Helpers for tests/lab/test_*.sh (source it first thing).  A test file:
#
#   . "$(dirname "$0")/lib.sh"
#   lab_up                                  # skips (77) when the lab cannot run here
#   lab_run rst-onpath-http                 # runs the scenario, validates truth.json
#   assert_rc c1-http-target-1 56           # client NAME's exit status
#   assert_err c1-http-target-1 "reset by peer"
#   expect_truth '.tamper[0].method == "rst_injection"'    # python expression on truth (t)
#   alerts_of rst_injection | grep -q blocked.example       # detector lines
#   expect_alerts rst_injection@blocked.example:80/tcp --resolved recovered
#   finish
#
# lab_down runs on exit.  Results: build/lab/tests/<test>/<scenario>/.
set -u
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO" || exit 1
LAB=$REPO/scripts/lab
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
TEST_NAME=$(basename "$0" .sh)
LAB_OUT=${LAB_OUT:-$REPO/build/lab/tests/$TEST_NAME}
RUN_DIR=""
FAILS=0
CHECKS=0
T0=$SECONDS

skip() { echo "SKIP: $*"; echo "$*"; exit 77; }
note() { echo "# $*"; }
ok()   { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
bad()  { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }

lab_require() {
  [ "$(id -u)" -eq 0 ] || skip "lab tests need root"
  local c
  for c in ip nft iptables ip6tables tc nginx unbound dig curl openssl timeout "$PY"; do
    command -v "$c" >/dev/null 2>&1 || skip "missing $c"
  done
  ip netns add tw-probe-$$ 2>/dev/null || skip "cannot create network namespaces"
  ip netns del tw-probe-$$
}

lab_up() {
  lab_require
  trap lab_down EXIT
  mkdir -p "$LAB_OUT"
  if ! timeout 60 "$LAB" up; then
    echo "FAIL lab up"; "$LAB" down; exit 1
  fi
}
lab_down() { timeout 60 "$LAB" down; }

# lab_run SCENARIO [scripts/lab run options]: sets RUN_DIR
lab_run() {
  local s=$1; shift
  RUN_DIR=$LAB_OUT/$s
  note "scenario $s"
  timeout 120 "$LAB" run "$s" --out "$RUN_DIR" "$@" || bad "$s: scripts/lab run exited $?"
  if "$PY" -m json.tool "$RUN_DIR/truth.json" >/dev/null 2>&1; then ok "$s: truth.json is valid JSON"
  else bad "$s: truth.json missing or invalid"; fi
}

# expect_truth 'python expression over t (the truth object)' [DIR]
expect_truth() {
  local expr=$1 dir=${2:-$RUN_DIR}
  if "$PY" - "$dir/truth.json" "$expr" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {"t": t, "any": any, "all": all, "len": len}) else 1)
EOF
  then ok "truth: $expr"; else bad "truth: $expr"; fi
}

# detector output: alert/tamper lines of one method (rst_injection, blackhole,
# dns_injection, http_blockpage, tls_interference, throttling, shutdown)
alerts_of() {
  local method=$1 dir=${2:-$RUN_DIR}
  [ -s "$dir/alerts.json" ] || return 0
  "$PY" - "$dir/alerts.json" "$method" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    m = (o.get("censorship") or {}).get("method") or (o.get("tamper") or {}).get("method")
    if m == sys.argv[2]:
        print(line.rstrip("\n"))
EOF
}

# ---- detector verdicts against the ground truth (scripts/lab.d/verdict_match.py)
expect_detected() { # METHOD: a tamper record of METHOD on a tampered target, none elsewhere
  local out
  if out=$("$PY" "$REPO/scripts/lab.d/verdict_match.py" "$RUN_DIR" detected "$1" 2>&1); then ok "detector: $out"
  else bad "detector: $out"; fi
}
expect_quiet() { # benign scenario: no tamper record at all
  local out
  if out=$("$PY" "$REPO/scripts/lab.d/verdict_match.py" "$RUN_DIR" quiet 2>&1); then ok "detector: no tamper verdict"
  else bad "detector: $out"; fi
}

# ---- detector alerts (tests/lab/alert_check.py): EXPECT is
# METHOD@TARGET:PORT/PROTO[=recovered|quiet|open]; none = no alert at all
expect_alerts() { # [EXPECT]... [--declared REF] [--resolved recovered|quiet|open]
  local line
  while IFS= read -r line; do
    case $line in
      "ok   "*) ok "alerts: ${line#ok   }" ;;
      "FAIL "*) bad "alerts: ${line#FAIL }" ;;
      *) bad "alerts: $line" ;;
    esac
  done < <("$PY" "$REPO/tests/lab/alert_check.py" "$RUN_DIR" "$@" 2>&1)
}

# ---- client observations (from scripts/lab.d/scenarios.sh `obs`)
client_rc()   { cat "$RUN_DIR/clients/$1.rc" 2>/dev/null || echo missing; }
client_out()  { cat "$RUN_DIR/clients/$1.out" 2>/dev/null; }
client_err()  { cat "$RUN_DIR/clients/$1.err" 2>/dev/null; }
client_body() { cat "$RUN_DIR/clients/$1.body" 2>/dev/null; }
# curl -w fields: code size connect appconnect total speed
curl_field()  { client_out "$1" | awk -v f="$2" 'NR==1{print $f}'; }
# average download rate in bit/s of a fetch
rate_bps()    { client_out "$1" | awk 'NR==1{ if ($5 > 0) printf "%d", $2 * 8 / $5; else print 0 }'; }

assert_rc() { # name rc...
  local n=$1 got; shift; got=$(client_rc "$n")
  local r; for r in "$@"; do [ "$got" = "$r" ] && { ok "$n exit $got"; return; }; done
  bad "$n exit $got, want $* (stderr: $(client_err "$n" | head -c 200))"
}
assert_err()  { client_err "$1"  | grep -qi -- "$2" && ok "$1 stderr has '$2'" || bad "$1 stderr lacks '$2': $(client_err "$1" | head -c 200)"; }
assert_out()  { client_out "$1"  | grep -qi -- "$2" && ok "$1 stdout has '$2'" || bad "$1 stdout lacks '$2': $(client_out "$1" | head -c 300)"; }
refute_out()  { client_out "$1"  | grep -qi -- "$2" && bad "$1 stdout has '$2'" || ok "$1 stdout lacks '$2'"; }
assert_body() { client_body "$1" | grep -qi -- "$2" && ok "$1 body has '$2'" || bad "$1 body lacks '$2': $(client_body "$1" | head -c 200)"; }
assert_http() { # name code: curl completed with that HTTP status
  local c; c=$(curl_field "$1" 1)
  [ "$(client_rc "$1")" = 0 ] && [ "$c" = "$2" ] && ok "$1 HTTP $c" || bad "$1 HTTP '$c' rc $(client_rc "$1"), want $2"
}
assert_le() { awk -v a="$2" -v b="$3" 'BEGIN{exit !(a+0 <= b+0)}' && ok "$1: $2 <= $3" || bad "$1: $2 > $3"; }
assert_ge() { awk -v a="$2" -v b="$3" 'BEGIN{exit !(a+0 >= b+0)}' && ok "$1: $2 >= $3" || bad "$1: $2 < $3"; }

# heartbeat counts of the shutdown scenarios (files "epoch rc family host"):
#   hb c1|c2 PHASE ok|fail [v4|v6|any] [host]
#   PHASE before: until the cut; after: from 1.5 s after the cut (requests in
#   flight at the cut excluded); during: after, until the restore (--restore);
#   restored: from 3 s after the restore
hb() {
  local cut restore
  cut=$(cat "$RUN_DIR/clients/cut-time")
  restore=$(cat "$RUN_DIR/clients/restore-time" 2>/dev/null || echo 1e12)
  cat "$RUN_DIR"/clients/heartbeat-$1-*.txt | awk -v cut="$cut" -v rs="$restore" -v ph="$2" -v w="$3" \
      -v fam="${4:-any}" -v host="${5:-any}" '
    { t = $1; rc = $2 }
    fam != "any" && $3 != fam { next }
    host != "any" && $4 != host { next }
    ph == "before" && t >= cut { next }
    (ph == "after" || ph == "during") && t < cut + 1.5 { next }
    ph == "during" && t >= rs { next }
    ph == "restored" && t < rs + 3 { next }
    (w == "ok" && rc == 0) || (w == "fail" && rc != 0) { n++ }
    END { print n + 0 }'
}

# DNS answer addresses printed by dig (+noall +answer)
dig_addrs() { client_out "$1" | awk '$4=="A"||$4=="AAAA"{print $5}'; }

# ---- shutdown detection (README "Shutdown detection", lab settings) ----
# sd_conf: the lab's regions and a [shutdown] configuration that runs a
# shutdown in a minute (2 s polls, a 10 s "week" of one bin, 6 s to raise
# and to resolve); SD_ARGS hands it to the run's tamperwatchd.
SD_IV=2 SD_MIN_DUR=6 SD_RECOVER=6
sd_conf() {
  mkdir -p "$LAB_OUT"
  printf '%s\n' "# lab client networks" "198.51.100.0/24 region-a" "2001:db8:a::/48 region-a" \
    "192.0.2.0/24    region-b" "2001:db8:b::/48 region-b" > "$LAB_OUT/regions.txt"
  cat > "$LAB_OUT/shutdown.conf" <<EOF
[regions]
file = $LAB_OUT/regions.txt

[shutdown]
enabled = true
interval = $SD_IV
period = 10
bins = 1
history = 4
warmup = 10
min_duration = $SD_MIN_DUR
recover = $SD_RECOVER
min_clients = 1
region_min = 2
EOF
  SD_ARGS=(--daemon-arg -c --daemon-arg "$LAB_OUT/shutdown.conf")
}
# sd_check DESCRIPTION 'python assertions': over the run's detector output:
#   A shutdown alerts, K link records, G gap records, S the final stats,
#   cut/restore (epoch s), ts(iso) -> epoch s, of(prefix), raised(xs), resolved(xs)
sd_check() {
  local out
  if out=$("$PY" - "$RUN_DIR" "$2" "$SD_IV" "$SD_MIN_DUR" "$SD_RECOVER" 2>&1 <<'EOF'
import json, os, sys
from datetime import datetime
d, expr = sys.argv[1], sys.argv[2]
IV, MIN_DUR, RECOVER = (float(x) for x in sys.argv[3:6])
L = []
for line in open(os.path.join(d, "alerts.json")):
    if '"event_type":"alert"' in line or '"event_type":"link"' in line or '"event_type":"gap"' in line \
            or '"event_type":"stats"' in line:
        L.append(json.loads(line))
A = [x for x in L if x["event_type"] == "alert" and x["alert"]["category"] == "shutdown"]
K = [x for x in L if x["event_type"] == "link"]
G = [x for x in L if x["event_type"] == "gap"]
S = ([x for x in L if x["event_type"] == "stats"] or [{"stats": {}}])[-1]["stats"].get("shutdown", {})
def rd(f):
    p = os.path.join(d, "clients", f)
    return float(open(p).read()) if os.path.exists(p) else None
cut, restore = rd("cut-time"), rd("restore-time")
def ts(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
def of(prefix): return [a for a in A if a["scope"]["prefixes"] == [prefix] and a["alert"]["signature_id"] != 2703]
def raised(xs): return [a for a in xs if a["alert"]["state"] == "raised"]
def resolved(xs): return [a for a in xs if a["alert"]["state"] == "resolved"]
print("alerts", [(a["alert"]["state"], a["alert"]["signature"], a["shutdown"]["level"],
                  round(ts(a["shutdown"]["start"]) - cut, 1) if cut else None, a["stats"].get("passing")) for a in A],
      "links", [(k["link"].get("interface"), k["link"]["state"], k["link"]["detection"]) for k in K],
      "gaps", [g["gap"]["why"] for g in G], "polls", S.get("polls"), "series", S.get("series"))
exec(expr)
EOF
); then ok "detector: $1"; echo "$out" | sed 's/^/     /'
  else bad "detector: $1"; echo "$out" | sed 's/^/     /'; fi
}

finish() {
  echo "# $TEST_NAME: $CHECKS checks, $FAILS failed, $((SECONDS - T0))s"
  [ "$FAILS" -eq 0 ] || exit 1
  exit 0
}
