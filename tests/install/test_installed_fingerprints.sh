#!/usr/bin/env bash
# The default fingerprint set: built into the installed daemon and loaded
# with the installed configuration (and with none at all, as a new user
# replays), its readable copy installed beside it, and its FortiGate rows
# naming the FortiGate Application Control block page in a real capture
# (CenTrace testdata, www.bitcomet.com behind 91.199.201.114).  Then the
# installed tamperwatch-fingerprints puts OONI's list (the corpus copy, as a
# user-supplied file and through a file:// URL: no Internet here) into a
# configuration directory, refuses a bad file with one line naming its line,
# and the daemon loads the merged set.
. "$(dirname "$0")/lib.sh"

corpus=${TW_CORPUS:-../shared/corpus}
pcap=$corpus/censoredplanet__CenTrace/testdata/91.199.201.114_www.bitcomet.com_www.bitcomet.com.pcap
control=$corpus/censoredplanet__CenTrace/testdata/91.199.201.114_www.bitcomet.com_example.com.pcap
ooni=$corpus/ooni__blocking-fingerprints
if [ ! -r "$pcap" ] || [ ! -r "$control" ] || [ ! -r "$ooni/fingerprints_http.csv" ]; then
  echo "SKIP: CenTrace captures or OONI fingerprints not found under $corpus (set TW_CORPUS)"
  exit 77
fi

d=$tmp/root
mk install DESTDIR="$d" PREFIX=/usr >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
conf=$d/etc/tamperwatch/tamperwatchd.conf
daemon=$d/usr/sbin/tamperwatchd
copy=$d/usr/share/tamperwatch/fingerprints.csv
rows=$(($(wc -l <"$copy") - 1))
cmp -s "$copy" data/fingerprints.csv && ok "the readable copy of the default set is installed ($rows rows)" ||
  fail "installed $copy differs from data/fingerprints.csv"

"$daemon" --check-config -c "$conf" >"$tmp/check.out" 2>"$tmp/check.err" || fail "--check-config: $(cat "$tmp/check.err")"
grep -qx "tamperwatchd: $rows fingerprints loaded, 0 skipped" "$tmp/check.out" &&
  ok "installed configuration loads the $rows built-in fingerprints" || fail "check-config said: $(cat "$tmp/check.out")"
[ ! -s "$tmp/check.err" ] && ok "no warning" || fail "warnings: $(cat "$tmp/check.err")"
out=$("$daemon" --check-config -c "$conf" --set fingerprints.default=no 2>&1)
[ "$out" = "tamperwatchd: configuration OK" ] && ok "fingerprints.default = no: none loaded" || fail "default=no: $out"

# the block page, with the installed configuration and with none
for how in "-c $conf" ""; do
  # shellcheck disable=SC2086
  "$daemon" $how --events --replay "$pcap" --alerts - >"$tmp/test.json" 2>"$tmp/test.err" || fail "replay: $(tail -n 3 "$tmp/test.err")"
  fp=$(grep -o '"fingerprint":"[^"]*"' "$tmp/test.json" | sort -u)
  [[ $fp == '"fingerprint":"tw.fortigate_'* ]] && [ "$(echo "$fp" | wc -l)" -eq 1 ] &&
    grep -q '"method":"http_blockpage".*"blockpage_fingerprint"' "$tmp/test.json" &&
    ok "the FortiGate block page (${how:-no configuration}): http_blockpage verdict, $fp" ||
    fail "verdicts (${how:-no configuration}) name: '$fp'"
  [ ! -s "$tmp/test.err" ] && ok "replay without a message" || fail "replay stderr: $(head -n 3 "$tmp/test.err")"
done

# the control measurement of the same server, no block page: no fingerprint
"$daemon" --events --replay "$control" --alerts - >"$tmp/control.json" 2>"$tmp/control.err" || fail "control replay"
grep -q '"fingerprint":"tw\.' "$tmp/control.json" && fail "the control capture matched a fingerprint" ||
  ok "the control capture (example.com on the same server) matches none"

