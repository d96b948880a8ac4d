#!/usr/bin/env bash
# Malformed configuration, declared restrictions and regions files (issue
# 20, 9): each is refused with exit 2 and exactly one line on stderr that
# names FILE:LINE, the line where the fault is, with any control byte shown
# as \xHH.  A read-only state directory is refused at start (exit 3, one
# line naming it).
. "$(dirname "$0")/lib.sh"
python3 tests/replay/craft_alerts.py "$WORK/craft" || fail craft
n=0
refused() {  # NAME LINE WANT BYTES (printf format) [kind: config|declared|regions]
  local name=$1 line=$2 want=$3 bytes=$4 kind=${5:-config} f=$WORK/$1 rc
  printf "$bytes" >"$f"
  case $kind in
    config)   "$TW" -c "$f" --check-config 2>"$WORK/err" >/dev/null ;;
    declared) "$TW" --events --replay "$WORK/craft/benign.pcap" --declared "$f" --alerts /dev/null 2>"$WORK/err" ;;
    regions)  "$TW" --events --replay "$WORK/craft/benign.pcap" --set regions.file="$f" --alerts /dev/null 2>"$WORK/err" ;;
  esac
  rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$WORK/err")" = 1 ] && grep -qF "$f:$line: $want" "$WORK/err" ||
    fail "$name: rc $rc, want '$f:$line: $want': $(cat -v "$WORK/err")"
  LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <"$WORK/err") && fail "$name: control bytes in the message: $(cat -v "$WORK/err")"
  n=$((n + 1))
}
refused nul.conf 2 "NUL byte in the line" '[flows]\ntcp_idle = 5\0junk\n'
refused nul3.conf 3 "NUL byte in the line" '[flows]\n# c\nudp_idle = 7\0\ntcp_idle = 5\n'
refused emptysec.conf 2 "empty section name" '# x\n[   ]\n\ntcp_idle = 5\n'
refused escape.conf 2 'flows.tcp_idle: expected a whole number from 1 to 86400 (seconds), got '"'"'\x1b[2J\x1b]0;x\x07'"'" '[flows]\ntcp_idle = \033[2J\033]0;x\007\n'
refused badsec.conf 1 "malformed section header" '[flows\n'
refused unknown.conf 3 "unknown key 'nope' in section [alerts]" '[alerts]\nwindow = 60\nnope = 1\n'
refused noeq.conf 2 "expected 'key = value'" '[alerts]\nwindow\n'
refused outside.conf 1 "key 'window' outside any [section]" 'window = 60\n'
refused long.conf 2 "line too long or file too large" "[alerts]\n# $(head -c 1100 /dev/zero | tr '\0' x)\n"
refused ratio.conf 2 "alerts.min_ratio: expected a number from 0 to 1" '[alerts]\nmin_ratio = 1.5\n'
refused sample0.conf 2 "flows.sample: expected a whole number from 1 to 65536, got '0'" '[flows]\nsample = 0\n'
refused samplebig.conf 3 "flows.sample_max: expected a whole number from 1 to 65536, got '65537'" '[flows]\nsample = 2\nsample_max = 65537\n'
refused samplefrac.conf 2 "flows.sample: expected a whole number from 1 to 65536, got '1.5'" '[flows]\nsample = 1.5\n'
refused v6small.conf 3 "flows.max_ipv6: expected 0 (flows.max / 8) or a whole number from 1024 to 16777216, got '512'" '[flows]\nmax = 4096\nmax_ipv6 = 512\n'
refused v6word.conf 2 "flows.max_ipv6: expected 0 (flows.max / 8) or a whole number from 1024 to 16777216, got 'half'" '[flows]\nmax_ipv6 = half\n'
refused quietneg.conf 2 "flows.sample_quiet: expected a whole number from 0 to 86400, got '-1'" '[flows]\nsample_quiet = -1\n'
refused ringodd.conf 3 "events.ring_size: expected a power of two from 16384 to 1073741824, got '100000'" '[flows]\n[events]\nring_size = 100000\n'
refused ringsmall.conf 2 "events.ring_size: expected a whole number from 16384 to 1073741824, got '8192'" '[events]\nring_size = 8192\n'
refused ringbig.conf 2 "events.ring_size: expected a whole number from 16384 to 1073741824, got '2147483648'" '[events]\nring_size = 2147483648\n'
refused date.csv 1 "since: expected YYYY-MM-DD or empty, got '2020-02-30'" 'a.example, any, Law, 2020-02-30,\n' declared
refused hostbits.csv 2 "pattern: '198.51.100.7/24': host bits set in prefix" '# x\n198.51.100.7/24, any, Law, ,\n' declared
refused nul.csv 1 "NUL byte in the line" 'a.example\0x, any, Law, ,\n' declared
refused fields.csv 1 "expected 5 comma-separated fields" 'a.example, any\n' declared
refused dup.regions 3 "duplicate prefix" '10.0.0.0/8 a\n10.1.0.0/16 b\n10.0.0.0/8 c\n' regions
refused host.regions 1 "host bits set in prefix" '10.0.0.1/8 a\n' regions
ok "$n malformed files: exit 2, one line naming FILE:LINE, control bytes escaped"

[ "$(id -u)" = 0 ] || skip "not root: no read-only tmpfs for the state directory"
mkdir "$WORK/ro" && mount -t tmpfs -o ro,size=64k tw-hostile-ro "$WORK/ro" || skip "cannot mount a tmpfs"
trap 'umount "$WORK/ro" 2>/dev/null; cleanup' EXIT
"$TW" --events --replay "$WORK/craft/incident.pcap" --state "$WORK/ro" --alerts "$WORK/ro.json" 2>"$WORK/ro.err"; rc=$?
[ $rc = 3 ] && [ "$(wc -l <"$WORK/ro.err")" = 1 ] && grep -q "$WORK/ro: Read-only file system" "$WORK/ro.err" ||
  fail "read-only state: rc $rc: $(cat "$WORK/ro.err")"
ok "read-only state directory: refused at start, exit 3, one line"
