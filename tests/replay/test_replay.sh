#!/usr/bin/env bash
# Offline replay: both engines byte-identical on every capture of the corpus
# and on crafted ones; the capture's clock drives timeouts; bad input is
# reported on one line, what came before it processed, nothing crashes.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
SMALL=(--set flows.max=16384)   # the kernel map is preallocated: keep each run's set-up short
CORPUS=${TW_CORPUS:-../shared/corpus}
W=$(mktemp -d /tmp/tw-replay.XXXXXX); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
python3 tests/replay/craft.py "$W/c" || fail "craft"
has_bpf=1
[ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ] || has_bpf=0

# --- parity on every capture ------------------------------------------------
# Captures run two at a time (each engine run is mostly program load and
# verification, so the two cores both work); each writes its outputs under
# its own number and, on failure, one line to $W/fail.N.  One python process
# checks every output is JSON afterwards (a python3 start costs up to 2 s on
# a busy machine when it is a pyenv shim).
JOBS=${TW_REPLAY_JOBS:-2}
parity() {  # capture, number
  local f=$1 u=$W/p/$2.u.json b=$W/p/$2.b.json ru rb
  "$TW" --events --replay "$f" "${SMALL[@]}" --alerts "$u" 2>"$u.err"; ru=$?
  [ $ru -le 1 ] || { echo "$f: user engine exit $ru: $(cat "$u.err")" > "$W/fail.$2"; return; }
  echo "$u" > "$W/json.$2"; echo "$f" > "$W/p/$2.src"
  [ $has_bpf = 1 ] || return
  "$TW" --events --replay "$f" --replay-engine bpf "${SMALL[@]}" --alerts "$b" 2>"$b.err"; rb=$?
  [ $rb = $ru ] || { echo "$f: exit status user $ru, bpf $rb: $(cat "$b.err")" > "$W/fail.$2"; return; }
  cmp -s "$u" "$b" || echo "$f: engines differ: $(diff "$u" "$b" | head -5)" > "$W/fail.$2"
}
mkdir -p "$W/p"
n=0
files=$(find "$CORPUS" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) 2>/dev/null | sort)
[ -n "$files" ] || echo "note: no corpus under $CORPUS; crafted captures only"
for f in $files "$W/c/good.pcap" "$W/c/gap.pcap" "$W/c/raw_ip.pcap" "$W/c/good.pcap.gz" "$W/c/out_of_order.pcap" "$W/c/short_snap.pcap"; do
  n=$((n + 1))
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  parity "$f" "$n" &
done
wait
if compgen -G "$W/fail.*" >/dev/null; then cat "$W"/fail.* >&2; fail "$(ls "$W"/fail.* | wc -l) of $n captures"; fi
[ "$(cat "$W"/json.* | wc -l)" = "$n" ] || fail "only $(cat "$W"/json.* | wc -l) of $n captures replayed"
python3 -c '
import json, sys
for p in sys.argv[1:]:
    for i, l in enumerate(open(p), 1):
        try: json.loads(l)
        except ValueError as e:
            src = open(p[:-7] + ".src").read().strip()   # N.u.json -> N.src: the capture
            sys.exit(f"{src}: line {i}: invalid JSON: {e}")
' $(cat "$W"/json.*) || fail "invalid JSON"
[ $has_bpf = 1 ] && ok "$n captures: user and bpf engines byte-identical" || ok "$n captures replayed (no root/BTF: bpf engine not compared)"

# --- what the crafted captures must show ---------------------------------------
"$TW" --events --replay "$W/c/good.pcap" --alerts "$W/g.json" || fail "good.pcap"
python3 - "$W/g.json" <<'PY' || fail "good.pcap events"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
t = [x["event_type"] for x in r]
rst = [x for x in r if x["event_type"] == "rst"]
assert len(rst) == 1, rst
x = rst[0]
assert x["direction"] == "to_client" and x["packet"]["ttl"] == 118 and x["context"]["sender_ttl_base"] == 52, x
assert x["context"]["stage"] == "after_request", x
assert t.count("data_after_rst") == 1, t
assert t.count("handshake") == 2 and t.count("flow") == 3 and t.count("dns") == 2, t
assert not any("198.51.100.7" in l for l in open(sys.argv[1])), "client address in clear"
s = r[-1]["stats"]
assert r[-1]["event_type"] == "stats" and s["packets"] == 17 and s["flows_new"] == 3, s
print("good.pcap: rst with TTL 118 against SYN-ACK 52 after the request, race seen, 3 flows")
PY
ok "crafted flows give the expected events"

