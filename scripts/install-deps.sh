#!/usr/bin/env bash
# Install, from Debian's archive, every package tamperwatch needs to build,
# run its tests, its lab and its benchmarks.  Idempotent: quiet and fast when
# everything is present; runs `apt-get update` only when something is missing.
set -euo pipefail

PKGS=(
  # build
  make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libpcap-dev
  libnl-3-dev libnl-genl-3-dev libnl-route-3-dev pkg-config libclang-rt-14-dev
  libjson-c-dev libcurl4-openssl-dev libarchive-dev
  # publishing to the hub: NATS JetStream client
  libnats-dev
  # evidence pseudonyms: HMAC-SHA256
  libssl-dev
  # the sandbox after setup: seccomp filters (daemon/sandbox.c)
  libseccomp-dev
  # the Debian package (make deb, tests/install/test_deb.sh)
  debhelper dpkg-dev fakeroot lintian
  # tests and the lab
  iproute2 tcpdump curl python3 nginx-light unbound dnsutils nftables iptables
  openssl procps psmisc ethtool
  # the CLI test sends crafted incident frames into a monitored link
  tcpreplay
  # the live QUIC test: a real QUIC client and server (ngtcp2's examples)
  ngtcp2-client ngtcp2-server
  # alert outputs under test: real Prometheus, Alertmanager and rsyslog
  prometheus prometheus-alertmanager rsyslog
  # benchmark peers, and the live benchmark's traffic (bench/bench_live.sh)
  libndpi-bin tshark iperf3
  # the hub's tests: real NATS servers with JetStream; NKey pairs made by the
  # test (Ed25519)
  nats-server python3-cryptography
  # the status page in a real headless browser (tests/lab/test_status_page.sh),
  # report pictures checked with xmllint, progress under a pseudo-terminal (script)
  chromium-headless-shell libxml2-utils bsdutils
  # the docs suite: records against the JSON Schema, man pages checked by man
  python3-jsonschema man-db groff-base
  # the kernel module: Debian's kernel headers to build against; its test
  # boots Debian's kernel (fetched by scripts/kmod-guest-kernel) under qemu
  linux-headers-amd64 qemu-system-x86 busybox-static
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, non-interactively
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
# iperf3 asks whether to run a server at boot; no: bench_live starts its own
echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The tests start their own nginx, unbound, Prometheus, Alertmanager and rsyslog;
# the units Debian starts with the packages we just installed must not hold
# their ports.  Services that were installed before are left alone.
for svc in nginx-light:nginx unbound:unbound prometheus:prometheus \
           prometheus-alertmanager:prometheus-alertmanager nats-server:nats-server; do
  pkg=${svc%%:*} unit=${svc#*:}
  case " ${missing[*]} " in
    *" $pkg "*) systemctl disable --now "$unit" >/dev/null 2>&1 || true ;;
  esac
done
