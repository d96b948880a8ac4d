#!/usr/bin/env bash
# The installed daemon with the installed configuration loads the installed
# default fingerprint set without a warning, and its FortiGate rows name the
# FortiGate Application Control block page in a real capture (CenTrace
# testdata, www.bitcomet.com behind 91.199.201.114).
. "$(dirname "$0")/lib.sh"

corpus=${TW_CORPUS:-../shared/corpus}
pcap=$corpus/censoredplanet__CenTrace/testdata/91.199.201.114_www.bitcomet.com_www.bitcomet.com.pcap
control=$corpus/censoredplanet__CenTrace/testdata/91.199.201.114_www.bitcomet.com_example.com.pcap
if [ ! -r "$pcap" ] || [ ! -r "$control" ]; then
  echo "SKIP: CenTrace captures not found under $corpus (set TW_CORPUS)"
  exit 77
fi

d=$tmp/root
mk install DESTDIR="$d" PREFIX=/usr >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
# the installed configuration names /usr/share/tamperwatch: point it into DESTDIR
conf=$tmp/tamperwatchd.conf
sed "s|/usr/share/tamperwatch/|$d/usr/share/tamperwatch/|" "$d/etc/tamperwatch/tamperwatchd.conf" >"$conf"
grep -q "^files = $d/usr/share/tamperwatch/fingerprints.csv\$" "$conf" || fail "no fingerprints.files line to point at $d"
daemon=$d/usr/sbin/tamperwatchd
rows=$(($(wc -l <"$d/usr/share/tamperwatch/fingerprints.csv") - 1))

"$daemon" --check-config -c "$conf" >"$tmp/check.out" 2>"$tmp/check.err" || fail "--check-config: $(cat "$tmp/check.err")"
grep -qx "tamperwatchd: $rows fingerprints loaded, 0 skipped" "$tmp/check.out" &&
  ok "installed configuration loads the $rows installed fingerprints" || fail "check-config said: $(cat "$tmp/check.out")"
[ ! -s "$tmp/check.err" ] && ok "no warning" || fail "warnings: $(cat "$tmp/check.err")"

# the block page: a verdict names a FortiGate row
"$daemon" -c "$conf" --replay "$pcap" --alerts - >"$tmp/test.json" 2>"$tmp/test.err" || fail "replay: $(tail -n 3 "$tmp/test.err")"
fp=$(grep -o '"fingerprint":"[^"]*"' "$tmp/test.json" | sort -u)
[[ $fp == '"fingerprint":"tw.fortigate_'* ]] && [ "$(echo "$fp" | wc -l)" -eq 1 ] &&
  grep -q '"method":"http_blockpage".*"blockpage_fingerprint"' "$tmp/test.json" &&
  ok "the FortiGate block page: http_blockpage verdict, $fp" || fail "verdicts name: '$fp'"
[ ! -s "$tmp/test.err" ] && ok "replay without a message" || fail "replay stderr: $(head -n 3 "$tmp/test.err")"

# the control measurement of the same server, no block page: no fingerprint
"$daemon" -c "$conf" --replay "$control" --alerts - >"$tmp/control.json" 2>"$tmp/control.err" || fail "control replay"
grep -q '"fingerprint":"tw\.' "$tmp/control.json" && fail "the control capture matched a fingerprint" ||
  ok "the control capture (example.com on the same server) matches none"

finish
