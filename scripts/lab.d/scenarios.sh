# shellcheck shell=bash
# tamperwatch lab scenarios.  Sourced by scripts/lab after common.sh.
#
# A scenario is a function scn_<name with _ for -> registered with `scenario`.
# It switches the censor on (nft / iptables+NFQUEUE / tc / censor.py in tw-cen),
# drives real clients in tw-c1/tw-c2 (every client command is recorded by `obs`
# under $OUT/clients/), writes its ground truth with truth_* helpers, and
# scenario_run switches the censor off again and assembles $OUT/truth.json.
#
# Options from scripts/lab run: OPT_PREFIX (region-a|region-b|all|CIDR[,CIDR]),
# OPT_TARGET (a lab domain), OPT_DURATION (seconds, for timed scenarios),
# OPT_ROUNDS (each_round: the clients' traffic is repeated),
# OPT_RECOVER (seconds: the recovery phase after the censor stops, see recover).

SCENARIOS=()
scenario() { SCENARIOS+=("$1|$2|$3"); }

scenario_list() {
  local s
  for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r n k d <<<"$s"
    printf '%-28s %-7s %s\n' "$n" "$k" "$d"
  done
}
scenario_exists() { local s; for s in "${SCENARIOS[@]}"; do [ "${s%%|*}" = "$1" ] && return 0; done; return 1; }
scenario_field() { local s; for s in "${SCENARIOS[@]}"; do [ "${s%%|*}" = "$1" ] && { IFS='|' read -r -a f <<<"$s"; echo "${f[$2]}"; }; done; }

JSONOBJ="$LAB_DIR/lab.d/jsonobj.py"
CENSOR_PY="$LAB_DIR/lab.d/censor.py"
PROBE_PY="$LAB_DIR/lab.d/probe.py"
CACERT="$LAB_RUN/tls/lab.crt"

# ------------------------------------------------------------ truth ----
truth_add() { # file key=val...
  local f=$1; shift
  ${PY:-python3} "$JSONOBJ" "$@" >> "$OUT/.truth.d/$f.jsonl"
}
# tamper method=... (method names of docs/schema.md) variant=... target:='{...}' prefixes:='[...]'
truth_tamper()  { truth_add tamper start="$CENSOR_ON" "$@"; }
truth_control() { truth_add controls "$@"; }
truth_benign()  { truth_add benign "$@"; }
json_list() { local a="" x; for x in "$@"; do a+="${a:+,}\"$x\""; done; echo "[$a]"; }
target_json() { # domain port proto -> JSON
  local d=$1 port=$2 proto=${3:-tcp}
  ${PY:-python3} "$JSONOBJ" domain="$d" ip="$(host_ip "$d")" ip6="$(host_ip6 "$d")" port:="${port:-null}" proto="$proto"
}

# ------------------------------------------------------------ prefixes ----
# PREFIXES: the client prefixes the censor applies to (v4 and v6)
resolve_prefixes() { # spec default
  local spec=${OPT_PREFIX:-$1} p out=()
  IFS=',' read -r -a parts <<<"$spec"
  for p in "${parts[@]}"; do
    case $p in
      region-a) out+=("$C1_NET" "$C1_NET6") ;;
      region-b) out+=("$C2_NET" "$C2_NET6") ;;
      all) out+=("$C1_NET" "$C1_NET6" "$C2_NET" "$C2_NET6") ;;
      *) out+=("$p") ;;
    esac
  done
  PREFIXES=("${out[@]}")
  PFX4=() PFX6=()
  for p in "${PREFIXES[@]}"; do if [[ $p == *:* ]]; then PFX6+=("$p"); else PFX4+=("$p"); fi; done
}
in_prefixes() { # ns -> true if that client network is censored
  local net; [ "$1" = tw-c1 ] && net=$C1_NET || net=$C2_NET
  local p; for p in "${PREFIXES[@]}"; do [ "$p" = "$net" ] && return 0; done; return 1
}
nft_set() { local IFS=,; echo "{ $* }"; }

# ------------------------------------------------------------ censor ----
CENSOR_ON="" CENSOR_OFF=""
censor_on() { CENSOR_ON=$(now_iso); echo "$SCN_NAME" > "$LAB_RUN/state/censor"; }

nft_cen() { nsx tw-cen nft "$@"; }
NFT_READY=""
nft_table() { # ensure the censor's table exists
  [ -n "$NFT_READY" ] && return
  NFT_READY=1
  nft_cen list table inet twcensor >/dev/null 2>&1 && return
  nft_cen -f - <<'EOF'
table inet twcensor {
  chain forward { type filter hook forward priority -10; policy accept; }
  chain output { type filter hook output priority raw; policy accept; notrack; }
}
EOF
}
nft_rule() { nft_table; nft_cen add rule inet twcensor forward "$@" || echo "lab: nft rule failed: $*" >&2; }

ipt4() { nsx tw-cen iptables -w "$@" || echo "lab: iptables $* failed" >&2; }
ipt6() { nsx tw-cen ip6tables -w "$@" || echo "lab: ip6tables $* failed" >&2; }

injector_start() { # rules-json, censor.py args...
  local rules=$1; shift
  printf '%s\n' "$rules" > "$OUT/censor-rules.json"
  rm -f "$LAB_RUN/state/censor.ready"
  ip netns exec tw-cen setsid "$PY" "$CENSOR_PY" --rules "$OUT/censor-rules.json" \
    --log "$OUT/censor-events.jsonl" --ready "$LAB_RUN/state/censor.ready" "$@" \
    >"$OUT/censor.log" 2>&1 </dev/null &
  echo $! > "$LAB_RUN/pids/censor.pid"
  local i
  for i in $(seq 50); do [ -e "$LAB_RUN/state/censor.ready" ] && return 0; sleep 0.1; done
  echo "lab: censor.py did not start: $(cat "$OUT/censor.log")" >&2
  return 1
}

# delay line: hold the first packets from TARGET servers to censored clients
# for N ms in censor.py (queue 1), so that forged packets win the race.
delay_line() { # ip4 ip6
  local p
  for p in "${PFX4[@]}"; do ipt4 -A FORWARD -s "$1" -d "$p" -j NFQUEUE --queue-num 1 --queue-bypass; done
  for p in "${PFX6[@]}"; do ipt6 -A FORWARD -s "$2" -d "$p" -j NFQUEUE --queue-num 1 --queue-bypass; done
}
# in-path selection: client->server packets that mention STRING go to queue 0;
# SYN-ACKs to censored clients go to queue 1 (TTL learning)
inpath_select() { # string ports
  local s=$1 ports=$2 p
  for p in "${PFX4[@]}"; do
    ipt4 -A FORWARD -s "$p" -p tcp -m multiport --dports "$ports" -m string --string "$s" --algo bm \
      -j NFQUEUE --queue-num 0 --queue-bypass
    ipt4 -A FORWARD -d "$p" -p tcp --tcp-flags SYN,ACK SYN,ACK -j NFQUEUE --queue-num 1 --queue-bypass
  done
  for p in "${PFX6[@]}"; do
    ipt6 -A FORWARD -s "$p" -p tcp -m multiport --dports "$ports" -m string --string "$s" --algo bm \
      -j NFQUEUE --queue-num 0 --queue-bypass
    ipt6 -A FORWARD -d "$p" -p tcp --tcp-flags SYN,ACK SYN,ACK -j NFQUEUE --queue-num 1 --queue-bypass
  done
}

# the server DOMAIN 30 ms behind the censor for every client (delay line,
# censor.py --delay-ms 30); the censored PREFIXES stay as they were
inpath_far() {
  local k4=("${PFX4[@]}") k6=("${PFX6[@]}")
  PFX4=("$C1_NET" "$C2_NET") PFX6=("$C1_NET6" "$C2_NET6")
  delay_line "$(host_ip "$1")" "$(host_ip6 "$1")"
  PFX4=("${k4[@]}") PFX6=("${k6[@]}")
}

censor_clear() {
  local f=$LAB_RUN/pids/censor.pid pid i
  if [ -e "$f" ]; then
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$f"
  fi
  ip netns list | grep -qw tw-cen || return 0
  if [ -n "${OUT:-}" ] && [ -d "$OUT" ] && [ -s "$LAB_RUN/state/censor" ]; then
    { echo "# nft"; nft_cen list ruleset; echo "# iptables"; nsx tw-cen iptables-save -c
      echo "# ip6tables"; nsx tw-cen ip6tables-save -c
      echo "# tc"; nsx tw-cen tc -s qdisc show; } > "$OUT/censor-state.txt" 2>&1
  fi
  nft_cen delete table inet twcensor 2>/dev/null
  NFT_READY="" 
  nsx tw-cen iptables -w -F FORWARD 2>/dev/null
  nsx tw-cen ip6tables -w -F FORWARD 2>/dev/null
  local d
  for d in cen-gw cen-srv; do
    nsx tw-cen tc qdisc del dev "$d" root 2>/dev/null
    nsx tw-cen tc qdisc del dev "$d" clsact 2>/dev/null
  done
  nsx tw-srv ip link set srv-cen gso_max_segs 65535 2>/dev/null
  rm -f "$LAB_RUN/state/censor"
  return 0
}

