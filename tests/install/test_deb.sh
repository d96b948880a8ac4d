#!/usr/bin/env bash
# The Debian package (debian/, docs/hardening.md#the-debian-package): `make
# deb` builds tamperwatch and tamperwatch-dkms with dpkg-buildpackage and
# passes lintian (errors and warnings fail it; the exceptions are in
# debian/*.lintian-overrides, each with its reason); each package is
# unpacked with `dpkg -x` into a scratch root and checked (the file list,
# the conffiles, the maintainer scripts, the unit's paths, tamperwatchd
# --version from the unpacked tree); then, on a machine where tamperwatch
# is not installed (CI), installed for real with dpkg -i, upgraded, purged.
# A few minutes: the package build compiles everything once more.
. "$(dirname "$0")/lib.sh"
for t in dpkg-buildpackage dh lintian fakeroot; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed (scripts/install-deps.sh)"; exit 77; }
done
command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 || { echo "SKIP: make deb copies the tree with git"; exit 77; }

mk deb BUILD="$tmp/b" >"$tmp/deb.log" 2>&1 || { echo "FAIL: make deb: $(grep -E '^(E|W):|error' "$tmp/deb.log" | head -20)"; tail -30 "$tmp/deb.log"; exit 1; }
ok "make deb: built, lintian clean ($(grep -cE '^[EW]:' "$tmp/deb.log") errors or warnings)"
deb=$(ls "$tmp"/b/deb/tamperwatch_*_*.deb) || { echo "FAIL: no tamperwatch .deb"; exit 1; }
dkms=$(ls "$tmp"/b/deb/tamperwatch-dkms_*_all.deb) || { echo "FAIL: no tamperwatch-dkms .deb"; exit 1; }

root=$tmp/root
dpkg -x "$deb" "$root" && dpkg -x "$dkms" "$root" || { echo "FAIL: dpkg -x"; exit 1; }
for f in usr/sbin/tamperwatchd usr/bin/tamperwatch usr/sbin/tamperwatch-fingerprints \
  usr/share/man/man8/tamperwatchd.8.gz usr/share/man/man8/tamperwatch-fingerprints.8.gz usr/share/man/man1/tamperwatch.1.gz usr/share/man/man5/tamperwatchd.conf.5.gz \
  etc/tamperwatch/tamperwatchd.conf etc/logrotate.d/tamperwatch lib/systemd/system/tamperwatchd.service \
  usr/share/tamperwatch/fingerprints.csv usr/share/doc/tamperwatch/copyright \
  usr/src/tamperwatch-0.1.0/dkms.conf usr/src/tamperwatch-0.1.0/Kbuild usr/src/tamperwatch-0.1.0/kmod/genl.c \
  usr/src/tamperwatch-0.1.0/include/tamperwatch/genl.h; do
  [ -f "$root/$f" ] || fail "missing /$f"
