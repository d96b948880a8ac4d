# Sourced by the qemu tests of tests/kmod: Debian's guest kernel
# (scripts/kmod-guest-kernel), an initramfs of busybox-static, the daemon,
# ip, tcpreplay and the libraries ldd names, and one boot under software
# emulation with the console on ttyS0 and the results on ttyS1.
#   guest_setup NAME        QEMU, BB, KREL, KROOT; W a work directory
#                           (removed on exit unless TW_KEEP), R=$W/root
#   guest_initramfs INIT    R with INIT as /init (and guest-common.sh) -> $W/initrd.gz
#   guest_boot SECONDS      boots it; fails unless the guest said "done"
fail() { echo "FAIL: $*" >&2; exit 1; }
guest_setup() {
  QEMU=$(command -v qemu-system-x86_64) || { echo "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"; exit 77; }
  BB=$(command -v busybox) || fail "busybox missing (busybox-static)"
  ldd "$BB" >/dev/null 2>&1 && fail "busybox is dynamically linked: install busybox-static"
  KREL=$(scripts/kmod-guest-kernel) || fail "guest kernel"
  KROOT=build/kmod-guest/kernel/root
  W=$(mktemp -d "/tmp/tw-$1.XXXXXX") || fail "mktemp"
  if [ -n "${TW_KEEP:-}" ]; then echo "keeping $W"; else trap 'rm -rf "$W"' EXIT; fi
  R=$W/root
  mkdir -p "$R/tw"
}
guest_initramfs() {
  mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lib64}
  cp "$BB" "$R/bin/busybox"
  cp "$1" "$R/init" && chmod +x "$R/init"
  cp tests/kmod/guest-common.sh "$R/tw/"
  cp build/tamperwatchd "$R/tw/"
  cp "$(command -v ip)" "$R/sbin/ip"
  cp "$(command -v tcpreplay)" "$R/usr/bin/tcpreplay"
  local b lib
  for b in build/tamperwatchd "$(command -v ip)" "$(command -v tcpreplay)"; do
    ldd "$b" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'
  done | sort -u | while read -r lib; do cp --parents -L "$lib" "$R/"; done
  cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
  echo "root:x:0:0:root:/:/bin/sh" >"$R/etc/passwd"
  (cd "$R" && find . | "$BB" cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) >"$W/initrd.gz" || fail "initramfs"
}
# TCG, 2 CPUs, 1 GiB
guest_boot() {
  timeout "$1" "$QEMU" -machine q35 -cpu max -smp 2 -m 1024 -nographic -no-reboot \
    -kernel "$KROOT/boot/vmlinuz-$KREL" -initrd "$W/initrd.gz" \
    -append "console=ttyS0 loglevel=4 panic=-1 rdinit=/init" \
    -serial "file:$W/console.log" -serial "file:$W/results.txt" -monitor none >"$W/qemu.log" 2>&1
  local qrc=$?
  [ $qrc -eq 124 ] && { tail -n 30 "$W/console.log"; fail "the guest did not finish in $1 s"; }
  grep -q '^TW: done' "$W/results.txt" ||
    { tail -n 40 "$W/console.log"; tail -c 3000 "$W/results.txt"; fail "the guest did not finish (qemu rc $qrc)"; }
  grep '^TW: ' "$W/results.txt"
}
