#!/usr/bin/env bash
# bench_replay: replay throughput of tamperwatchd (user and bpf engines)
# against ndpiReader and tshark, on two synthetic captures in the same run:
#   long   make bench's original mix (bench/gen_capture.c's default: DNS,
#          TLS and HTTP sessions with bodies up to MBs; 1.2 M packets,
#          BENCH_REPLAY_PACKETS)
#   short  a capture dominated by short flows (gen_capture's "short" mix:
#          DNS lookups and small HTTP/TLS fetches; 1.06 M packets,
#          BENCH_REPLAY_SHORT_PACKETS)
#
# The captures are made here, at benchmark time, by bench/gen_capture.c
# (compiled into build/bench/, output build/bench/replay-bench*.pcap, never
# committed; regenerated when the generator or the size changes).
#
# Every tool reads the same file from the page cache (read once before the
# runs), 3 runs each, median wall time -> packets per second.  The row of
# the target is tamperwatchd in its default output mode (user engine,
# verdicts on, the gateway's record types as JSON lines on standard output,
# here /dev/null; every record with --events is a context row).  Target: at
# least 5x ndpiReader's rate on each capture.  Exit 0 whatever the result
# (benchmarks report), 77 when a tool to compare against is missing, 1 when
# tamperwatchd itself fails on a capture.  Figures also go to
# build/bench/bench_replay.results (bench/results.sh).
set -u
cd "$(dirname "$0")/.." || exit 1

B=build/bench
TWD=build/tamperwatchd
RUNS=3
TARGET=5

skip() { echo "SKIP: $*"; exit 77; }
command -v ndpiReader >/dev/null 2>&1 || skip "ndpiReader not installed (Debian: libndpi-bin)"
command -v tshark >/dev/null 2>&1 || skip "tshark not installed (Debian: tshark)"
[ -x "$TWD" ] || skip "$TWD not built (run make all)"
CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || skip "no C compiler ($CC) for the capture generator"

mkdir -p "$B"
GEN=$B/gen_capture
if [ ! -x "$GEN" ] || [ bench/gen_capture.c -nt "$GEN" ] || [ tests/pktbuild.h -nt "$GEN" ]; then
  "$CC" -std=gnu11 -O2 -Wall -Wextra -Werror -Itests bench/gen_capture.c -o "$GEN" -lm || {
    echo "FAIL: cannot build the capture generator"; exit 1; }
fi
RESULTS=$B/bench_replay.results
: > "$RESULTS"
fail=0

