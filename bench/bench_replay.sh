#!/usr/bin/env bash
# bench_replay: replay throughput of tamperwatchd (user and bpf engines)
# against ndpiReader and tshark on one synthetic capture.
#
# The capture is made here, at benchmark time, by bench/gen_capture.c
# (compiled into build/bench/, output build/bench/replay-bench.pcap, never
# committed; regenerated when the generator or the size changes).
# BENCH_REPLAY_PACKETS (default 1200000) sets its size.
#
# Every tool reads the same file from the page cache (read once before the
# runs), 3 runs each, median wall time -> packets per second.  Target: the
# user engine at least 5x ndpiReader's rate.  Exit 0 whatever the result
# (benchmarks report), 77 when a tool to compare against is missing, 1 when
# tamperwatchd itself fails on the capture.
set -u
cd "$(dirname "$0")/.." || exit 1

B=build/bench
TWD=build/tamperwatchd
NPKT=${BENCH_REPLAY_PACKETS:-1200000}
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
PCAP=$B/replay-bench.pcap
if [ ! -x "$GEN" ] || [ bench/gen_capture.c -nt "$GEN" ] || [ tests/pktbuild.h -nt "$GEN" ]; then
  "$CC" -std=gnu11 -O2 -Wall -Wextra -Werror -Itests bench/gen_capture.c -o "$GEN" -lm || {
    echo "FAIL: cannot build the capture generator"; exit 1; }
fi
if [ ! -s "$PCAP" ] || [ "$GEN" -nt "$PCAP" ] || [ "$(cat "$PCAP.n" 2>/dev/null)" != "$NPKT" ]; then
  rm -f "$PCAP" "$PCAP.n"
  "$GEN" "$PCAP.tmp" "$NPKT" 1 2>"$B/gen_capture.log" || { cat "$B/gen_capture.log"; echo "FAIL: generator"; exit 1; }
  mv "$PCAP.tmp" "$PCAP" && echo "$NPKT" > "$PCAP.n"
fi
# the generator's summary line says what is in the file
GEN_SUMMARY=$(tail -n1 "$B/gen_capture.log" 2>/dev/null)
FRAMES=$(capinfos -c -M "$PCAP" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
[ -n "$FRAMES" ] || FRAMES=$(awk '{print $2}' <<<"$GEN_SUMMARY")
cat "$PCAP" > /dev/null   # page cache: every tool reads from memory

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

ORDER=()
LABEL=()
add_row() { ORDER+=("$1"); LABEL+=("$2"); }

time_cmd tw_user "$TWD" --replay "$PCAP" --alerts /dev/null --replay-engine user
add_row tw_user "tamperwatchd --replay-engine user"
if [ "$(id -u)" -eq 0 ]; then
  time_cmd tw_bpf "$TWD" --replay "$PCAP" --alerts /dev/null --replay-engine bpf
  add_row tw_bpf "tamperwatchd --replay-engine bpf"
fi
time_cmd ndpi ndpiReader -i "$PCAP" -q
add_row ndpi "ndpiReader -i FILE -q"
time_cmd tshark tshark -r "$PCAP" -n -q
add_row tshark "tshark -r FILE -n -q"
time_cmd tshark_rst tshark -r "$PCAP" -n -q -Y "tcp.flags.reset==1"
add_row tshark_rst "tshark -r FILE -n -q -Y tcp.flags.reset==1"
# context: the same user-engine run writing its JSON to a real file, and
# without verdicts (how much of the time is output and verdict work)
ALERTS=$B/replay-alerts.json
time_cmd tw_user_file bash -c "rm -f '$ALERTS'; exec '$TWD' --replay '$PCAP' --alerts '$ALERTS' --replay-engine user"
add_row tw_user_file "  (user, --alerts to a file)"
time_cmd tw_user_nov "$TWD" --replay "$PCAP" --alerts /dev/null --replay-engine user --no-verdicts
add_row tw_user_nov "  (user, --no-verdicts)"

fail=0
for n in tw_user tw_user_file tw_user_nov ${MED[tw_bpf]:+tw_bpf}; do
  if [ "${RC[$n]}" -ne 0 ]; then
    echo "FAIL: tamperwatchd ($n) exited ${RC[$n]}:"; tail -n 5 "$B/replay-$n.err"; fail=1
  fi
done
for n in ndpi tshark tshark_rst; do
  [ "${RC[$n]}" -eq 0 ] || { echo "note: $n exited ${RC[$n]} (last lines of its stderr:)"; tail -n 3 "$B/replay-$n.err"; }
done

echo "bench_replay: $FRAMES packets, $(du -m "$PCAP" | cut -f1) MiB ($PCAP)"
echo "  $GEN_SUMMARY"
echo "  median of $RUNS wall-clock runs each, file in the page cache; $(nproc) CPUs"
echo
ND=${MED[ndpi]}
printf '%-46s %9s %12s %10s\n' "tool" "seconds" "packets/s" "vs ndpi"
for i in "${!ORDER[@]}"; do
  n=${ORDER[$i]}
  awk -v l="${LABEL[$i]}" -v s="${MED[$n]}" -v f="$FRAMES" -v nd="$ND" \
    'BEGIN {printf "%-46s %9.2f %12.0f %9.2fx\n", l, s, f / s, nd / s}'
done
echo
if [ -s "$ALERTS" ]; then
  echo "tamperwatchd (user) final stats line:"
  grep '"event_type":"stats"' "$ALERTS" | tail -n1 | sed 's/^/  /'
  echo "  lines by event_type:" $(grep -o '"event_type":"[a-z_]*"' "$ALERTS" | sort | uniq -c |
    awk '{gsub(/"event_type":|"/, "", $2); printf "%s=%s ", $2, $1}')
  echo
fi
ratio=$(awk -v a="${MED[tw_user]}" -v b="$ND" 'BEGIN {printf "%.2f", b / a}')
if awk -v r="$ratio" -v t="$TARGET" 'BEGIN {exit !(r >= t)}'; then verdict="TARGET MET"; else verdict="TARGET MISSED"; fi
echo "target: user engine >= ${TARGET}x ndpiReader's packet rate: ${ratio}x: $verdict"
exit $fail
