#!/usr/bin/env bash
# make install / make uninstall into a scratch DESTDIR: the expected files with
# sane modes for PREFIX=/usr and the /usr/local default, the paths written into
# the configuration and the unit, an edited configuration kept (and the new
# default beside it as .dist), and nothing else left behind by uninstall.
. "$(dirname "$0")/lib.sh"

# what install must put there for PREFIX ($1) and SYSCONFDIR ($2)
expected() {
  local p=${1#/} e=${2#/} m f
  {
    echo "755 $p/sbin/tamperwatchd"
    echo "755 $p/sbin/tamperwatch-fingerprints"
    echo "755 $p/bin/tamperwatch"
    for m in man/*.1 man/*.5 man/*.8; do [ -f "$m" ] && echo "644 $p/share/man/man${m##*.}/${m##*/}"; done
    find docs -type f 2>/dev/null | while read -r f; do echo "644 $p/share/doc/tamperwatch/${f#docs/}"; done
    for f in data/*; do echo "644 $p/share/tamperwatch/${f#data/}"; done
    echo "644 $p/lib/systemd/system/tamperwatchd.service"
    echo "640 $e/tamperwatch/tamperwatchd.conf"
    echo "644 $e/logrotate.d/tamperwatch"
  } | sort
}

check_prefix() { # DESTDIR PREFIX SYSCONFDIR [make variables...]
  local d=$1 prefix=$2 etc=$3
  shift 3
  local what="${*:-(default PREFIX)}"
  if ! mk install DESTDIR="$d" "$@" >"$tmp/install.log" 2>&1; then
    fail "make install $what: $(tail -n 3 "$tmp/install.log")"
    return
  fi
  if diff <(expected "$prefix" "$etc") <(tree "$d") >"$tmp/diff"; then
    ok "install $what: $(tree "$d" | wc -l) files, modes as expected"
  else
    fail "install $what: files or modes differ (expected < > installed):"
    cat "$tmp/diff"
  fi
  local conf=$d$etc/tamperwatch/tamperwatchd.conf unit=$d$prefix/lib/systemd/system/tamperwatchd.service
  local fpt=$d$prefix/sbin/tamperwatch-fingerprints
  grep -q "^sysconf=$etc\$" "$fpt" && grep -q "^sbin=$prefix/sbin\$" "$fpt" &&
    ok "tamperwatch-fingerprints names $etc and $prefix/sbin" || fail "tamperwatch-fingerprints: $(grep -E '^(sysconf|sbin)=' "$fpt")"
  grep -q "^ExecStart=$prefix/sbin/tamperwatchd -c $etc/tamperwatch/tamperwatchd.conf " "$unit" &&
    ! grep -q '@[A-Z]*@' "$unit" && ok "unit runs $prefix/sbin/tamperwatchd -c $etc/..." ||
    fail "unit: $(grep -E '^ExecStart=|@[A-Z]*@' "$unit")"
  "$d$prefix/sbin/tamperwatchd" --version | grep -q '^tamperwatchd ' && ok "installed tamperwatchd runs" ||
    fail "installed tamperwatchd --version"
  "$d$prefix/bin/tamperwatch" --help | grep -q '^usage: tamperwatch' && ok "installed tamperwatch runs" ||
    fail "installed tamperwatch --help"
  mk uninstall DESTDIR="$d" "$@" >"$tmp/uninstall.log" 2>&1 || fail "make uninstall $what: $(tail -n 3 "$tmp/uninstall.log")"
  local left
  left=$(find "$d" -type f)
  [ -z "$left" ] && ok "uninstall $what: no file left" || fail "uninstall $what: left $left"
}

check_prefix "$tmp/usr" /usr /etc PREFIX=/usr
check_prefix "$tmp/local" /usr/local /usr/local/etc
check_prefix "$tmp/opt" /opt/tw /etc PREFIX=/opt/tw SYSCONFDIR=/etc

# every key the daemon knows is in the shipped configuration
keys=$(grep -oE '^\s*\{ "[a-z]+", "[a-z_0-9]+",' daemon/config.c | sed -E 's/.*"([a-z]+)", "([a-z_0-9]+)".*/\1.\2/')
[ "$(echo "$keys" | wc -l)" -gt 50 ] || fail "found only $(echo "$keys" | wc -l) keys in daemon/config.c"
missing=""
for k in $keys; do
  awk -v sec="${k%%.*}" -v key="${k#*.}" '
    /^\[/ { in_sec = ($0 == "[" sec "]") }
    in_sec && ($0 ~ "^#?" key " =") { found = 1 }
    END { exit !found }' etc/tamperwatchd.conf || missing="$missing $k"
done
[ -z "$missing" ] && ok "etc/tamperwatchd.conf lists all $(echo "$keys" | wc -l) keys" ||
  fail "etc/tamperwatchd.conf lacks:$missing"

# the shipped configuration as it is in the tree: the built-in set, one row per line of data/fingerprints.csv
out=$(build/tamperwatchd --check-config -c etc/tamperwatchd.conf 2>&1)
[ "$out" = "tamperwatchd: $(($(wc -l <data/fingerprints.csv) - 1)) fingerprints loaded, 0 skipped
tamperwatchd: configuration OK" ] && ok "etc/tamperwatchd.conf accepted" || fail "--check-config: $out"

# an edited configuration survives install and uninstall
d=$tmp/edit
mk install DESTDIR="$d" PREFIX=/usr >/dev/null 2>&1 || fail "install (edit case)"
conf=$d/etc/tamperwatch/tamperwatchd.conf
echo "# edited by the administrator" >>"$conf"
msg=$(mk install DESTDIR="$d" PREFIX=/usr 2>&1)
if grep -q 'edited by the administrator' "$conf" && [ -f "$conf.dist" ] && ! grep -q edited "$conf.dist" &&
  [[ $msg == *"kept $conf (edited)"* ]]; then
  ok "re-install keeps the edited configuration, new default in .dist"
else
  fail "re-install over an edited configuration: $msg"
fi
msg=$(mk uninstall DESTDIR="$d" PREFIX=/usr 2>&1)
left=$(cd "$d" && find . -type f)
[ "$left" = "./etc/tamperwatch/tamperwatchd.conf" ] && [[ $msg == *"kept $conf (edited)"* ]] &&
  ok "uninstall keeps only the edited configuration" || fail "uninstall with an edited configuration left: $left ($msg)"

finish