# tamperwatch-fingerprints, installed, into a scratch configuration directory
tool=$d/usr/sbin/tamperwatch-fingerprints
etc=$tmp/etc
mkdir -p "$etc"
cp "$conf" "$etc/tamperwatchd.conf"
export TAMPERWATCHD=$daemon
"$tool" import "$ooni/fingerprints_http.csv" ooni_http --dest "$etc" >"$tmp/imp.out" 2>&1 || fail "import: $(cat "$tmp/imp.out")"
[ -s "$etc/ooni_http.csv" ] && cmp -s "$etc/ooni_http.csv" "$ooni/fingerprints_http.csv" &&
  grep -q "^sha256: $(sha256sum "$ooni/fingerprints_http.csv" | cut -d' ' -f1)\$" "$etc/ooni_http.csv.source" &&
  ok "import: a user-supplied OONI CSV in the configuration directory, with its source and sha256" ||
  fail "import: $(cat "$tmp/imp.out")"
grep -qx "files = $etc/ooni_http.csv" "$tmp/imp.out" && ok "import names the files = line to set" ||
  fail "import said: $(cat "$tmp/imp.out")"

# a bad file: one line naming the file and its line, the good copy kept
printf 'name,location_found,pattern_type,pattern\nok.row,body,contains,x\nbad.row,bogus,contains,y\n' >"$tmp/bad.csv"
if "$tool" import "$tmp/bad.csv" ooni_http --dest "$etc" >"$tmp/bad.out" 2>&1; then
  fail "a bad file was accepted"
else
  grep -qx "tamperwatch-fingerprints: $tmp/bad.csv:3: unknown location_found 'bogus'" "$tmp/bad.out" &&
    ok "a bad file: '$(head -n 1 "$tmp/bad.out")'" || fail "bad file said: $(cat "$tmp/bad.out")"
fi
cmp -s "$etc/ooni_http.csv" "$ooni/fingerprints_http.csv" && ok "the good copy is kept" || fail "bad file replaced the copy"

# update through a URL (file://: the fetch path without the Internet)
sed -i "s|^#files =.*|files = $etc/ooni_http.csv, $etc/ooni_dns.csv|" "$etc/tamperwatchd.conf"
"$tool" update --url-base "file://$(realpath "$ooni")" --dest "$etc" >"$tmp/upd.out" 2>&1 ||
  fail "update: $(cat "$tmp/upd.out")"
# each fetched file's own count (the daemon's loader; OONI's rows may span lines)
n_http=$(sed -n 's|^file://.*/fingerprints_http.csv: \([0-9]*\) fingerprints loaded, 0 skipped$|\1|p' "$tmp/upd.out")
n_dns=$(sed -n 's|^file://.*/fingerprints_dns.csv: \([0-9]*\) fingerprints loaded, 0 skipped$|\1|p' "$tmp/upd.out")
[ "${n_http:-0}" -gt 1000 ] && [ "${n_dns:-0}" -gt 100 ] && ok "update checked $n_http HTTP and $n_dns DNS rows" ||
  fail "update counts: '$n_http' '$n_dns'"
want=$((rows + ${n_http:-0} + ${n_dns:-0}))
grep -qx "$etc/tamperwatchd.conf: $want fingerprints loaded, 0 skipped" "$tmp/upd.out" &&
  ok "update: OONI's HTTP and DNS lists fetched, checked, and loaded with the built-in set ($want rows)" ||
  fail "update said: $(cat "$tmp/upd.out")"
"$tool" update --url-base "file://$tmp/nowhere" --dest "$etc" >"$tmp/upd2.out" 2>&1 &&
  fail "a failed fetch succeeded" || {
  grep -q "failed; nothing replaced" "$tmp/upd2.out" && [ -s "$etc/ooni_dns.csv" ] &&
    ok "a failed fetch replaces nothing" || fail "failed fetch: $(cat "$tmp/upd2.out")"
}
finish
