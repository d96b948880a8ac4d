#!/usr/bin/env bash
# Damaged real captures (tests/hostile/mutate.py, seeded: the same files on
# every run) through the replay: bit flips, cuts, absurd record lengths,
# runs of empty records, damaged and cut gzip.  Each run must exit 0 or 1
# (1 only with a one-to-three-line message naming the file), stay under
# 256 MiB of memory, write only whole JSON lines ending with the closing
# stats record; as root the bpf engine (the real XDP program) must write
# the same lines and exit the same way.
. "$(dirname "$0")/lib.sh"
C=../shared/corpus
SRCS=(
  "$C/censoredplanet__CenTrace/testdata/116.223.148.197_www.ft.com_www.ft.com.pcap"
  "$C/citizenlab__badtraffic/pcaps/turkey-malware-injection.pcap"
  "$C/gfw-report__usenixsecurity25-quic-sni/experiments/availability-attack/pcap/quic_victim_client_anon.pcap"
  "$C/chrissanders__packets/dns_isp_hijack.pcapng"
  "$C/chrissanders__packets/http_espn_fail.pcapng"
)
for s in "${SRCS[@]}"; do [ -r "$s" ] || skip "corpus capture missing: $s"; done
"$PY" tests/hostile/mutate.py "$WORK/m" "${SRCS[@]}" >"$WORK/list" || fail "mutate"
BPF=0
if [ "$(id -u)" = 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then BPF=1; else echo "not root: user engine only"; fi
n=0 faults=0
while read -r name kind src; do
  f=$WORK/m/$name
  for eng in user $([ $BPF = 1 ] && echo bpf); do
    /usr/bin/time -f %M -o "$WORK/rss" "$TW" --events --replay "$f" --replay-engine $eng --alerts "$WORK/$eng.json" 2>"$WORK/$eng.err"
    rc=$?
    eval "rc_$eng=$rc"
    rss=$(tail -n1 "$WORK/rss")
    [ $rc = 0 ] || [ $rc = 1 ] || fail "$name ($kind of $src, $eng): exit $rc: $(cat "$WORK/$eng.err")"
    [ "$rss" -lt 262144 ] || fail "$name ($eng): $rss KiB of memory"
    if [ $rc = 1 ]; then
      [ "$(wc -l <"$WORK/$eng.err")" -le 3 ] && grep -q "^tamperwatchd: $f" "$WORK/$eng.err" ||
        fail "$name ($eng): exit 1 without a short message naming the file: $(head -c 600 "$WORK/$eng.err")"
    fi
    "$PY" - "$WORK/$eng.json" <<'PY' || fail "$name ($kind, $eng): output"
import json, sys
d = open(sys.argv[1], "rb").read()
assert d.endswith(b"\n"), "ends mid-line"
L = [json.loads(l) for l in d.splitlines()]
assert L[-1]["event_type"] == "stats" and L[-1]["final"], "no closing stats record"
PY
  done
  if [ $BPF = 1 ]; then
    [ "$rc_user" = "$rc_bpf" ] || fail "$name: exit user $rc_user, bpf $rc_bpf"
    cmp -s <(grep -v '"event_type":"stats"' "$WORK/user.json") <(grep -v '"event_type":"stats"' "$WORK/bpf.json") ||
      fail "$name ($kind of $src): the engines disagree"
  fi
  n=$((n + 1)); faults=$((faults + rc_user))
done <"$WORK/list"
[ $n -ge 30 ] || fail "only $n damaged captures"
ok "$n damaged captures ($faults reported as faults, exit 1), engines: user$([ $BPF = 1 ] && echo ' and bpf, identical'); memory bounded, output whole"