# ------------------------------------------------------------ detector ----
DET_PID=""
detector_start() {
  DET_STATUS="not started"
  if [ "$DETECTOR" = none ]; then DET_STATUS="disabled"; return; fi
  if [ ! -x "$DAEMON" ]; then DET_STATUS="no binary at $DAEMON"; return; fi
  : > "$OUT/alerts.json"
  local ifargs=() i
  for i in ${DET_IFACES:-gw-up}; do ifargs+=(-i "$i"); done
  ip netns exec "tw-${DET_NS:-gw}" setsid "$DAEMON" "${ifargs[@]}" --mode "$DETECTOR" --alerts "$OUT/alerts.json" \
    --control "$LAB_RUN/tamperwatchd.sock" \
    "${DAEMON_ARGS[@]}" >"$OUT/detector.log" 2>&1 </dev/null &
  DET_PID=$!
  echo "$DET_PID" > "$LAB_RUN/pids/tamperwatchd.pid"
  # Wait until the daemon watches every interface (its "watching" line comes
  # after the attach) before the scenario's first packet: loading the BPF
  # program and preallocating the flow map (flows.max) takes seconds, and a
  # flow whose SYN it missed is midstream and not judged.
  local want=$((${#ifargs[@]} / 2)) n i t0=$SECONDS
  for i in $(seq 600); do
    n=$(grep -c '^tamperwatchd: watching ' "$OUT/detector.log" 2>/dev/null)
    [ "${n:-0}" -ge "$want" ] && break
    kill -0 "$DET_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "lab: detector watching after $((SECONDS - t0)) s" >&2
  sleep "${TW_LAB_DETECTOR_WARMUP:-1}"
  if kill -0 "$DET_PID" 2>/dev/null; then DET_STATUS="running"
  else wait "$DET_PID"; DET_STATUS="exited early (rc=$?)"; DET_PID=""; fi
}
detector_stop() {
  [ -n "$DET_PID" ] || return 0
  sleep "${TW_LAB_DETECTOR_GRACE:-1}"
  kill -INT "$DET_PID" 2>/dev/null
  local i
  for i in $(seq 50); do kill -0 "$DET_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$DET_PID" 2>/dev/null; then kill -KILL "$DET_PID"; DET_STATUS="killed (no exit on SIGINT)"
  else wait "$DET_PID"; DET_STATUS="stopped (rc=$?)"; fi
  rm -f "$LAB_RUN/pids/tamperwatchd.pid"
  DET_PID=""
}

# ------------------------------------------------------------ clients ----
# obs NAME NS TIMEOUT CMD... : run a client command, keep its stdout, stderr,
# exit status and timing in $OUT/clients/NAME.{out,err,rc}
obs() {
  local name=$1 ns=$2 t=$3; shift 3
  local o=$OUT/clients/$name s e rc
  s=$(now_iso)
  timeout -k 2 "$t" ip netns exec "$ns" "$@" >"$o.out" 2>"$o.err"
  rc=$?
  e=$(now_iso)
  echo "$rc" > "$o.rc"
  truth_add observed name="$name" ns="$ns" cmd="$*" rc:="$rc" start="$s" end="$e" \
    stdout@="$o.out" stderr@="$o.err"
  return 0
}
CURL_W='%{http_code} %{size_download} %{time_connect} %{time_appconnect} %{time_total} %{speed_download}\n'
# fetch NAME NS SRC URL [curl args] : curl from source address SRC
fetch() {
  local name=$1 ns=$2 src=$3 url=$4; shift 4
  obs "$name" "$ns" "${FETCH_TIMEOUT:-8}" curl -sS --cacert "$CACERT" --interface "$src" \
    --max-time "${FETCH_MAXTIME:-5}" -o "$OUT/clients/$name.body" -w "$CURL_W" "$@" "$url"
}
# lookup NAME NS SRC QNAME TYPE : dig against the lab resolver
lookup() {
  local name=$1 ns=$2 src=$3 q=$4 ty=${5:-A} server=$RESOLVER_IP
  [[ $src == *:* ]] && server=$RESOLVER_IP6
  obs "$name" "$ns" 8 dig +tries="${LOOKUP_TRIES:-1}" +time="${LOOKUP_TIME:-2}" -b "$src" "@$server" "$q" "$ty" +noall +answer +comments
}
# background client jobs: never a bare `wait`, which would also wait for the
# detector and the injector (background children of this shell too)
BG=()
spawn() { "$@" & BG+=($!); }
join() { [ ${#BG[@]} -gt 0 ] && wait "${BG[@]}"; BG=(); }

# ------------------------------------------------------------ recovery ----
# --recover S: the censor is off.  After S seconds (the detector has ended the
# censored flows: S must exceed the flows.* timeouts given to the daemon, or
# their verdicts would come after the clean flows) the clients of the censored
# prefixes fetch every tampered target of the truth again, by name, as users
# retry; then S seconds more for the detector to end and judge those flows.
RECOVER_START="" RECOVER_END=""
recover_targets() { # "domain port proto" of every tamper truth with a target
  ${PY:-python3} - "$OUT/.truth.d/tamper.jsonl" <<'PYEOF'
import json, sys
seen = set()
for l in open(sys.argv[1]):
    t = (json.loads(l) or {}).get("target") or {}
    k = (t.get("domain"), t.get("port"), t.get("proto", "tcp"))
    if k[0] and k not in seen:
        seen.add(k)
        print(k[0], "null" if k[1] is None else k[1], k[2])
PYEOF
}
recover_fetch() { # short ns domain port proto ip4 ip4b ip6: one round of retries
  local n=$1 ns=$2 dom=$3 port=$4 proto=$5 sch; shift 5
  if [ "$proto:$port" = udp:53 ]; then
    lookup "recover-$n-dns-a$RS" "$ns" "$1" "$dom" A
    lookup "recover-$n-dns-b$RS" "$ns" "$2" "$dom" A
    lookup "recover-$n-dns-aaaa$RS" "$ns" "$3" "$dom" AAAA
    return
  fi
  [ "$proto" = tcp ] || return 0
  for sch in https http; do     # port null: the censor blocked the address, every port
    [ "$port" = null ] || [ "$port" = "$([ $sch = https ] && echo 443 || echo 80)" ] || continue
    spawn fetch "recover-$n-$sch-1$RS" "$ns" "$1" "$sch://$dom/" -4
    spawn fetch "recover-$n-$sch-2$RS" "$ns" "$2" "$sch://$dom/" -4
    spawn fetch "recover-$n-$sch-v6$RS" "$ns" "$3" "$sch://$dom/" -6
    join
  done
}
recover() {
  [ -s "$OUT/.truth.d/tamper.jsonl" ] || return 0
  local w=$OPT_RECOVER dom port proto ns n a
  sleep "$w"
  RECOVER_START=$(now_iso)
  while read -r dom port proto; do
    for ns in tw-c1 tw-c2; do
      in_prefixes "$ns" || continue
      n=${ns#tw-}
      if [ "$ns" = tw-c1 ]; then a=("$C1" "$C1b" "$C16"); else a=("$C2" "$C2b" "$C26"); fi
      each_round recover_fetch "$n" "$ns" "$dom" "$port" "$proto" "${a[@]}"
    done
  done < <(recover_targets)
  RECOVER_END=$(now_iso)
  sleep "$w"
}

# ------------------------------------------------------------ run ----
scenario_run() {
  SCN_NAME=$1
  local fn=scn_${1//-/_} kind desc started ended
  kind=$(scenario_field "$1" 1); desc=$(scenario_field "$1" 2)
  censor_clear
  echo $$ > "$LAB_RUN/pids/run.pid"
  trap 'censor_clear; detector_stop; exit 130' INT TERM
  started=$(now_iso)
  detector_start
  echo "lab: scenario $1 ($kind): $desc" >&2
  "$fn"
  local rc=$?
  CENSOR_OFF=${CENSOR_OFF:-$(now_iso)}   # set earlier by a scenario that lifts its cut
  censor_clear
  [ -n "${OPT_RECOVER:-}" ] && [ "$kind" = censor ] && recover
  detector_stop
  ended=$(now_iso)
  trap - INT TERM
  rm -f "$LAB_RUN/pids/run.pid"
  ${PY:-python3} - "$OUT" "$1" "$kind" "$desc" "$started" "$ended" "$DET_STATUS" "$DETECTOR" "$CENSOR_OFF" \
    "$RECOVER_START" "$RECOVER_END" <<'PYEOF'
import json, os, sys
out, name, kind, desc, started, ended, det, mode, censor_off, rec_start, rec_end = sys.argv[1:]
def lines(f):
    p = os.path.join(out, ".truth.d", f + ".jsonl")
    if not os.path.exists(p):
        p = os.path.join(out, f)
        if not os.path.exists(p):
            return []
    r = []
    for l in open(p):
        l = l.strip()
        if l:
            try: r.append(json.loads(l))
            except ValueError: pass
    return r
tamper = lines("tamper")
for t in tamper:
    t.setdefault("end", censor_off)
truth = {
  "scenario": name, "kind": kind, "description": desc,
  "started": started, "ended": ended,
  "tampered": kind == "censor",
  "tamper": tamper,
  "controls": lines("controls"),
  "benign": lines("benign"),
  "injections": [e for e in lines("censor-events.jsonl") if e.get("action") != "censor_exit"],
  "observed": lines("observed"),
  "recovery": {"start": rec_start, "end": rec_end} if rec_start else None,
  "detector": {"mode": mode, "status": det, "alerts": "alerts.json"},
  "lab": {"gateway_iface": "gw-up", "regions": {"region-a": ["198.51.100.0/24", "2001:db8:a::/64"],
                                                 "region-b": ["192.0.2.0/24", "2001:db8:b::/64"]}},
}
with open(os.path.join(out, "truth.json"), "w") as f:
    json.dump(truth, f, indent=1)
    f.write("\n")
PYEOF
  echo "lab: $1 done -> $OUT/truth.json (detector: $DET_STATUS)" >&2
  return $rc
}

# =========================================================== scenarios ====
T_DOMAIN() { echo "${OPT_TARGET:-blocked.example}"; }
# --rounds N: each_round CMD... runs a scenario's client traffic N times in
# turn (every target sees flows in every round); RS names the clients of
# round K > 1 NAME-rK, round 1 keeps the plain names
RS=""
each_round() {
  local r
  for r in $(seq "${OPT_ROUNDS:-1}"); do
    RS=""; [ "$r" -gt 1 ] && RS=-r$r
    "$@"
  done
  RS=""
}
C1=${C1_IPS[0]} C1b=${C1_IPS[1]} C1c=${C1_IPS[2]} C16=${C1_IPS6[0]}
C2=${C2_IPS[0]} C2b=${C2_IPS[1]} C26=${C2_IPS6[0]}

# common traffic for RST / block page / TLS scenarios: the target from both
# regions (v4, v6, several clients), and an allowed control from the censored one
web_probe() { # scheme
  local sch=$1 d; d=$(T_DOMAIN)
  spawn fetch "c1-$sch-target-1$RS" tw-c1 "$C1" "$sch://$d/" -4
  spawn fetch "c1-$sch-target-2$RS" tw-c1 "$C1b" "$sch://$d/" -4
  spawn fetch "c1-$sch-target-v6$RS" tw-c1 "$C16" "$sch://$d/" -6
  spawn fetch "c1-$sch-control$RS" tw-c1 "$C1c" "$sch://allowed.example/" -4
  spawn fetch "c2-$sch-target$RS" tw-c2 "$C2" "$sch://$d/" -4
  spawn fetch "c2-$sch-target-v6$RS" tw-c2 "$C26" "$sch://$d/" -6
  join
  [ -n "$RS" ] || truth_control target:="$(target_json allowed.example "$([ "$sch" = https ] && echo 443 || echo 80)")" \
    prefixes:="$(json_list "$C1_NET" "$C1_NET6" "$C2_NET" "$C2_NET6")" note="never tampered"
}
onpath_rst() { # name style http_host|sni port scheme
  local style=$1 trig=$2 port=$3 sch=$4 d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  delay_line "$(host_ip "$d")" "$(host_ip6 "$d")"
  injector_start "[{\"name\":\"$SCN_NAME\",\"action\":\"rst\",\"path\":\"on\",\"style\":\"$style\",\"$trig\":[\"$d\"],\"ports\":[$port],\"prefixes\":$(json_list "${PREFIXES[@]}"),\"to_server\":true}]" \
    --tap cen-gw --queue --delay-ms 30 || return 1
  each_round web_probe "$sch"
  local sig=PSH-\>RST
  truth_tamper method=rst_injection variant=on_path style="$style" signature="$sig" stage=after_request \
    trigger:="{\"$trig\":\"$d\"}" target:="$(target_json "$d" "$port")" prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="forged RST(s) with unrelated TTL/IP-ID race the real response (held 30 ms); the server's data arrives after the RST"
}

scenario rst-onpath-http censor "on-path GFW type-1 RST (one RST, random TTL/IP-ID) on HTTP Host, region-a"
scn_rst_onpath_http() { onpath_rst single http_host 80 http; }

scenario rst-onpath-sni censor "on-path GFW type-2 burst of 3 RST/ACKs (spread seq) on TLS SNI, region-a"
scn_rst_onpath_sni() { onpath_rst burst sni 443 https; }

scenario rst-inpath censor "in-path RST (request dropped, RST to both ends, TTL copied from SYN-ACK) on SNI and Host, server 30 ms behind the censor, region-a"
scn_rst_inpath() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  inpath_select "$d" 80,443
  # the server is farther than the censor (a foreign site behind a national
  # in-path device): its packets are held 30 ms, to every client (distance
  # does not depend on who asks; only region-a is censored)
  inpath_far "$d"
  injector_start "[{\"name\":\"$SCN_NAME\",\"action\":\"rst\",\"path\":\"in\",\"sni\":[\"$d\"],\"http_host\":[\"$d\"],\"prefixes\":$(json_list "${PREFIXES[@]}"),\"to_server\":true}]" \
    --queue --delay-ms 30 || return 1
  each_round web_probe https
  each_round web_probe http
  # docs/schema.md (methods): an RST after a ClientHello with a blocked SNI is TLS
  # interference, after an HTTP request RST injection (as in tls-reset)
  truth_tamper method=rst_injection variant=in_path signature=PSH-\>RST stage=after_request \
    trigger:="{\"http_host\":\"$d\"}" target:="$(target_json "$d" 80)" \
    prefixes:="$(json_list "${PREFIXES[@]}")" note="request dropped; RST/ACK to client with TTL and IP-ID continuing the server's SYN-ACK; RST to server; no race; the RST comes back long before the server (30 ms away) could answer"
  truth_tamper method=tls_interference variant=in_path_reset signature=CH-\>RST stage=after_client_hello \
    trigger:="{\"sni\":\"$d\"}" target:="$(target_json "$d" 443)" \
    prefixes:="$(json_list "${PREFIXES[@]}")" note="ClientHello dropped; RST/ACK with the server's TTL and IP-ID; no race"
}

dns_probe() {
  local d; d=$(T_DOMAIN)
  lookup "c1-dns-target-a$RS" tw-c1 "$C1" "$d" A
  lookup "c1-dns-target-b$RS" tw-c1 "$C1b" "$d" A
  lookup "c1-dns-target-aaaa$RS" tw-c1 "$C16" "$d" AAAA
  lookup "c1-dns-control$RS" tw-c1 "$C1c" allowed.example A
  lookup "c2-dns-target$RS" tw-c2 "$C2" "$d" A
  lookup "c2-dns-target-aaaa$RS" tw-c2 "$C26" "$d" AAAA
  obs "c1-dns-all$RS" tw-c1 5 "$PY" "$PROBE_PY" dns "$d" "$RESOLVER_IP" "$C1" --wait 0.5
  obs "c2-dns-all$RS" tw-c2 5 "$PY" "$PROBE_PY" dns "$d" "$RESOLVER_IP" "$C2" --wait 0.5
  [ -n "$RS" ] || truth_control target:="$(target_json allowed.example 53 udp)" prefixes:="$(json_list "$C1_NET" "$C2_NET")" note="never tampered"
}
dns_rule() { # path
  local d; d=$(T_DOMAIN)
  echo "[{\"name\":\"$SCN_NAME\",\"action\":\"dns\",\"path\":\"$1\",\"qname\":[\"$d\"],\"prefixes\":$(json_list "${PREFIXES[@]}"),\"forged_a\":\"$FORGED_IP\",\"forged_aaaa\":\"$FORGED_IP6\"}]"
}
scenario dns-inject-onpath censor "on-path DNS injection: forged A/AAAA racing the resolver's real answer (both arrive), region-a"
scn_dns_inject_onpath() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  delay_line "$RESOLVER_IP" "$RESOLVER_IP6"
  injector_start "$(dns_rule on)" --tap cen-gw --queue --delay-ms 30 || return 1
  each_round dns_probe
  truth_tamper method=dns_injection variant=on_path signature=forged_answer_race trigger:="{\"dns_qname\":\"$d\"}" \
    target:="$(target_json "$d" 53 udp)" forged:="$(json_list "$FORGED_IP" "$FORGED_IP6")" \
    prefixes:="$(json_list "${PREFIXES[@]}")" note="forged answer (random IP TTL) first, the real answer ~30 ms later"
}
scenario dns-inject-inpath censor "in-path DNS injection: forged answer sent, the resolver's real answer dropped, region-a"
scn_dns_inject_inpath() {
  local d p; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  for p in "${PFX4[@]}"; do
    ipt4 -A FORWARD -s "$p" -p udp --dport 53 -j NFQUEUE --queue-num 0 --queue-bypass
    ipt4 -A FORWARD -d "$p" -p udp --sport 53 -j NFQUEUE --queue-num 0 --queue-bypass
  done
  for p in "${PFX6[@]}"; do
    ipt6 -A FORWARD -s "$p" -p udp --dport 53 -j NFQUEUE --queue-num 0 --queue-bypass
    ipt6 -A FORWARD -d "$p" -p udp --sport 53 -j NFQUEUE --queue-num 0 --queue-bypass
  done
  injector_start "$(dns_rule in)" --queue || return 1
  each_round dns_probe
  truth_tamper method=dns_injection variant=in_path signature=forged_answer_only trigger:="{\"dns_qname\":\"$d\"}" \
    target:="$(target_json "$d" 53 udp)" forged:="$(json_list "$FORGED_IP" "$FORGED_IP6")" \
    prefixes:="$(json_list "${PREFIXES[@]}")" note="one answer per query, the forged one; its IP TTL is random, not the resolver's"
}

blockpage() { # status
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  inpath_select "$d" 80
  injector_start "[{\"name\":\"$SCN_NAME\",\"action\":\"blockpage\",\"path\":\"in\",\"status\":$1,\"http_host\":[\"$d\"],\"prefixes\":$(json_list "${PREFIXES[@]}")}]" \
    --queue || return 1
  each_round web_probe http
  truth_tamper method=http_blockpage variant=in_path status:="$1" signature=injected_response stage=after_request \
    trigger:="{\"http_host\":\"$d\"}" target:="$(target_json "$d" 80)" prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="request dropped; HTTP $1 block page with FIN (TTL 100-250, IP-ID 0) to client; RST to server"
}
scenario http-blockpage-451 censor "in-path HTTP 451 block page (with FIN) on Host, real response never comes, region-a"
scn_http_blockpage_451() { blockpage 451; }
scenario http-blockpage-403 censor "in-path HTTP 403 block page (with FIN) on Host, region-a"
scn_http_blockpage_403() { blockpage 403; }

scenario tls-reset censor "TLS interference: ClientHello with SNI dropped, RST to client (in-path), server 30 ms behind the censor, region-a; plain HTTP untouched"
scn_tls_reset() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  inpath_select "$d" 443
  inpath_far "$d"
  injector_start "[{\"name\":\"$SCN_NAME\",\"action\":\"tls_reset\",\"path\":\"in\",\"sni\":[\"$d\"],\"ports\":[443],\"prefixes\":$(json_list "${PREFIXES[@]}")}]" \
    --queue --delay-ms 30 || return 1
  each_round web_probe https
  fetch c1-http-target-ok tw-c1 "$C1" "http://$d/" -4
  truth_tamper method=tls_interference variant=reset signature=CH-\>RST stage=after_client_hello \
    trigger:="{\"sni\":\"$d\"}" target:="$(target_json "$d" 443)" prefixes:="$(json_list "${PREFIXES[@]}")"
}
scenario tls-drop censor "TLS interference: ClientHello with SNI silently dropped (nothing after the handshake), region-a"
scn_tls_drop() {
  local d p; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  # the ClientHello marks its connection; every later packet of it, both ways, is dropped
  local ipt
  for ipt in ipt4 ipt6; do $ipt -A FORWARD -m connmark --mark 0x7711 -j DROP; done
  for p in "${PFX4[@]}"; do ipt4 -A FORWARD -s "$p" -p tcp --dport 443 -m string --string "$d" --algo bm -j CONNMARK --set-mark 0x7711; done
  for p in "${PFX6[@]}"; do ipt6 -A FORWARD -s "$p" -p tcp --dport 443 -m string --string "$d" --algo bm -j CONNMARK --set-mark 0x7711; done
  for ipt in ipt4 ipt6; do $ipt -A FORWARD -m connmark --mark 0x7711 -j DROP; done
  FETCH_MAXTIME=3 each_round web_probe https
  truth_tamper method=tls_interference variant=drop signature=CH-\>timeout stage=after_client_hello \
    trigger:="{\"sni\":\"$d\"}" target:="$(target_json "$d" 443)" prefixes:="$(json_list "${PREFIXES[@]}")"
}

# TCP-level view: does the handshake complete, does a request get any answer?
tcp_probe() {
  local d; d=$(T_DOMAIN)
  obs "c1-tcp-probe$RS" tw-c1 6 "$PY" "$PROBE_PY" tcp "$(host_ip "$d")" 80 "${C1_IPS[3]}" --wait 2 \
    --send 'GET / HTTP/1.1\r\nHost: '"$d"'\r\n\r\n'
  obs "c2-tcp-probe$RS" tw-c2 6 "$PY" "$PROBE_PY" tcp "$(host_ip "$d")" 80 "${C2_IPS[3]}" --wait 2 \
    --send 'GET / HTTP/1.1\r\nHost: '"$d"'\r\n\r\n'
}
blackhole_probe() { FETCH_MAXTIME=3 web_probe https; tcp_probe; }
scenario blackhole-syn censor "blackholing: SYNs to the target IP dropped (nftables), region-a"
scn_blackhole_syn() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  [ ${#PFX4[@]} -gt 0 ] && nft_rule ip saddr "$(nft_set "${PFX4[@]}")" ip daddr "$(host_ip "$d")" tcp flags \& \(syn\|ack\) == syn drop
  [ ${#PFX6[@]} -gt 0 ] && nft_rule ip6 saddr "$(nft_set "${PFX6[@]}")" ip6 daddr "$(host_ip6 "$d")" tcp flags \& \(syn\|ack\) == syn drop
  each_round blackhole_probe
  truth_tamper method=blackhole variant=syn_drop signature=SYN-\>timeout stage=handshake \
    target:="$(target_json "$d" null)" prefixes:="$(json_list "${PREFIXES[@]}")"
}
scenario blackhole-after-handshake censor "blackholing: handshake passes, everything after it dropped (both directions), region-a"
scn_blackhole_after_handshake() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  if [ ${#PFX4[@]} -gt 0 ]; then
    nft_rule ip saddr "$(nft_set "${PFX4[@]}")" ip daddr "$(host_ip "$d")" ct original packets \> 2 drop
    nft_rule ip daddr "$(nft_set "${PFX4[@]}")" ip saddr "$(host_ip "$d")" ct reply packets \> 1 drop
  fi
  if [ ${#PFX6[@]} -gt 0 ]; then
    nft_rule ip6 saddr "$(nft_set "${PFX6[@]}")" ip6 daddr "$(host_ip6 "$d")" ct original packets \> 2 drop
    nft_rule ip6 daddr "$(nft_set "${PFX6[@]}")" ip6 saddr "$(host_ip6 "$d")" ct reply packets \> 1 drop
  fi
  each_round blackhole_probe
  truth_tamper method=blackhole variant=post_handshake_drop signature=PSH-\>timeout stage=after_handshake \
    target:="$(target_json "$d" null)" prefixes:="$(json_list "${PREFIXES[@]}")"
}

THROTTLE_BPS=16250   # 130 kbit/s
# the same clients' control downloads first: the detector compares the
# throttled target with them when it raises the alert
throttle_probe() { # target control
  FETCH_MAXTIME=${OPT_DURATION:-5} spawn fetch c1-control tw-c1 "$C1c" "https://$2/files/bulk.bin" -4
  FETCH_MAXTIME=${OPT_DURATION:-5} spawn fetch c2-control tw-c2 "$C2b" "https://$2/files/bulk.bin" -4
  join
  FETCH_MAXTIME=${OPT_DURATION:-5} FETCH_TIMEOUT=$(( ${OPT_DURATION:-5} + 4 ))
  spawn fetch c1-throttled-1 tw-c1 "$C1" "https://$1/files/bulk.bin" -4
  spawn fetch c1-throttled-2 tw-c1 "$C1b" "http://$1/files/bulk.bin" -4
  spawn fetch c2-throttled tw-c2 "$C2" "https://$1/files/bulk.bin" -4
  spawn fetch c1-throttled-v6 tw-c1 "$C16" "https://$1/files/bulk.bin" -6
  join
  truth_control target:="$(target_json "$2" 443)" prefixes:="$(json_list "${PREFIXES[@]}")" note="not throttled"
}
scenario throttle-police censor "throttling: per-flow policing of media.example to 130 kbit/s both directions (nft limit, drops), all regions"
scn_throttle_police() { police_target "$THROTTLE_BPS" both; }
scenario throttle-police-64 censor "throttling: per-flow policing of media.example to 64 kbit/s both directions, all regions"
scn_throttle_police_64() { police_target 8000 both; }
scenario throttle-police-500 censor "throttling: per-flow policing of media.example to 500 kbit/s towards the clients only, all regions"
scn_throttle_police_500() { police_target 62500 to_client; }
scenario throttle-police-upload censor "throttling: per-flow policing of media.example to 130 kbit/s towards the server only: uploads (HTTP PUT), all regions"
scn_throttle_police_upload() { police_target "$THROTTLE_BPS" to_server upload_probe; }
# uploads: each client PUTs the 16 MiB bulk file to the control first, then
# 96 KiB to the target (about 6 s at 130 kbit/s); curl reports the upload in the
# fields a download reports (code size connect appconnect total speed)
CURL_W_UP='%{http_code} %{size_upload} %{time_connect} %{time_appconnect} %{time_total} %{speed_upload}\n'
upload_probe() { # target control
  local up=$LAB_RUN/www/common/upload src96=$OUT/clients/upload96.bin
  local big=$LAB_RUN/www/common/files/bulk.bin
  head -c 96K "$big" > "$src96"
  # the clients send MTU-sized packets: no 64 KiB GSO bursts into the policer
  nsx tw-c1 ip link set c1-gw gso_max_segs 1
  nsx tw-c2 ip link set c2-gw gso_max_segs 1
  FETCH_MAXTIME=${OPT_DURATION:-5} spawn fetch c1-control tw-c1 "$C1c" "https://$2/upload/c1-control.bin" -4 -H "Expect:" -T "$big" -w "$CURL_W_UP"
  FETCH_MAXTIME=${OPT_DURATION:-5} spawn fetch c2-control tw-c2 "$C2b" "https://$2/upload/c2-control.bin" -4 -H "Expect:" -T "$big" -w "$CURL_W_UP"
  join
  FETCH_MAXTIME=${OPT_DURATION:-5} FETCH_TIMEOUT=$(( ${OPT_DURATION:-5} + 4 ))
  spawn fetch c1-upload-1 tw-c1 "$C1" "https://$1/upload/c1-1.bin" -4 -H "Expect:" -T "$src96" -w "$CURL_W_UP"
  spawn fetch c1-upload-2 tw-c1 "$C1b" "http://$1/upload/c1-2.bin" -4 -H "Expect:" -T "$src96" -w "$CURL_W_UP"
  spawn fetch c2-upload tw-c2 "$C2" "https://$1/upload/c2.bin" -4 -H "Expect:" -T "$src96" -w "$CURL_W_UP"
  spawn fetch c1-upload-v6 tw-c1 "$C16" "https://$1/upload/c1-v6.bin" -6 -H "Expect:" -T "$src96" -w "$CURL_W_UP"
  join
  rm -f "$up"/c1-*.bin "$up"/c2*.bin
  truth_control target:="$(target_json "$2" 443)" prefixes:="$(json_list "${PREFIXES[@]}")" note="not throttled (uploads)"
}
police_target() { # bytes/s, both|to_client|to_server, [probe]
  local d=${OPT_TARGET:-media.example} bps=$1 dirs=$2 probe=${3:-throttle_probe}
  resolve_prefixes all
  censor_on
  # the wire carries MTU-sized packets: no 64 KiB GSO bursts from the server
  nsx tw-srv ip link set srv-cen gso_max_segs 1
  nft_table
  nft_cen add set inet twcensor thr4 '{ type ipv4_addr . inet_service . ipv4_addr . inet_service; flags dynamic; timeout 2m; }'
  nft_cen add set inet twcensor thr6 '{ type ipv6_addr . inet_service . ipv6_addr . inet_service; flags dynamic; timeout 2m; }'
  local lim="limit rate over $bps bytes/second burst 12000 bytes"
  if [ ${#PFX4[@]} -gt 0 ]; then
    [ "$dirs" = to_server ] || nft_rule ip saddr "$(host_ip "$d")" ip daddr "$(nft_set "${PFX4[@]}")" meta l4proto tcp update @thr4 \{ ip saddr . th sport . ip daddr . th dport $lim \} drop
    [ "$dirs" = to_client ] || nft_rule ip daddr "$(host_ip "$d")" ip saddr "$(nft_set "${PFX4[@]}")" meta l4proto tcp update @thr4 \{ ip saddr . th sport . ip daddr . th dport $lim \} drop
  fi
  if [ ${#PFX6[@]} -gt 0 ]; then
    [ "$dirs" = to_server ] || nft_rule ip6 saddr "$(host_ip6 "$d")" ip6 daddr "$(nft_set "${PFX6[@]}")" meta l4proto tcp update @thr6 \{ ip6 saddr . th sport . ip6 daddr . th dport $lim \} drop
    [ "$dirs" = to_client ] || nft_rule ip6 daddr "$(host_ip6 "$d")" ip6 saddr "$(nft_set "${PFX6[@]}")" meta l4proto tcp update @thr6 \{ ip6 saddr . th sport . ip6 daddr . th dport $lim \} drop
  fi
  "$probe" "$d" bulk.example
  local dj='["to_client","to_server"]'
  case $dirs in to_client) dj='["to_client"]' ;; to_server) dj='["to_server"]' ;; esac
  truth_tamper method=throttling variant=policing rate_bps:=$((bps * 8)) per_flow:=true directions:="$dj" \
    target:="$(target_json "$d" null)" prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="token bucket, excess dropped (no queue): loss without RTT growth"
}
scenario throttle-region censor "throttling: region-wide policing: after a fast first round, every TCP flow towards region-a (v4 and v6) is policed to 400 kbit/s (nft limit per flow, drops), whatever the site; region-b unaffected"
REGION_BPS=50000   # 400 kbit/s
# region_round TAG: both regions download the bulk file from four sites at
# once (region-a over v4 and v6), FETCH_MAXTIME seconds at most
region_round() {
  local h n=0 others=("${BG[@]}")   # join waits for this round only (heartbeats may run)
  BG=()
  for h in news.example social.example allowed.example bulk.example; do
    spawn fetch "c1-$1-$h" tw-c1 "${C1_IPS[$((n % 3))]}" "https://$h/files/bulk.bin" -4
    spawn fetch "c1-$1-$h-v6" tw-c1 "$C16" "https://$h/files/bulk.bin" -6
    spawn fetch "c2-$1-$h" tw-c2 "${C2_IPS[$((n % 3))]}" "https://$h/files/bulk.bin" -4
    n=$((n + 1))
  done
  join
  BG=("${others[@]}")
}
scn_throttle_region() {
  resolve_prefixes region-a
  # the wire carries MTU-sized packets: no 64 KiB GSO bursts from the server
  nsx tw-srv ip link set srv-cen gso_max_segs 1
  # before: both regions fast (the region's own baseline)
  FETCH_MAXTIME=3 region_round before
  # the flows of the first round end (and are judged) before the policer
  sleep 7
  censor_on
  region_police
  FETCH_MAXTIME=${OPT_DURATION:-6} FETCH_TIMEOUT=$(( ${OPT_DURATION:-6} + 4 )) region_round during
  region_truth
}
region_truth() {
  truth_tamper method=throttling variant=policing rate_bps:=$((${REGION_RATE:-$REGION_BPS} * 8)) per_flow:=true region=region-a \
    directions:='["to_client"]' target:=null prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="every TCP flow towards the region policed (token bucket per flow, excess dropped), whatever the site"
  truth_control prefixes:="$(json_list "$C2_NET" "$C2_NET6")" note="region-b never throttled: the same sites at full speed"
}
region_police() { # every TCP flow towards region-a policed per flow
  local bps=${REGION_RATE:-$REGION_BPS}
  nft_table
  nft_cen add set inet twcensor thr4 '{ type ipv4_addr . inet_service . ipv4_addr . inet_service; flags dynamic; timeout 2m; }'
  nft_cen add set inet twcensor thr6 '{ type ipv6_addr . inet_service . ipv6_addr . inet_service; flags dynamic; timeout 2m; }'
  local lim="limit rate over $bps bytes/second burst 12000 bytes"
  nft_rule ip daddr "$(nft_set "${PFX4[@]}")" meta l4proto tcp update @thr4 \{ ip saddr . th sport . ip daddr . th dport $lim \} drop
  nft_rule ip6 daddr "$(nft_set "${PFX6[@]}")" meta l4proto tcp update @thr6 \{ ip6 saddr . th sport . ip6 daddr . th dport $lim \} drop
}
scenario throttle-region-cut censor "throttling deepening into a shutdown: clients of both regions poll; region-a is policed to 400 kbit/s on every site (as throttle-region), then cut off completely; region-b unaffected"
scn_throttle_region_cut() {
  resolve_prefixes region-a
  local stop=$OUT/clients/.stop i
  rm -f "$stop"
  nsx tw-srv ip link set srv-cen gso_max_segs 1
  for i in 0 1 2; do
    spawn heartbeat tw-c1 "${C1_IPS[$i]}" "$OUT/clients/heartbeat-c1-$i.txt" "$stop"
    spawn heartbeat tw-c2 "${C2_IPS[$i]}" "$OUT/clients/heartbeat-c2-$i.txt" "$stop"
  done
  FETCH_MAXTIME=3 region_round before
  sleep 7
  censor_on
  echo "$(date +%s.%N)" > "$OUT/clients/throttle-time"
  region_police
  FETCH_MAXTIME=${OPT_DURATION:-6} FETCH_TIMEOUT=$(( ${OPT_DURATION:-6} + 4 )) region_round during
  # the policed flows end and are judged (the throttling alert) before the cut
  sleep 8
  nft_rule ip saddr "$(nft_set "${PFX4[@]}")" drop
  nft_rule ip daddr "$(nft_set "${PFX4[@]}")" drop
  nft_rule ip6 saddr "$(nft_set "${PFX6[@]}")" drop
  nft_rule ip6 daddr "$(nft_set "${PFX6[@]}")" drop
  # the cut is in force from here (every rule installed)
  echo "$(date +%s.%N)" > "$OUT/clients/cut-time"
  local cut_iso; cut_iso=$(now_iso)
  sleep 14
  touch "$stop"
  join
  region_truth
  truth_tamper method=shutdown variant=full prefixes:="$(json_list "${PREFIXES[@]}")" target:=null \
    start="$cut_iso" \
    note="after the throttling, all traffic of the prefixes dropped both ways"
}
scenario throttle-shape censor "throttling: shaping media.example to 1 Mbit/s with a deep queue (tc htb + pfifo), all regions"
SHAPE_RATE=1mbit
scn_throttle_shape() {
  local d=${OPT_TARGET:-media.example} dev p
  resolve_prefixes all
  censor_on
  for dev in cen-gw cen-srv; do
    nsx tw-cen tc qdisc add dev $dev root handle 1: htb default 20
    nsx tw-cen tc class add dev $dev parent 1: classid 1:10 htb rate $SHAPE_RATE ceil $SHAPE_RATE
    nsx tw-cen tc class add dev $dev parent 1: classid 1:20 htb rate 10gbit
    nsx tw-cen tc qdisc add dev $dev parent 1:10 handle 10: bfifo limit 250000
  done
  nsx tw-srv ip link set srv-cen gso_max_segs 1
  for p in "${PFX4[@]}"; do
    nsx tw-cen tc filter add dev cen-gw parent 1: protocol ip prio 1 u32 match ip src "$(host_ip "$d")/32" match ip dst "$p" flowid 1:10
    nsx tw-cen tc filter add dev cen-srv parent 1: protocol ip prio 1 u32 match ip dst "$(host_ip "$d")/32" match ip src "$p" flowid 1:10
  done
  for p in "${PFX6[@]}"; do
    nsx tw-cen tc filter add dev cen-gw parent 1: protocol ipv6 prio 2 u32 match ip6 src "$(host_ip6 "$d")/128" match ip6 dst "$p" flowid 1:10
    nsx tw-cen tc filter add dev cen-srv parent 1: protocol ipv6 prio 2 u32 match ip6 dst "$(host_ip6 "$d")/128" match ip6 src "$p" flowid 1:10
  done
  throttle_probe "$d" bulk.example
  truth_tamper method=throttling variant=shaping rate_bps:=1000000 per_flow:=false \
    target:="$(target_json "$d" null)" prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="aggregate of the target's flows shaped with a 250 kB queue (2 s at 1 Mbit/s): RTT grows, little loss"
}

# shutdowns: clients in both regions poll continuously; the cut starts after a third
heartbeat() { # ns src file stopfile
  # one line per request: epoch exit-status family host; runs until stopfile exists
  local end=$((SECONDS + 120)) rc h=allowed.example
  while [ $SECONDS -lt $end ] && [ ! -e "$4" ] && [ -e "/run/netns/$1" ]; do
    [ $h = news.example ] && h=allowed.example || h=news.example
    timeout 2 ip netns exec "$1" curl -s4 --interface "$2" --max-time 1 -o /dev/null "http://$h/"
    rc=$?
    echo "$(date +%s.%N) $rc v4 $h" >> "$3"
    timeout 2 ip netns exec "$1" curl -s6 --cacert "$CACERT" --max-time 1 -o /dev/null "https://social.example/"
    rc=$?
    echo "$(date +%s.%N) $rc v6 social.example" >> "$3"
    sleep 0.2
  done
}
shutdown_run() { # setup-function [undo-function (default: remove every censor rule)]
  # --pre: seconds before the cut; --restore S: lift the cut after --duration
  # and keep the clients going S seconds more (the detector sees the recovery)
  local dur=${OPT_DURATION:-9} pre stop=$OUT/clients/.stop
  pre=${OPT_PRE:-$((dur / 3))}
  [ "$pre" -lt "$dur" ] || pre=$((dur - 1))
  local i
  rm -f "$stop"
  for i in 0 1 2; do
    spawn heartbeat tw-c1 "${C1_IPS[$i]}" "$OUT/clients/heartbeat-c1-$i.txt" "$stop"
    spawn heartbeat tw-c2 "${C2_IPS[$i]}" "$OUT/clients/heartbeat-c2-$i.txt" "$stop"
  done
  sleep "$pre"
  "$1"
  censor_on          # the cut is in force from here (rules installed)
  echo "$(date +%s.%N)" > "$OUT/clients/cut-time"
  sleep $((dur - pre))
  if [ -n "${OPT_RESTORE:-}" ]; then
    # times first: traffic may flow again before the undo function returns
    CENSOR_OFF=$(now_iso)
    echo "$(date +%s.%N)" > "$OUT/clients/restore-time"
    "${2:-censor_clear}"
    sleep "$OPT_RESTORE"
  fi
  touch "$stop"
  join
}
scenario shutdown-region censor "shutdown: region-a (198.51.100.0/24, 2001:db8:a::/64) cut off completely after a third of the run"
scn_shutdown_region() {
  resolve_prefixes region-a
  cut() {
    [ ${#PFX4[@]} -gt 0 ] && nft_rule ip saddr "$(nft_set "${PFX4[@]}")" drop && nft_rule ip daddr "$(nft_set "${PFX4[@]}")" drop
    [ ${#PFX6[@]} -gt 0 ] && nft_rule ip6 saddr "$(nft_set "${PFX6[@]}")" drop && nft_rule ip6 daddr "$(nft_set "${PFX6[@]}")" drop
  }
  shutdown_run cut
  truth_tamper method=shutdown variant=full prefixes:="$(json_list "${PREFIXES[@]}")" target:=null \
    note="all traffic of the prefixes dropped both ways; region-b is the control"
  truth_control prefixes:="$(json_list "$C2_NET" "$C2_NET6")" note="region-b never cut"
}
scenario shutdown-partial censor "partial shutdown: region-a loses HTTPS/QUIC (tcp/udp 443) only; HTTP and DNS keep working"
scn_shutdown_partial() {
  resolve_prefixes region-a
  cut() {
    [ ${#PFX4[@]} -gt 0 ] && nft_rule ip saddr "$(nft_set "${PFX4[@]}")" meta l4proto \{ tcp, udp \} th dport 443 drop
    [ ${#PFX6[@]} -gt 0 ] && nft_rule ip6 saddr "$(nft_set "${PFX6[@]}")" meta l4proto \{ tcp, udp \} th dport 443 drop
  }
  shutdown_run cut
  fetch c1-https-after tw-c1 "$C1" https://news.example/ -4 --max-time 2
  fetch c1-http-after tw-c1 "$C1" http://news.example/ -4 --max-time 2
  truth_tamper method=shutdown variant=partial_ports ports:='[443]' prefixes:="$(json_list "${PREFIXES[@]}")" target:=null
}
scenario shutdown-whitelist censor "partial shutdown: region-a may reach only allowed.example and the resolver (whitelist)"
scn_shutdown_whitelist() {
  resolve_prefixes region-a
  cut() {
    local wl4="{ $(host_ip allowed.example), $RESOLVER_IP }" wl6="{ $(host_ip6 allowed.example), $RESOLVER_IP6 }"
    if [ ${#PFX4[@]} -gt 0 ]; then
      nft_rule ip saddr "$(nft_set "${PFX4[@]}")" ip daddr != "$wl4" drop
      nft_rule ip daddr "$(nft_set "${PFX4[@]}")" ip saddr != "$wl4" drop
    fi
    if [ ${#PFX6[@]} -gt 0 ]; then
      nft_rule ip6 saddr "$(nft_set "${PFX6[@]}")" ip6 daddr != "$wl6" drop
      nft_rule ip6 daddr "$(nft_set "${PFX6[@]}")" ip6 saddr != "$wl6" drop
    fi
  }
  shutdown_run cut
  fetch c1-news-after tw-c1 "$C1" http://news.example/ -4 --max-time 2
  fetch c1-allowed-after tw-c1 "$C1" http://allowed.example/ -4 --max-time 2
  truth_tamper method=shutdown variant=whitelist allowed:="$(json_list allowed.example "$RESOLVER_IP")" \
    prefixes:="$(json_list "${PREFIXES[@]}")" target:=null
}
scenario shutdown-services censor "partial shutdown: region-a keeps only DNS and the web (tcp/udp 53, 80, 443); everything else, here the UDP media streams that carry most of its traffic, is dropped"
scn_shutdown_services() {
  resolve_prefixes region-a
  # rate: datagrams a second per network and family. The heartbeats' web
  # and DNS traffic (~55 packets/s towards each network) stays: at 300 the
  # cut leaves ~16 % of the baseline, well under drop_frac (25 %; at 150 it
  # left 22-27 % and the alert came or not by chance), and DNS stays a
  # visible share of the baseline (~6 %, > 2 %) to be listed as passing
  local stop=$OUT/clients/.stop rate=${STREAM_RATE:-300}
  rm -f "$stop"
  # media streams (probe.py stream) from three clients of each network and
  # family to the echo server beside allowed.example: most of the traffic
  local ns src src6 srv
  for ns in tw-c1 tw-c2; do
    if [ $ns = tw-c1 ]; then src=("${C1_IPS[@]:0:3}") src6=("${C1_IPS6[@]:0:3}"); else src=("${C2_IPS[@]:0:3}") src6=("${C2_IPS6[@]:0:3}"); fi
    spawn obs "${ns#tw-}-stream-v4" $ns 130 "$PY" "$PROBE_PY" stream "$AUX_IP" "$AUX_UDP_PORT" "$(IFS=,; echo "${src[*]}")" --rate "$rate" --stop "$stop"
    srv=$(host_ip6 allowed.example)
    spawn obs "${ns#tw-}-stream-v6" $ns 130 "$PY" "$PROBE_PY" stream "$srv" "$AUX_UDP_PORT" "$(IFS=,; echo "${src6[*]}")" --rate "$rate" --stop "$stop"
  done
  cut() {
    local keep="{ 53, 80, 443 }"
    if [ ${#PFX4[@]} -gt 0 ]; then
      nft_rule ip saddr "$(nft_set "${PFX4[@]}")" meta l4proto \{ tcp, udp \} th dport != "$keep" drop
      nft_rule ip daddr "$(nft_set "${PFX4[@]}")" meta l4proto \{ tcp, udp \} th sport != "$keep" drop
    fi
    if [ ${#PFX6[@]} -gt 0 ]; then
      nft_rule ip6 saddr "$(nft_set "${PFX6[@]}")" meta l4proto \{ tcp, udp \} th dport != "$keep" drop
      nft_rule ip6 daddr "$(nft_set "${PFX6[@]}")" meta l4proto \{ tcp, udp \} th sport != "$keep" drop
    fi
  }
  shutdown_run cut
  truth_tamper method=shutdown variant=partial_services passing:='["dns","web"]' \
    prefixes:="$(json_list "${PREFIXES[@]}")" target:=null \
    note="everything but tcp/udp 53, 80, 443 dropped both ways (the media streams); web and DNS still pass"
  truth_control prefixes:="$(json_list "$C2_NET" "$C2_NET6")" note="region-b never cut"
}

scenario gateway-link-down benign "our own failure: the gateway's interface to region-a (gw-c1) is set down, then up again; no censor"
scn_gateway_link_down() {
  # IPv6 addresses are flushed when a link goes down unless kept
  nsx tw-gw sysctl -qw net.ipv6.conf.gw-c1.keep_addr_on_down=1
  link_down() { nsx tw-gw ip link set gw-c1 down; }
  link_up() { nsx tw-gw ip link set gw-c1 up; }
  shutdown_run link_down link_up
  link_up   # also without --restore: the lab stays usable
  truth_benign kind=own_link_down iface=gw-c1 start="$CENSOR_ON" end="${CENSOR_OFF:-$(now_iso)}" \
    note="the monitored link itself went down: a link record, never a shutdown alert"
}

# ------------------------------------------------------------ benign ----
scenario benign-baseline benign "normal browsing from both regions (HTTP, HTTPS, DNS, v4 and v6, a bulk download)"
scn_benign_baseline() {
  local h i=0
  for h in blocked.example news.example allowed.example social.example; do
    fetch "c1-https-$h" tw-c1 "${C1_IPS[$((i % 4))]}" "https://$h/" -4
    fetch "c2-http-$h" tw-c2 "${C2_IPS[$((i % 4))]}" "http://$h/" -4
    fetch "c1-v6-$h" tw-c1 "${C1_IPS6[$((i % 4))]}" "https://$h/" -6
    lookup "c2-dns-$h" tw-c2 "${C2_IPS[$((i % 4))]}" "$h" A
    i=$((i + 1))
  done
  fetch c2-bulk tw-c2 "$C2" https://bulk.example/files/bulk.bin -4
  truth_benign behaviour=normal_browsing note="no tampering anywhere"
}
scenario benign-client-abort benign "clients abort: SO_LINGER 0 close after the request, and curl giving up mid-download (RST from the client)"
scn_benign_client_abort() {
  local ip; ip=$(host_ip news.example)
  obs c1-linger0 tw-c1 5 "$PY" -c '
import socket, struct, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=3, source_address=(sys.argv[2], 0))
s.sendall(b"GET /files/small.bin HTTP/1.1\r\nHost: news.example\r\n\r\n")
time.sleep(0.05)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("aborted")' "$ip" "$C1"
  FETCH_MAXTIME=0.5 fetch c2-giveup tw-c2 "$C2" https://bulk.example/files/bulk.bin -4 --limit-rate 2M
  FETCH_MAXTIME=0.5 fetch c1-giveup-v6 tw-c1 "$C16" https://bulk.example/files/bulk.bin -6 --limit-rate 2M
  truth_benign behaviour=client_abort_rst signature=client_RST \
    note="RSTs come from the real clients (SO_LINGER 0, close with unread data); the server sends no RST"
}
scenario benign-server-abort benign "server aborts: the real server reads the request and closes with RST (allowed.example:8080), near and 30 ms away"
scn_benign_server_abort() {
  # the server 30 ms away first (a delay line, no censor rule): its RST
  # comes a round trip after the request, as a real server's must; then near
  censor_on
  inpath_far allowed.example
  injector_start "[]" --queue --delay-ms 30 || return 1
  fetch c1-server-rst-far tw-c1 "$C1" "http://allowed.example:$AUX_ABORT_PORT/" -4
  fetch c2-server-rst-far tw-c2 "$C2" "http://allowed.example:$AUX_ABORT_PORT/" -4
  fetch c1-server-rst-v6-far tw-c1 "$C16" "http://allowed.example:$AUX_ABORT_PORT/" -6
  censor_clear
  fetch c1-server-rst tw-c1 "$C1" "http://allowed.example:$AUX_ABORT_PORT/" -4
  fetch c2-server-rst tw-c2 "$C2" "http://allowed.example:$AUX_ABORT_PORT/" -4
  fetch c1-server-rst-v6 tw-c1 "$C16" "http://allowed.example:$AUX_ABORT_PORT/" -6
  truth_benign behaviour=server_abort_rst target:="$(target_json allowed.example $AUX_ABORT_PORT)" \
    note="genuine RST from the server socket: TTL/IP-ID match the SYN-ACK, no later data; the -far fetches see the server 30 ms away"
}

scenario benign-closed-port benign "connection to a closed port: the server's kernel answers the SYN with RST (allowed.example:8081)"
scn_benign_closed_port() {
  fetch c1-closed tw-c1 "$C1" "http://allowed.example:$AUX_CLOSED_PORT/" -4
  fetch c2-closed tw-c2 "$C2" "http://allowed.example:$AUX_CLOSED_PORT/" -4
  fetch c1-closed-v6 tw-c1 "$C16" "http://allowed.example:$AUX_CLOSED_PORT/" -6
  truth_benign behaviour=closed_port_rst target:="$(target_json allowed.example $AUX_CLOSED_PORT)" signature=SYN-\>RST
}
scenario benign-idle-expiry benign "idle connections expire: keep-alive timeout and a silent client, both closed by nginx after 2 s"
scn_benign_idle_expiry() {
  local ip; ip=$(host_ip news.example)
  spawn obs c1-keepalive-idle tw-c1 10 "$PY" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=6, source_address=(sys.argv[2], 0))
s.sendall(b"GET / HTTP/1.1\r\nHost: news.example\r\n\r\n")
data = b""
t0 = time.time()
while True:
    try:
        b = s.recv(65536)
    except (ConnectionResetError, socket.timeout) as e:
        print("error", type(e).__name__, round(time.time() - t0, 1)); break
    if not b:
        print("closed_by_server_after", round(time.time() - t0, 1)); break
    data += b
print("status", data.split(b"\r\n", 1)[0].decode())' "$ip" "$C1"
  spawn obs c2-silent-idle tw-c2 10 "$PY" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=6, source_address=(sys.argv[2], 0))
t0 = time.time()
try:
    b = s.recv(100)
    print("closed_by_server_after" if not b else "data", round(time.time() - t0, 1))
except ConnectionResetError:
    print("reset_by_server_after", round(time.time() - t0, 1))' "$ip" "$C2"
  join
  truth_benign behaviour=idle_expiry target:="$(target_json news.example 80)" \
    note="keep-alive closed by the server with FIN after 2 s idle; a connection that never sends a request is closed by the server after client_header_timeout (2 s)"
}
scenario benign-loss benign "3% random loss on the upstream link (both directions): retransmissions that do get answered"
scn_benign_loss() {
  censor_on
  nft_rule numgen random mod 100 \< 3 counter drop
  local i
  # curl's name lookup is not retried as dig's is (LOOKUP_TRIES): with 3 %
  # loss a lost query failed a fetch with "Could not resolve host" (rc 6,
  # once in make check); the client retries, as a user would
  local retry=(--retry 2 --retry-all-errors --retry-delay 1)
  for i in 1 2 3; do fetch "c1-small-$i" tw-c1 "${C1_IPS[$i]}" "https://news.example/files/small.bin" -4 --max-time 10 "${retry[@]}"; done
  for i in 1 2; do fetch "c2-small-$i" tw-c2 "${C2_IPS[$i]}" "http://allowed.example/files/small.bin" -4 --max-time 10 "${retry[@]}"; done
  fetch c1-small-v6 tw-c1 "$C16" "https://news.example/files/small.bin" -6 --max-time 10 "${retry[@]}"
  for i in 1 2 3; do LOOKUP_TRIES=4 lookup "c2-dns-$i" tw-c2 "${C2_IPS[$i]}" news.example A; done
  truth_benign behaviour=random_loss loss_pct:=3 note="every transfer completes, with TCP retransmissions; lost DNS queries are retried by the client"
}
scenario benign-congestion benign "congested (not policed) bottleneck: tbf 8 Mbit/s with a deep queue shared by competing downloads"
scn_benign_congestion() {
  censor_on
  nsx tw-cen tc qdisc add dev cen-gw root tbf rate 8mbit burst 64kb latency 400ms
  local i
  for i in 0 1; do FETCH_MAXTIME=4 spawn fetch "c1-bulk-$i" tw-c1 "${C1_IPS[$i]}" "https://bulk.example/files/bulk.bin" -4; done
  FETCH_MAXTIME=4 spawn fetch c2-bulk tw-c2 "$C2" "https://media.example/files/bulk.bin" -4
  FETCH_MAXTIME=4 spawn fetch c2-bulk-v6 tw-c2 "$C26" "https://news.example/files/bulk.bin" -6
  sleep 1
  fetch c1-page-during tw-c1 "${C1_IPS[2]}" https://allowed.example/ -4
  join
  truth_benign behaviour=congestion bottleneck_bps:=8000000 queue=tbf_400ms \
    note="all flows share one bottleneck: RTT grows for every destination, no per-target plateau"
}
# a download with a small receive buffer, set before connect so the window stays small
RWND_CLIENT_PY='import socket, sys, time
dst, src, dur = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)   # before connect: the window stays small
s.bind((src, 0)); s.connect((dst, 80))
s.sendall(b"GET /files/bulk.bin HTTP/1.1\r\nHost: bulk.example\r\nConnection: close\r\n\r\n")
t0, n = time.time(), 0
while time.time() - t0 < dur:
    b = s.recv(2048)   # a slow reader: 2 KiB every 20 ms, the window fills
    if not b: break
    n += len(b)
    time.sleep(0.02)
print(n, round(n * 8 / (time.time() - t0)))
'
scenario benign-rwnd-limited benign "receiver-window-limited downloads: clients with a 16 KiB receive buffer reading 2 KiB every 20 ms (no loss, no queue)"
scn_benign_rwnd_limited() {
  local i src
  for i in 0 1; do
    src=${C1_IPS[$i]}
    spawn obs "c1-rwnd-$i" tw-c1 15 "$PY" -c "$RWND_CLIENT_PY" "$(host_ip bulk.example)" "$src" "${OPT_DURATION:-5}"
  done
  join
  truth_benign behaviour=receiver_window_limited rcvbuf:=16384 read_bps:=819200 \
    note="the client's small, slowly drained window sets the pace: a low steady rate without loss"
}
scenario benign-slow-server benign "a slow application server: allowed.example:$AUX_SLOW_PORT writes its response 1400 bytes every 50 ms (about 220 kbit/s)"
scn_benign_slow_server() {
  local i
  for i in 0 1; do
    FETCH_MAXTIME=${OPT_DURATION:-5} FETCH_TIMEOUT=$(( ${OPT_DURATION:-5} + 4 )) \
      spawn fetch "c1-slow-$i" tw-c1 "${C1_IPS[$i]}" "http://allowed.example:$AUX_SLOW_PORT/" -4
  done
  FETCH_MAXTIME=${OPT_DURATION:-5} FETCH_TIMEOUT=$(( ${OPT_DURATION:-5} + 4 )) \
    spawn fetch c2-slow tw-c2 "$C2" "http://allowed.example:$AUX_SLOW_PORT/" -4
  join
  truth_benign behaviour=slow_server target:="$(target_json allowed.example "$AUX_SLOW_PORT")" \
    note="the application writes slowly: low rate, no loss, the sender idles between writes"
}
scenario benign-cdn-dns benign "CDN-style varying resolver answers: cdn.example has four addresses served in rotation"
scn_benign_cdn_dns() {
  local i
  for i in 1 2 3 4; do
    lookup "c1-cdn-$i" tw-c1 "${C1_IPS[$((i % 4))]}" cdn.example A
    lookup "c2-cdn-$i" tw-c2 "${C2_IPS[$((i % 4))]}" cdn.example A
  done
  lookup c1-cdn-aaaa tw-c1 "$C16" cdn.example AAAA
  fetch c1-cdn-fetch tw-c1 "$C1" https://cdn.example/ -4
  local all=() o; for o in "${CDN_OCTETS[@]}"; do all+=("203.0.113.$o"); done
  truth_benign behaviour=cdn_rotation answers:="$(json_list "${all[@]}")" \
    note="different first A record per query from the same resolver: not injection"
}

# --------------------------------------- censors as the real ones behave ----
# Issue 18: what the corpus's real censors do that the scenarios above did
# not (CenTrace testdata, Citizen Lab "Bad Traffic"), each beside its benign
# look-alike.  once_probe: probe.py once, a raw client that sends its
# request exactly once and gives up after 1.5 s, without the kernel's
# retransmissions (CenTrace's prober does the same).
once_probe() { # name ns src ip port host [probe.py args]
  local name=$1 ns=$2 src=$3 ip=$4 port=$5 host=$6; shift 6
  obs "$name" "$ns" 10 "$PY" "$PROBE_PY" once "$ip" "$port" "$src" \
    --send 'GET / HTTP/1.1\r\nHost: '"$host"'\r\nUser-Agent: tamperwatch-lab\r\n\r\n' "$@"
}
once_round() { # domain
  local ip; ip=$(host_ip "$1")
  spawn once_probe "c1-once-1$RS" tw-c1 "$C1" "$ip" 80 "$1"
  spawn once_probe "c1-once-2$RS" tw-c1 "$C1b" "$ip" 80 "$1"
  spawn once_probe "c1-once-3$RS" tw-c1 "$C1c" "$ip" 80 "$1"
  spawn once_probe "c2-once$RS" tw-c2 "$C2" "$ip" 80 "$1"
  join
}
scenario drop-request-once censor "HTTP request dropped in-path after the handshake, sent once (a raw client gives up after 1.5 s, before any retransmission): the server never sees it and never ACKs it (CenTrace youtube.com, store.steampowered.com, www.pokerstars.com), region-a"
scn_drop_request_once() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  inpath_select "$d" 80
  injector_start "[{\"name\":\"$SCN_NAME\",\"action\":\"drop\",\"path\":\"in\",\"http_host\":[\"$d\"],\"ports\":[80],\"prefixes\":$(json_list "${PREFIXES[@]}")}]" \
    --queue || return 1
  each_round once_round "$d"
  truth_tamper method=blackhole variant=request_drop_once signature=PSH-\>timeout stage=after_handshake \
    trigger:="{\"http_host\":\"$d\"}" target:="$(target_json "$d" 80)" prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="the request (sent once, no retransmission) dropped by the censor; the server's TCP acknowledges nothing after the handshake; the region-b client's identical request is acknowledged and answered"
}

scenario benign-hung-app benign "a hung application: allowed.example:$AUX_HANG_PORT reads the request and never answers, its kernel ACKs it; raw clients send once and give up after 1.5 s, curl waits 3 s"
scn_benign_hung_app() {
  spawn once_probe c1-hung-once-1 tw-c1 "$C1" "$AUX_IP" "$AUX_HANG_PORT" allowed.example
  spawn once_probe c1-hung-once-2 tw-c1 "$C1b" "$AUX_IP" "$AUX_HANG_PORT" allowed.example
  spawn once_probe c2-hung-once tw-c2 "$C2" "$AUX_IP" "$AUX_HANG_PORT" allowed.example
  FETCH_MAXTIME=3 spawn fetch c1-hung-curl tw-c1 "$C1c" "http://allowed.example:$AUX_HANG_PORT/" -4
  join
  truth_benign behaviour=hung_application target:="$(target_json allowed.example "$AUX_HANG_PORT")" \
    note="the server's TCP acknowledges every request; the application never writes: silence that is not the path's"
}

# PacketLogic-style redirect injection (Citizen Lab, "Bad Traffic", 2018)
redirect_rule() { # path location ttl(copy|hop) [extra JSON members]
  local d; d=$(T_DOMAIN)
  echo "[{\"name\":\"$SCN_NAME\",\"action\":\"redirect\",\"path\":\"$1\",\"http_host\":[\"$d\"],\"ports\":[80],\"location\":\"$2\",\"ttl\":\"$3\",\"ipid\":13330,\"prefixes\":$(json_list "${PREFIXES[@]}")${4:+,$4}}]"
}
scenario inject-307-ttlcopy censor "in-path redirect injection: the request dropped, a 307 to an ad host (ads.example) with the server's own TTL (copied from its SYN-ACK) and IP-ID 0x3412 on every forgery, RST to the server (Telecom Egypt's PacketLogic), region-a"
scn_inject_307_ttlcopy() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  inpath_select "$d" 80
  injector_start "$(redirect_rule in http://ads.example/static1.html copy)" --queue || return 1
  each_round web_probe http
  truth_tamper method=http_injection variant=in_path_ttl_copy signature=injected_response stage=after_request \
    redirect_target=ads.example trigger:="{\"http_host\":\"$d\"}" target:="$(target_json "$d" 80)" \
    prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="request dropped; HTTP 307 to http://ads.example/static1.html with the SYN-ACK's TTL and IP-ID 0x3412 (every connection); RST to the server"
}
download_round() { # domain
  spawn fetch "c1-download-1$RS" tw-c1 "$C1" "http://$1/files/small.bin" -4
  spawn fetch "c1-download-2$RS" tw-c1 "$C1b" "http://$1/files/small.bin" -4
  spawn fetch "c1-download-v6$RS" tw-c1 "$C16" "http://$1/files/small.bin" -6
  spawn fetch "c1-page$RS" tw-c1 "$C1c" "http://$1/" -4
  spawn fetch "c2-download$RS" tw-c2 "$C2" "http://$1/files/small.bin" -4
  join
}
scenario inject-redirect-download censor "on-path redirect injection for downloads only: a request for /files/ gets a 307 to a third-party host (downloads.example, a spyware-like installer) one hop off the server's TTL, IP-ID 0x3412, racing the real response (held 30 ms) (Türk Telekom's PacketLogic), region-a"
scn_inject_redirect_download() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  delay_line "$(host_ip "$d")" "$(host_ip6 "$d")"
  injector_start "$(redirect_rule on 'http://downloads.example/down.php?a=%s' hop '"path_prefix":"/files/"')" \
    --tap cen-gw --queue --delay-ms 30 || return 1
  each_round download_round "$d"
  truth_tamper method=http_injection variant=on_path_download signature=injected_response stage=after_request \
    redirect_target=downloads.example trigger:="{\"http_host\":\"$d\",\"path_prefix\":\"/files/\"}" \
    target:="$(target_json "$d" 80)" prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="a 307 to http://downloads.example/down.php?a=<40 hex> one hop off the server's TTL, IP-ID 0x3412, wins the race against the real response held 30 ms; pages other than /files/ untouched"
}
scenario benign-redirect benign "a server that legitimately redirects: allowed.example:$AUX_REDIRECT_PORT answers every request with a 307 to https://news.example/, with its own TTL and IP-IDs"
scn_benign_redirect() {
  spawn fetch c1-redirect-1 tw-c1 "$C1" "http://allowed.example:$AUX_REDIRECT_PORT/" -4
  spawn fetch c1-redirect-2 tw-c1 "$C1b" "http://allowed.example:$AUX_REDIRECT_PORT/files/small.bin" -4
  spawn fetch c1-redirect-3 tw-c1 "$C1c" "http://allowed.example:$AUX_REDIRECT_PORT/" -4
  spawn fetch c2-redirect tw-c2 "$C2" "http://allowed.example:$AUX_REDIRECT_PORT/" -4
  join
  truth_benign behaviour=legitimate_redirect target:="$(target_json allowed.example "$AUX_REDIRECT_PORT")" \
    note="307 to another site written by the server itself: its TTL, its running IP-IDs"
}

scenario firewall-reset-after-server benign "an endpoint firewall in front of a server that resets: allowed.example:$AUX_ABORT_PORT resets the connection itself, and every later packet of the client draws an RST from the firewall at TTL 237 (CenTrace www.ft.com, test and control alike): not a censor"
scn_firewall_reset_after_server() {
  censor_on
  ipt4 -A FORWARD -p tcp -d "$AUX_IP" --dport "$AUX_ABORT_PORT" -j NFQUEUE --queue-num 2 --queue-bypass
  ipt4 -A FORWARD -p tcp -s "$AUX_IP" --sport "$AUX_ABORT_PORT" -j NFQUEUE --queue-num 2 --queue-bypass
  injector_start "[{\"name\":\"$SCN_NAME\",\"action\":\"firewall\",\"dst\":[\"$AUX_IP\"],\"ports\":[$AUX_ABORT_PORT]}]" \
    --queue || return 1
  spawn once_probe c1-fw-1 tw-c1 "$C1" "$AUX_IP" "$AUX_ABORT_PORT" allowed.example --after 3
  spawn once_probe c1-fw-2 tw-c1 "$C1b" "$AUX_IP" "$AUX_ABORT_PORT" allowed.example --after 3
  spawn once_probe c2-fw-1 tw-c2 "$C2" "$AUX_IP" "$AUX_ABORT_PORT" allowed.example --after 3
  spawn once_probe c2-fw-2 tw-c2 "$C2b" "$AUX_IP" "$AUX_ABORT_PORT" allowed.example --after 3
  join
  truth_benign behaviour=endpoint_firewall_after_server_reset target:="$(target_json allowed.example "$AUX_ABORT_PORT")" \
    note="the server's own RST (its TTL, its IP-ID) first; the firewall's RSTs (TTL 237) answer only packets of a connection already dead; every client alike"
}

scenario blockpage-fortigate censor "in-path commercial filter: a FortiGate-style Application Control block page (403 'Application Blocked', its title and /XX/YY/ZZ/CI/ images) replaces the response, region-a; named by the default fingerprints"
scn_blockpage_fortigate() {
  local d; d=$(T_DOMAIN)
  resolve_prefixes region-a
  censor_on
  inpath_select "$d" 80
  injector_start "[{\"name\":\"$SCN_NAME\",\"action\":\"blockpage\",\"path\":\"in\",\"page\":\"fortigate\",\"http_host\":[\"$d\"],\"prefixes\":$(json_list "${PREFIXES[@]}")}]" \
    --queue || return 1
  each_round web_probe http
  truth_tamper method=http_blockpage variant=fortigate status:=403 signature=injected_response stage=after_request \
    fingerprint=tw.fortigate_appctrl trigger:="{\"http_host\":\"$d\"}" target:="$(target_json "$d" 80)" \
    prefixes:="$(json_list "${PREFIXES[@]}")" \
    note="request dropped; FortiGate-style 403 Application Control page with FIN (TTL 112); RST to server"
}

# ---- one vantage point (docs/lab.md "A vantage point"): four censors at once
# against region-a, each on its own target, and the traffic of ONE client
# address of tw-c1 only (no other client, no other region): per round, the
# four blocked targets and the controls, fetched as a user of that host
# would.  Run with the detector in tw-c1 itself (--detector-ns c1 --ifaces
# c1-gw --detector tc), as on a researcher's host.
VANTAGE_RST=blocked.example VANTAGE_PAGE=news.example VANTAGE_HOLE=social.example VANTAGE_DNS=media.example
vantage_round() {
  spawn fetch "v-rst$RS" tw-c1 "$C1" "http://$VANTAGE_RST/" -4
  spawn fetch "v-page$RS" tw-c1 "$C1" "http://$VANTAGE_PAGE/" -4
  FETCH_MAXTIME=3 spawn fetch "v-hole$RS" tw-c1 "$C1" "https://$VANTAGE_HOLE/" -4
  spawn lookup "v-dns$RS" tw-c1 "$C1" "$VANTAGE_DNS" A
  spawn fetch "v-ctl-http$RS" tw-c1 "$C1" "http://allowed.example/" -4
  spawn fetch "v-ctl-https$RS" tw-c1 "$C1" "https://allowed.example/" -4
  spawn fetch "v-ctl-bulk$RS" tw-c1 "$C1" "http://bulk.example/files/small.bin" -4
  spawn lookup "v-ctl-dns$RS" tw-c1 "$C1" allowed.example A
  join
  fetch "v-ctl-https2$RS" tw-c1 "$C1" "https://bulk.example/" -4
}
scenario vantage-mixed censor "one vantage point: on-path RST (blocked.example Host), in-path 451 block page (news.example Host), SYN blackhole (social.example), on-path DNS forgery (media.example), region-a; controls allowed/bulk.example; one client address"
scn_vantage_mixed() {
  local pl
  resolve_prefixes region-a
  censor_on
  pl=$(json_list "${PREFIXES[@]}")
  delay_line "$(host_ip "$VANTAGE_RST")" "$(host_ip6 "$VANTAGE_RST")"
  delay_line "$RESOLVER_IP" "$RESOLVER_IP6"
  inpath_select "$VANTAGE_PAGE" 80
  [ ${#PFX4[@]} -gt 0 ] && nft_rule ip saddr "$(nft_set "${PFX4[@]}")" ip daddr "$(host_ip "$VANTAGE_HOLE")" tcp flags \& \(syn\|ack\) == syn drop
  [ ${#PFX6[@]} -gt 0 ] && nft_rule ip6 saddr "$(nft_set "${PFX6[@]}")" ip6 daddr "$(host_ip6 "$VANTAGE_HOLE")" tcp flags \& \(syn\|ack\) == syn drop
  injector_start "[{\"name\":\"$SCN_NAME-rst\",\"action\":\"rst\",\"path\":\"on\",\"style\":\"single\",\"http_host\":[\"$VANTAGE_RST\"],\"ports\":[80],\"prefixes\":$pl,\"to_server\":true},
{\"name\":\"$SCN_NAME-page\",\"action\":\"blockpage\",\"path\":\"in\",\"status\":451,\"http_host\":[\"$VANTAGE_PAGE\"],\"prefixes\":$pl},
{\"name\":\"$SCN_NAME-dns\",\"action\":\"dns\",\"path\":\"on\",\"qname\":[\"$VANTAGE_DNS\"],\"prefixes\":$pl,\"forged_a\":\"$FORGED_IP\",\"forged_aaaa\":\"$FORGED_IP6\"}]" \
    --tap cen-gw --queue --delay-ms 30 || return 1
  each_round vantage_round
  truth_tamper method=rst_injection variant=on_path style=single signature=PSH-\>RST stage=after_request \
    trigger:="{\"http_host\":\"$VANTAGE_RST\"}" target:="$(target_json "$VANTAGE_RST" 80)" prefixes:="$pl" \
    note="forged RST racing the real response (held 30 ms)"
  truth_tamper method=http_blockpage variant=in_path status:=451 signature=injected_response stage=after_request \
    trigger:="{\"http_host\":\"$VANTAGE_PAGE\"}" target:="$(target_json "$VANTAGE_PAGE" 80)" prefixes:="$pl" \
    note="request dropped; HTTP 451 block page with FIN to the client; RST to the server"
  truth_tamper method=blackhole variant=syn_drop signature=SYN-\>timeout stage=handshake \
    target:="$(target_json "$VANTAGE_HOLE" null)" prefixes:="$pl"
  truth_tamper method=dns_injection variant=on_path signature=forged_answer_race \
    trigger:="{\"dns_qname\":\"$VANTAGE_DNS\"}" target:="$(target_json "$VANTAGE_DNS" 53 udp)" \
    forged:="$(json_list "$FORGED_IP" "$FORGED_IP6")" prefixes:="$pl" note="forged answer first, the real one ~30 ms later"
  local c
  for c in "allowed.example 80 tcp" "allowed.example 443 tcp" "bulk.example 80 tcp" "bulk.example 443 tcp" \
    "allowed.example 53 udp"; do
    set -- $c
    truth_control target:="$(target_json "$1" "$2" "$3")" prefixes:="$(json_list "$C1_NET")" note="never tampered"
  done
}
