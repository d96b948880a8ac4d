#!/usr/bin/env bash
# DNS injection (on-path race, in-path swap) and the benign CDN rotation.
. "$(dirname "$0")/lib.sh"
lab_up
FORGED=203.0.113.250 FORGED6=2001:db8:dead::1

# In-path, a forged answer is told only by its IP TTL against the resolver's
# usual TTL, and that baseline holds only if the resolver's TTL is seen more
# than twice as often as any other (verdict.c base_ttl).  The censor forges a
# random TTL per answer, as injectors whose TTL varies do.  One round gives 3
# clean IPv4 answers against 3 forged: two forged TTLs within 1 of each other
# (~4% of runs) reach half the resolver's count: rightly no baseline and
# no verdict.  Three rounds (9 clean, 9 forged) would need 5 forged TTLs
# together; a simulation of base_learn/base_ttl misses ~1e-4 of runs (forged
# TTLs just above and below the resolver's splitting its count).  A fixed
# forged TTL would not help: every forged answer would share it, a mode as
# large as the resolver's, and the baseline would never hold.
for s in dns-inject-onpath dns-inject-inpath; do
  args=(); [ $s = dns-inject-inpath ] && args=(--rounds 3)
  lab_run $s "${args[@]}"
  expect_detected dns_injection
  for n in c1-dns-target-a c1-dns-target-b; do
    [ "$(dig_addrs $n)" = $FORGED ] && ok "$n forged $FORGED" || bad "$n got '$(dig_addrs $n)'"
  done
  [ "$(dig_addrs c1-dns-target-aaaa)" = $FORGED6 ] && ok "AAAA forged" || bad "AAAA got '$(dig_addrs c1-dns-target-aaaa)'"
  [ "$(dig_addrs c2-dns-target)" = 203.0.113.10 ] && ok "region-b real answer" || bad "region-b got '$(dig_addrs c2-dns-target)'"
  [ "$(dig_addrs c2-dns-target-aaaa)" = 2001:db8:113::10 ] && ok "region-b real AAAA" || bad "region-b AAAA '$(dig_addrs c2-dns-target-aaaa)'"
  [ "$(dig_addrs c1-dns-control)" = 203.0.113.12 ] && ok "control untouched" || bad "control got '$(dig_addrs c1-dns-control)'"
  first=$(client_out c1-dns-all | awk '/^answer/{print $2; exit}')
  [ "$first" = $FORGED ] && ok "$s: forged answer arrives first" || bad "$s: first answer '$first'"
  if [ $s = dns-inject-onpath ]; then
    assert_out c1-dns-all "responses 2"      # the real answer still arrives: a race
    assert_out c1-dns-all "answer 203.0.113.10 "
  else
    assert_out c1-dns-all "responses 1"      # in-path: the real answer was dropped
    expect_truth 'any(e["action"] == "dns_drop_real_answer" for e in t["injections"])'
  fi
  assert_out c2-dns-all "responses 1"
done

lab_run benign-cdn-dns
expect_quiet
firsts=$(for i in 1 2 3 4; do dig_addrs c1-cdn-$i | head -1; done | sort -u | wc -l)
assert_ge "cdn.example first answer rotates" "$firsts" 2
for i in 1 2 3 4; do
  [ "$(dig_addrs c2-cdn-$i | sort | tr '\n' ' ')" = "203.0.113.21 203.0.113.22 203.0.113.23 203.0.113.24 " ] \
    && ok "c2-cdn-$i full CDN set" || bad "c2-cdn-$i: $(dig_addrs c2-cdn-$i | tr '\n' ' ')"
done
assert_http c1-cdn-fetch 200
expect_truth 't["kind"] == "benign" and not t["tamper"]'
finish
