#!/usr/bin/env bash
# Topology sanity, then `scripts/lab down` after a crash (a scenario killed
# with its censor active, the run dir deleted) must leave nothing behind.
. "$(dirname "$0")/lib.sh"
lab_require
trap lab_down EXIT
root_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
root_nft_before=$(nft list ruleset 2>/dev/null | md5sum)
root_routes_before=$( (ip route; ip -6 route) | md5sum)

timeout 60 "$LAB" up || { echo "FAIL lab up"; exit 1; }
for ns in tw-c1 tw-c2 tw-gw tw-cen tw-srv; do
  ip netns list | grep -qw $ns && ok "netns $ns" || bad "netns $ns missing"
done
ip netns exec tw-gw ip link show gw-up >/dev/null 2>&1 && ok "gateway upstream interface gw-up" || bad "no gw-up"
# clients: default route via the gateway, DNS = lab resolver, v4 and v6
for ns in tw-c1 tw-c2; do
  ip netns exec $ns ip route show default | grep -q via && ok "$ns default route" || bad "$ns no default route"
  r=$(timeout 5 ip netns exec $ns getent ahostsv4 news.example | awk 'NR==1{print $1}')
  [ "$r" = 203.0.113.11 ] && ok "$ns resolves via the lab resolver" || bad "$ns resolved news.example to '$r'"
  c=$(timeout 5 ip netns exec $ns curl -s6 --cacert /run/tamperwatch-lab/tls/lab.crt https://news.example/ )
  [[ $c == *"real news.example"* ]] && ok "$ns HTTPS over IPv6 with the lab certificate" || bad "$ns IPv6 HTTPS failed"
done
# servers listen only inside tw-srv, never in the root namespace
srvns=$(readlink /proc/$(cat /run/tamperwatch-lab/nginx/nginx.pid)/ns/net)
[ "$srvns" != "$(readlink /proc/self/ns/net)" ] && ok "nginx runs outside the root netns" || bad "nginx in root netns"
ss -H -ltn 2>/dev/null | grep -qE '203\.0\.113\.|:53 .*203' && bad "lab listener in the root netns" || ok "no lab listener in the root netns"
timeout 10 "$LAB" status >/dev/null && ok "status" || bad "status failed"
"$LAB" list | grep -q '^rst-onpath-http' && ok "list" || bad "list"

# crash: start a scenario that holds an injector and censor rules, kill it hard
setsid timeout 60 "$LAB" run shutdown-region --out "$LAB_OUT/crash" --no-detector --duration 20 >/dev/null 2>&1 &
runner=$!   # setsid: its own process group, so the whole crash can be killed at once
for i in $(seq 100); do
  [ -s /run/tamperwatch-lab/state/censor ] && break; sleep 0.1
done
sleep 0.5
ip netns exec tw-cen nft list ruleset | grep -q drop && ok "censor active before the crash" || bad "censor not active"
kill -9 -- -$runner 2>/dev/null; wait $runner 2>/dev/null
rm -rf /run/tamperwatch-lab          # the state is gone too

timeout 60 "$LAB" down && ok "down exits 0" || bad "down failed"
left=$(ip netns list | grep -c '^tw-')
assert_le "tw-* namespaces left" "$left" 0
# (other suites may run their own tamperwatchd/unbound: match only the lab's)
left=$(pgrep -fc 'tamperwatch-lab/|scripts/lab\.d/|/build/lab/')
assert_le "lab processes left" "$left" 0
for p in $(pgrep -x nginx; pgrep -x unbound); do
  grep -q tamperwatch-lab /proc/$p/cmdline 2>/dev/null && bad "lab daemon $p still running"
done
root_links_after=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
[ "$root_links_before" = "$root_links_after" ] && ok "root namespace links unchanged" || bad "links: before [$root_links_before] after [$root_links_after]"
ip -o link show type veth | grep -qE 'c1-gw|gw-c1|c2-gw|gw-c2|gw-up|cen-gw|cen-srv|srv-cen' && bad "lab veth left" || ok "no lab veth left"
[ "$root_nft_before" = "$(nft list ruleset 2>/dev/null | md5sum)" ] && ok "root nft ruleset unchanged" || bad "root nft ruleset changed"
nft list ruleset 2>/dev/null | grep -q twcensor && bad "twcensor table in root ns" || ok "no censor table in root ns"
[ "$root_routes_before" = "$( (ip route; ip -6 route) | md5sum)" ] && ok "root routes unchanged" || bad "root routes changed"
tc qdisc show | grep -qE 'htb|tbf|clsact' && bad "tc qdisc left in root ns" || ok "no lab qdisc in root ns"
[ ! -e /etc/netns/tw-c1 ] && [ ! -e /run/tamperwatch-lab ] && ok "no /etc/netns/tw-* or run dir" || bad "files left"
# down is idempotent
timeout 30 "$LAB" down && ok "second down" || bad "second down failed"
finish