done
# every kmod source DKMS builds from (Kbuild's objects)
for f in kmod/*.c kmod/*.h include/tamperwatch/*.h; do
  cmp -s "$f" "$root/usr/src/tamperwatch-0.1.0/$f" || fail "/usr/src/tamperwatch-0.1.0/$f differs from the tree"
done
# debhelper compresses the larger documents
[ -f "$root/usr/share/doc/tamperwatch/hardening.md" ] || [ -f "$root/usr/share/doc/tamperwatch/hardening.md.gz" ] ||
  fail "missing /usr/share/doc/tamperwatch/hardening.md(.gz)"
[ -x "$root/usr/sbin/tamperwatchd" ] && [ -x "$root/usr/bin/tamperwatch" ] || fail "binaries not executable"
ok "file list: $(dpkg -c "$deb" | grep -vc '/$') files in tamperwatch, $(dpkg -c "$dkms" | grep -vc '/$') in tamperwatch-dkms"

# the configuration is a conffile; its fingerprints path is the installed one
dpkg-deb -e "$deb" "$tmp/ctl"
for c in /etc/tamperwatch/tamperwatchd.conf /etc/logrotate.d/tamperwatch; do
  grep -qx "$c" "$tmp/ctl/conffiles" || fail "$c is not a conffile: $(cat "$tmp/ctl/conffiles")"
done
# the default fingerprint set is built into the daemon: the configuration
# names no file (a readable copy is installed) and leaves the set on
grep -q '^files *=' "$root/etc/tamperwatch/tamperwatchd.conf" &&
  fail "the packaged configuration names a fingerprint file: the default set is built in"
grep -q '^#default = yes' "$root/etc/tamperwatch/tamperwatchd.conf" ||
  fail "the packaged configuration does not show fingerprints.default"
grep -q '^ExecStart=/usr/sbin/tamperwatchd -c /etc/tamperwatch/tamperwatchd.conf ' "$root/lib/systemd/system/tamperwatchd.service" ||
  fail "the unit's ExecStart: $(grep ExecStart= "$root/lib/systemd/system/tamperwatchd.service")"
grep -q '@[A-Z]*@' "$root/lib/systemd/system/tamperwatchd.service" && fail "the unit still has @...@ placeholders"
ok "conffiles, the built-in fingerprint set left on, the unit's paths"

# maintainer scripts: valid sh, the user made, the unit neither enabled nor started
for s in postinst postrm prerm; do
  [ ! -f "$tmp/ctl/$s" ] || sh -n "$tmp/ctl/$s" || fail "$s: sh -n"
done
grep -q 'adduser --system' "$tmp/ctl/postinst" || fail "postinst does not create the system user"
grep -q 'deb-systemd-invoke start' "$tmp/ctl/postinst" && fail "postinst starts the unit (it needs its interfaces first)"
# enabled again on upgrade only where the administrator had enabled it
awk '/deb-systemd-helper enable/ && prev !~ /was-enabled/ {bad=1} NF && $1 !~ /^#/ {prev=$0} END {exit !bad}' "$tmp/ctl/postinst" &&
  fail "postinst enables the unit unconditionally"
dpkg-deb -e "$dkms" "$tmp/ctl-dkms"
grep -q 'dkms add' "$tmp/ctl-dkms/postinst" && grep -q 'dkms remove' "$tmp/ctl-dkms/prerm" || fail "dkms maintainer scripts"
ok "maintainer scripts"

# the packaged binary runs (it links against this machine's libraries)
v=$("$root/usr/sbin/tamperwatchd" --version) || fail "tamperwatchd --version: rc $?"
[ "$v" = "$(build/tamperwatchd --version 2>/dev/null || echo "$v")" ] || fail "packaged version '$v' differs from the build's"
"$root/usr/sbin/tamperwatchd" --check-config -c "$root/etc/tamperwatch/tamperwatchd.conf" \
  >"$tmp/check.log" 2>&1 ||
  fail "the packaged configuration does not check: $(cat "$tmp/check.log")"
ok "$v; the packaged configuration checks"
if command -v systemd-analyze >/dev/null; then
  sed "s|=/usr/sbin/tamperwatchd|=$root/usr/sbin/tamperwatchd|" "$root/lib/systemd/system/tamperwatchd.service" >"$tmp/tamperwatchd.service"
  if systemd-analyze verify --man=no "$tmp/tamperwatchd.service" >"$tmp/verify.log" 2>&1 && [ ! -s "$tmp/verify.log" ]; then
    ok "systemd-analyze verify: the packaged unit is clean"
  else
    fail "systemd-analyze verify: $(cat "$tmp/verify.log")"
  fi
fi

# Installed for real (issue 20: "dpkg -i on the CI machine itself"): install,
# upgrade to a newer version over an edited conffile, start where systemd
# runs, purge.  Only on a machine where nothing of tamperwatch is installed
# under /usr and /etc (CI's fresh image; this suite's own scratch roots are
# elsewhere), so nobody's installation is replaced; TW_DEB_INSTALL=0 skips it.
installed=""
for p in /etc/tamperwatch /usr/sbin/tamperwatchd /var/lib/tamperwatch; do [ -e "$p" ] && installed="$installed $p"; done
dpkg -s tamperwatch >/dev/null 2>&1 && installed="$installed (package tamperwatch)"
if [ "${TW_DEB_INSTALL:-1}" = 0 ]; then
  echo "# not installed for real: TW_DEB_INSTALL=0"
elif [ "$(id -u)" != 0 ]; then
  echo "# not installed for real: needs root"
elif [ -n "$installed" ]; then
  echo "# not installed for real: tamperwatch is already here:$installed"
else
  # the newer version: the same package with its version raised (dpkg-deb -R/-b)
  dpkg-deb -R "$deb" "$tmp/up" || fail "dpkg-deb -R"
  sed -i 's/^Version: \(.*\)$/Version: \1+up1/' "$tmp/up/DEBIAN/control"
  dpkg-deb -b "$tmp/up" "$tmp/up.deb" >/dev/null || fail "dpkg-deb -b"
  purge() { dpkg -P tamperwatch >"$tmp/purge.log" 2>&1; }
  trap 'purge; rm -rf "$tmp"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 </dev/null || fail "dpkg -i: $(tail -3 "$tmp/dpkg.log")"
  getent passwd tamperwatch >/dev/null || fail "postinst made no user tamperwatch"
  [ "$(/usr/sbin/tamperwatchd --version)" = "$v" ] || fail "installed tamperwatchd --version"
  /usr/sbin/tamperwatchd --check-config -c /etc/tamperwatch/tamperwatchd.conf >"$tmp/ic.log" 2>&1 ||
    fail "the installed configuration does not check: $(cat "$tmp/ic.log")"
  # the installed daemon does its job: a corpus capture, or a crafted one
  cap=$(ls ../shared/corpus/censoredplanet__CenTrace/testdata/*.pcap* 2>/dev/null | head -1)
  if [ -n "$cap" ]; then
    /usr/sbin/tamperwatchd --events --replay "$cap" --alerts "$tmp/installed.json" >"$tmp/ir.log" 2>&1 ||
      fail "the installed daemon's replay: $(tail -3 "$tmp/ir.log")"
    grep -q '"event_type":"stats"' "$tmp/installed.json" || fail "the installed daemon wrote no stats record"
  fi
  echo "# edited" >>/etc/tamperwatch/tamperwatchd.conf
  dpkg -i --force-confdef --force-confold "$tmp/up.deb" >"$tmp/dpkg.log" 2>&1 </dev/null || fail "upgrade: $(tail -3 "$tmp/dpkg.log")"
  dpkg -s tamperwatch | grep -q '^Version: .*+up1$' || fail "upgrade: not the newer version: $(dpkg -s tamperwatch | grep ^Version)"
  tail -n 1 /etc/tamperwatch/tamperwatchd.conf | grep -q '^# edited$' || fail "the upgrade replaced the edited conffile"
  started=""
  if [ -d /run/systemd/system ]; then
    mkdir -p /etc/systemd/system/tamperwatchd.service.d
    printf '[Service]\nEnvironment="TAMPERWATCHD_OPTS=-i lo --mode tc"\n' >/etc/systemd/system/tamperwatchd.service.d/test.conf
    systemctl daemon-reload && systemctl start tamperwatchd && sleep 2 && systemctl is-active --quiet tamperwatchd ||
      fail "systemctl start: $(journalctl -u tamperwatchd -n 5 --no-pager)"
    systemctl stop tamperwatchd
    rm -rf /etc/systemd/system/tamperwatchd.service.d
    systemctl daemon-reload
    started=", started under systemd"
  else
    echo "# no systemd running here: the unit is checked with systemd-analyze verify only"
  fi
  dpkg -P tamperwatch >"$tmp/dpkg.log" 2>&1 </dev/null || fail "purge: $(tail -3 "$tmp/dpkg.log")"
  trap 'rm -rf "$tmp"' EXIT
  for p in /etc/tamperwatch /usr/sbin/tamperwatchd /usr/bin/tamperwatch /var/lib/tamperwatch /var/log/tamperwatch; do
    [ ! -e "$p" ] || fail "purge left $p behind"
  done
  ok "dpkg -i, the installed daemon's replay, upgrade to $(sed -n 's/^Version: //p' "$tmp/up/DEBIAN/control") keeping an edited conffile$started, purge"
fi
finish
