#!/usr/bin/env bash
# The installed systemd unit passes `systemd-analyze verify`, and its
# sandboxing exposure score (`systemd-analyze security --offline`) is printed
# and stays "OK" or better (at most 4.0 of 10).
. "$(dirname "$0")/lib.sh"

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not installed (Debian package systemd)"
  exit 77
fi
d=$tmp/root
mk install DESTDIR="$d" PREFIX=/usr >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
unit=$d/usr/lib/systemd/system/tamperwatchd.service
# verify checks that ExecStart's program exists: point it into DESTDIR
mkdir -p "$tmp/units"
sed "s|=/usr/sbin/tamperwatchd |=$d/usr/sbin/tamperwatchd |" "$unit" >"$tmp/units/tamperwatchd.service"
grep -q "^ExecStart=$d/usr/sbin/tamperwatchd -c /etc/tamperwatch/tamperwatchd.conf" "$tmp/units/tamperwatchd.service" ||
  fail "ExecStart not as expected: $(grep ^ExecStart "$unit")"
if systemd-analyze verify --man=no "$tmp/units/tamperwatchd.service" >"$tmp/verify.log" 2>&1 &&
  [ ! -s "$tmp/verify.log" ]; then
  ok "systemd-analyze verify: clean"
else
  fail "systemd-analyze verify:"
  cat "$tmp/verify.log"
fi
if systemd-analyze security --offline=yes "$tmp/units/tamperwatchd.service" >"$tmp/security.log" 2>&1; then
  line=$(grep 'Overall exposure level' "$tmp/security.log")
  echo "exposure: $line"
  score=$(echo "$line" | grep -oE '[0-9]+\.[0-9]+' | head -n 1)
  awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 4.0) }' && ok "exposure $score <= 4.0" ||
    fail "exposure '$score' above 4.0 (see systemd-analyze security)"
else
  echo "systemd-analyze security --offline not supported here: $(tail -n 1 "$tmp/security.log")"
fi
finish
