# shellcheck shell=bash
# tamperwatch lab: names and addresses shared by scripts/lab, the scenarios,
# the tests and the demo.  Only documentation prefixes (RFC 5737 / RFC 3849)
# and 100.64.0.0/30 for the gateway<->censor transit link; nothing here has a
# route to the host's own interfaces.

LAB_RUN=${TW_LAB_RUN:-/run/tamperwatch-lab}
LAB_NS=(tw-c1 tw-c2 tw-gw tw-cen tw-srv)

# region-a (tw-c1) and region-b (tw-c2): four client addresses each
C1_NET=198.51.100.0/24   C1_GW=198.51.100.1   C1_IPS=(198.51.100.10 198.51.100.11 198.51.100.12 198.51.100.13)
C2_NET=192.0.2.0/24      C2_GW=192.0.2.1      C2_IPS=(192.0.2.10 192.0.2.11 192.0.2.12 192.0.2.13)
C1_NET6=2001:db8:a::/64  C1_GW6=2001:db8:a::1 C1_IPS6=(2001:db8:a::10 2001:db8:a::11 2001:db8:a::12 2001:db8:a::13)
C2_NET6=2001:db8:b::/64  C2_GW6=2001:db8:b::1 C2_IPS6=(2001:db8:b::10 2001:db8:b::11 2001:db8:b::12 2001:db8:b::13)
# transit gateway <-> censor
GW_UP_IP=100.64.0.2  CEN_GW_IP=100.64.0.1  GW_UP_IP6=2001:db8:ff::2  CEN_GW_IP6=2001:db8:ff::1
# server network (censor <-> servers)
SRV_NET=203.0.113.0/24 CEN_SRV_IP=203.0.113.1 SRV_NET6=2001:db8:113::/64 CEN_SRV_IP6=2001:db8:113::1

# virtual hosts: name -> last octet (IPv4 203.0.113.N, IPv6 2001:db8:113::N)
declare -A HOST_OCTET=(
  [blocked.example]=10 [news.example]=11 [allowed.example]=12 [bulk.example]=13
  [media.example]=14 [social.example]=15
)
CDN_OCTETS=(21 22 23 24)            # cdn.example: rotating answers
RESOLVER_IP=203.0.113.53  RESOLVER_IP6=2001:db8:113::53
FORGED_IP=203.0.113.250   FORGED_IP6=2001:db8:dead::1   # forged DNS answers (unassigned)
AUX_IP=203.0.113.12        # benign oddities live beside allowed.example
AUX_ABORT_PORT=8080        # server reads the request, then aborts (RST)
AUX_CLOSED_PORT=8081       # nobody listens: kernel RST
AUX_SLOW_PORT=8082         # server writes its response slowly (an application-limited sender)
AUX_HANG_PORT=8083         # server reads the request and never answers (its kernel ACKs)
AUX_REDIRECT_PORT=8084     # server answers every request with a 307 to news.example
AUX_UDP_PORT=5004          # UDP echo: the far end of a media stream or tunnel (probe.py stream)
LAB_ZONE=example

host_ip()  { echo "203.0.113.${HOST_OCTET[$1]}"; }
host_ip6() { echo "2001:db8:113::${HOST_OCTET[$1]}"; }

# Interface names: <ns-short>-<peer-short>
#   tw-c1:c1-gw <-> tw-gw:gw-c1   tw-c2:c2-gw <-> tw-gw:gw-c2
#   tw-gw:gw-up <-> tw-cen:cen-gw  tw-cen:cen-srv <-> tw-srv:srv-cen
LAB_LINKS=("tw-c1 c1-gw tw-gw gw-c1" "tw-c2 c2-gw tw-gw gw-c2" "tw-gw gw-up tw-cen cen-gw" "tw-cen cen-srv tw-srv srv-cen")

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%6N+0000; }
