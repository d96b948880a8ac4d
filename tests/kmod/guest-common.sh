# Sourced by the guests' /init (tests/kmod/guest-init.sh, bpf-guest-init.sh),
# copied into the initramfs as /tw/guest-common.sh by tests/kmod/guest.sh:
# the mounts, the result channel (the second serial port, /dev/ttyS1, read
# back by the test on the host) and the shutdown every guest shares.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin:/sbin LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /run
mount -t tmpfs run /run
R=/dev/ttyS1
say() { echo "TW: $*" >$R; }
put() { # name file: a result file, base64 between markers
	echo "TW-FILE $1" >$R
	base64 <"$2" >$R
	echo "TW-END" >$R
}
finish() {
	dmesg >/tmp/dmesg.txt
	put dmesg /tmp/dmesg.txt
	say done
	sync
	poweroff -f
}
wait_for() { # file text seconds
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}
D=/tw
say "booted $(uname -r)"
