#!/usr/bin/env bash
# RST injection, from the client's point of view: on-path (race: the server
# still answers) and in-path (request dropped, TTL copied from the SYN-ACK).
. "$(dirname "$0")/lib.sh"
lab_up
ACCESS=/run/tamperwatch-lab/nginx/access.log

for s in rst-onpath-http rst-onpath-sni; do
  before=$(wc -l < "$ACCESS")
  lab_run $s
  expect_detected rst_injection
  scheme=http; rc=56; [ $s = rst-onpath-sni ] && { scheme=https; rc=35; }
  for n in c1-$scheme-target-1 c1-$scheme-target-2 c1-$scheme-target-v6; do
    assert_rc $n $rc; assert_err $n "reset by peer"
  done
  assert_http c1-$scheme-control 200
  assert_http c2-$scheme-target 200
  assert_http c2-$scheme-target-v6 200
  assert_body c2-$scheme-target "real blocked.example"
  expect_truth 'len(t["injections"]) >= 3 and t["tamper"][0]["method"] == "rst_injection"'
  # on-path: the requests were forwarded, so the real server saw them
  if [ $s = rst-onpath-http ]; then
    n=$(tail -n +$((before + 1)) "$ACCESS" | grep -c '^198\.51\.100\.1[01] ')
    assert_ge "server answered the reset HTTP requests (race)" "$n" 2
    expect_truth 'all(len(e["rsts"]) == 1 for e in t["injections"])'
  else
    expect_truth 'all(len(e["rsts"]) == 3 and len({r["seq"] for r in e["rsts"]}) == 3 for e in t["injections"])'
  fi
done

before=$(wc -l < "$ACCESS")
lab_run rst-inpath
# the emulator forges TTL and IP-ID perfectly and drops the request: no
# race; but its RST comes back 30 ms sooner than the server could answer
# (rst_faster_than_rtt): RST injection for HTTP, TLS interference after a
# ClientHello, nothing for the untouched clients
expect_detected rst_injection
expect_detected tls_interference
for n in c1-https-target-1 c1-https-target-2 c1-https-target-v6; do assert_rc $n 35; assert_err $n "reset by peer"; done
for n in c1-http-target-1 c1-http-target-2 c1-http-target-v6; do assert_rc $n 56; assert_err $n "reset by peer"; done
for n in c1-http-control c1-https-control c2-http-target c2-https-target-v6; do assert_http $n 200; done
n=$(tail -n +$((before + 1)) "$ACCESS" | grep -c '^198\.51\.100\.1[01] ')
assert_le "in-path: no blocked request reached the server" "$n" 0
# the censor copied the TTL of the server's SYN-ACK as seen at the censor (64 - 1)
expect_truth 'all(e["rsts"][0]["ttl"] == 63 for e in t["injections"] if e.get("rsts"))'
finish