"$TW" --events --replay "$W/c/gap.pcap" --alerts "$W/gap.json" || fail "gap.pcap"
python3 - "$W/gap.json" <<'PY' || fail "capture clock"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
first_end = [i for i, x in enumerate(r) if x["event_type"] == "flow" and x["dest_port"] == 443]
second = [i for i, x in enumerate(r) if x["event_type"] == "handshake"]
assert first_end and second and first_end[0] < second[0], "idle flow did not end before the next flow"
assert r[first_end[0]]["flow"]["end_reason"] == "idle", r[first_end[0]]
print("the SYN-only flow ended idle at capture time, before the flow 200 s later")
PY
ok "capture timestamps are the clock"

cat "$W/c/good.pcap" | "$TW" --events --replay - --alerts "$W/stdin.json" || fail "stdin"
cmp -s "$W/stdin.json" "$W/g.json" || fail "stdin replay differs from file replay"
ok "'-' reads standard input"

# --- bad input -------------------------------------------------------------------
expect_fault() {  # file, message regexp, frames expected before the fault
  "$TW" --events --replay "$W/c/$1" --alerts "$W/f.json" 2>"$W/f.err"; rc=$?
  [ $rc -eq 1 ] || fail "$1: exit $rc, expected 1: $(cat "$W/f.err")"
  grep -Eq "$2" "$W/f.err" || fail "$1: message does not match '$2': $(cat "$W/f.err")"
  [ "$(wc -l < "$W/f.err")" -le 3 ] || fail "$1: more than a short message: $(cat "$W/f.err")"
  frames=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(r[-1]["stats"]["replay"]["frames"])' "$W/f.json")
  if [ "$3" = "+" ]; then [ "$frames" -gt 0 ] || fail "$1: no frame processed before the fault"
  else [ "$frames" = "$3" ] || fail "$1: $frames frames processed before the fault, expected $3"; fi
  ok "$1 -> $(head -1 "$W/f.err")"
}
expect_fault truncated.pcap "truncated.pcap: packet 17: truncated" 16
expect_fault corrupt.pcap "corrupt.pcap: packet 3: .*capture length" 2
expect_fault cut.pcap.gz "cut.pcap.gz: .*gzip stream truncated" +
"$TW" --events --replay "$W/c/unknown_linktype.pcap" --alerts "$W/f.json" 2>"$W/f.err"; rc=$?
[ $rc -eq 1 ] && grep -q "unsupported link type 105 (IEEE802_11)" "$W/f.err" || fail "unknown link type: rc=$rc $(cat "$W/f.err")"
ok "unknown link type named: $(head -1 "$W/f.err")"
"$TW" --events --replay "$W/c/short_snap.pcap" --alerts "$W/f.json" || fail "short snap length must not be fatal"
python3 - "$W/f.json" <<'PY' || fail "short snap counters"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]["stats"]
assert s["untracked"]["truncated_l3"] + s["untracked"]["truncated_l4"] == 17, s
print("20-byte snap length: all 17 frames counted as truncated, none tracked")
PY
ok "snap length shorter than the headers is counted"
"$TW" --events --replay "$W/c/out_of_order.pcap" --alerts "$W/f.json" 2>"$W/f.err" || fail "out of order must not be fatal"
python3 -c 'import json,sys; s=[json.loads(l) for l in open(sys.argv[1])][-1]["stats"]["replay"]; assert s["out_of_order"]==1, s' "$W/f.json" || fail "out-of-order count"
ok "out-of-order timestamps tolerated and counted"
"$TW" --events --replay "$W/c/no-such.pcap" --alerts /dev/null 2>"$W/f.err"; rc=$?
[ $rc -eq 1 ] && grep -q "no-such.pcap: No such file" "$W/f.err" || fail "missing file: $rc $(cat "$W/f.err")"
ok "missing file reported"
