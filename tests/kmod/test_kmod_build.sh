#!/usr/bin/env bash
# The kernel module builds warning-free against Debian's linux-headers-amd64
# (the newest installed linux-headers-*-amd64), from a copy of the tree's
# Kbuild, kmod/ and include/tamperwatch/ as DKMS would get them, and the
# module it makes is for that kernel (vermagic) with the shared core in it.
cd "$(dirname "$0")/../.." || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
KDIR=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1)
[ -n "$KDIR" ] || fail "no /usr/src/linux-headers-*-amd64: install linux-headers-amd64 (scripts/install-deps.sh)"
KREL=${KDIR#/usr/src/linux-headers-}
W=$(mktemp -d /tmp/tw-kmodbuild.XXXXXX); trap 'rm -rf "$W"' EXIT
cp --parents Kbuild kmod/*.c kmod/*.h include/tamperwatch/*.h "$W/" || fail "copy sources"
# W=1 adds the kernel's extra warnings; any warning fails the test
make -C "$KDIR" M="$W" W=1 modules >"$W/build.log" 2>&1 || { cat "$W/build.log"; fail "build against $KDIR"; }
if grep -E -i 'warning:|error:' "$W/build.log"; then fail "the build warns (above)"; fi
[ -f "$W/tamperwatch.ko" ] || fail "no tamperwatch.ko"
vm=$(strings "$W/tamperwatch.ko" | sed -n 's/^vermagic=//p' | awk '{print $1}')
[ "$vm" = "$KREL" ] || fail "vermagic '$vm', expected '$KREL'"
# the classifier core is compiled in, not a copy: its functions are called by the hook
grep -q 'tw_track\|tw_parse' kmod/hook.c || fail "the hook does not call the core"
for sym in tw_nf_hook tw_genl_emit; do
  nm "$W/tamperwatch.ko" | grep -q " $sym\$" || fail "symbol $sym missing"
done
echo "ok: tamperwatch.ko for $KREL, no warnings (W=1)"
# DKMS configuration names the same module and source layout
grep -q '^BUILT_MODULE_NAME\[0\]="tamperwatch"' dkms.conf || fail "dkms.conf: BUILT_MODULE_NAME"
echo "ok: dkms.conf"