# time_cmd NAME CMD...: RUNS runs, median wall seconds into MED[NAME]; rc
# of the last run into RC[NAME]; stderr of the last run kept in a log
declare -A MED RC
time_cmd() {
  local name=$1; shift
  local log="$B/replay-$name.err" t=() s e rc=0
  for ((i = 0; i < RUNS; i++)); do
    s=$EPOCHREALTIME
    "$@" >/dev/null 2>"$log"
    rc=$?
    e=$EPOCHREALTIME
    t+=("$(awk -v a="$s" -v b="$e" 'BEGIN {printf "%.6f", b - a}')")
  done
  MED[$name]=$(printf '%s\n' "${t[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  RC[$name]=$rc
}

# bench_capture MIX PACKETS: make the capture, time every tool on it, print
# the table and the target line, append the figure to $RESULTS
bench_capture() {
  local mix=$1 npkt=$2 pcap=$B/replay-bench.pcap
  [ "$mix" = long ] || pcap=$B/replay-bench-$mix.pcap
  if [ ! -s "$pcap" ] || [ "$GEN" -nt "$pcap" ] || [ "$(cat "$pcap.n" 2>/dev/null)" != "$npkt" ]; then
    rm -f "$pcap" "$pcap.n"
    "$GEN" "$pcap.tmp" "$npkt" 1 "$mix" 2>"$B/gen_capture-$mix.log" || {
      cat "$B/gen_capture-$mix.log"; echo "FAIL: generator"; exit 1; }
    mv "$pcap.tmp" "$pcap" && echo "$npkt" > "$pcap.n"
  fi
  # the generator's summary line says what is in the file
  local summary frames
  summary=$(tail -n1 "$B/gen_capture-$mix.log" 2>/dev/null)
  frames=$(capinfos -c -M "$pcap" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
  [ -n "$frames" ] || frames=$(awk '{print $2}' <<<"$summary")
  cat "$pcap" > /dev/null   # page cache: every tool reads from memory

  MED=() RC=()
  local order=() label=()
  add_row() { order+=("$1"); label+=("$2"); }
  time_cmd tw_user "$TWD" --replay "$pcap"
  add_row tw_user "tamperwatchd --replay FILE (default: gateway set)"
  if [ "$(id -u)" -eq 0 ]; then
    time_cmd tw_bpf "$TWD" --replay "$pcap" --replay-engine bpf
    add_row tw_bpf "tamperwatchd --replay-engine bpf"
  fi
  time_cmd ndpi ndpiReader -i "$pcap" -q
  add_row ndpi "ndpiReader -i FILE -q"
  time_cmd tshark tshark -r "$pcap" -n -q
  add_row tshark "tshark -r FILE -n -q"
  time_cmd tshark_rst tshark -r "$pcap" -n -q -Y "tcp.flags.reset==1"
  add_row tshark_rst "tshark -r FILE -n -q -Y tcp.flags.reset==1"
  # context: the same user-engine run writing its JSON to a real file, and
  # without verdicts (how much of the time is output and verdict work)
  local alerts=$B/replay-alerts-$mix.json
  time_cmd tw_user_file bash -c "rm -f '$alerts'; exec '$TWD' --replay '$pcap' --alerts '$alerts'"
  add_row tw_user_file "  (user, --alerts to a file)"
  time_cmd tw_user_nov "$TWD" --replay "$pcap" --no-verdicts
  add_row tw_user_nov "  (user, --no-verdicts)"
  # every record, the per-packet events too (research, debugging)
  time_cmd tw_user_ev "$TWD" --replay "$pcap" --events
  add_row tw_user_ev "  (user, --events: every record)"

  local n
  for n in tw_user tw_user_file tw_user_nov tw_user_ev ${MED[tw_bpf]:+tw_bpf}; do
    if [ "${RC[$n]}" -ne 0 ]; then
      echo "FAIL: tamperwatchd ($n) exited ${RC[$n]} on the $mix capture:"; tail -n 5 "$B/replay-$n.err"; fail=1
    fi
  done
  for n in ndpi tshark tshark_rst; do
    [ "${RC[$n]}" -eq 0 ] || { echo "note: $n exited ${RC[$n]} (last lines of its stderr:)"; tail -n 3 "$B/replay-$n.err"; }
  done

  echo "== $mix capture: $frames packets, $(du -m "$pcap" | cut -f1) MiB ($pcap)"
  echo "  $summary"
  echo "  median of $RUNS wall-clock runs each, file in the page cache; $(nproc) CPUs"
  echo
  local nd=${MED[ndpi]} i
  printf '%-46s %9s %12s %10s\n' "tool" "seconds" "packets/s" "vs ndpi"
  for i in "${!order[@]}"; do
    n=${order[$i]}
    awk -v l="${label[$i]}" -v s="${MED[$n]}" -v f="$frames" -v nd="$nd" \
      'BEGIN {printf "%-46s %9.2f %12.0f %9.2fx\n", l, s, f / s, nd / s}'
  done
  echo
  if [ -s "$alerts" ]; then
    echo "tamperwatchd (user) final stats line:"
    grep '"event_type":"stats"' "$alerts" | tail -n1 | sed 's/^/  /'
    echo "  lines by event_type:" $(grep -o '"event_type":"[a-z_]*"' "$alerts" | sort | uniq -c |
      awk '{gsub(/"event_type":|"/, "", $2); printf "%s=%s ", $2, $1}')
    echo
  fi
  local ratio verdict
  ratio=$(awk -v a="${MED[tw_user]}" -v b="$nd" 'BEGIN {printf "%.2f", b / a}')
  if awk -v r="$ratio" -v t="$TARGET" 'BEGIN {exit !(r >= t)}'; then verdict="TARGET MET"; else verdict="TARGET MISSED"; fi
  echo "target ($mix capture): default output mode >= ${TARGET}x ndpiReader's packet rate: ${ratio}x: $verdict"
  echo
  awk -v mix="$mix" -v f="$frames" -v a="${MED[tw_user]}" -v b="$nd" -v t="$TARGET" -v r="$ratio" 'BEGIN {
    printf "{\"figure\":\"replay packet rate, %s-flow capture\",\"workload\":\"bench_replay: gen_capture %s mix, %d packets, tamperwatchd --replay (default output: the gateway record types) beside ndpiReader -q, median of 3\",\"value\":%.0f,\"unit\":\"packets/s\",\"baseline\":%.0f,\"ratio\":%s,\"target\":\">= %.2f\",\"met\":%s}\n",
      mix, mix, f, f / a, f / b, r, t, (r >= t) ? "true" : "false" }' >> "$RESULTS"
}

bench_capture long "${BENCH_REPLAY_PACKETS:-1200000}"
bench_capture short "${BENCH_REPLAY_SHORT_PACKETS:-1060000}"
exit $fail
