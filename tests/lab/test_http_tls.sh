#!/usr/bin/env bash
# Block pages (451, 403) and TLS interference (reset, silent drop).
. "$(dirname "$0")/lib.sh"
lab_up

for code in 451 403; do
  lab_run http-blockpage-$code
  expect_detected http_blockpage
  reason="Unavailable For Legal Reasons"; [ $code = 403 ] && reason=Forbidden
  for n in c1-http-target-1 c1-http-target-2 c1-http-target-v6; do
    assert_http $n $code; assert_body $n "$reason"; assert_body $n "competent authority"
  done
  assert_http c2-http-target 200; assert_body c2-http-target "real blocked.example"
  assert_http c1-http-control 200
  expect_truth "t['tamper'][0]['method'] == 'http_blockpage' and t['tamper'][0]['status'] == $code"
done

lab_run tls-reset
# in-path reset with the server's TTL and IP-ID, back sooner than the
# server (30 ms away) could answer
expect_detected tls_interference
for n in c1-https-target-1 c1-https-target-2 c1-https-target-v6; do assert_rc $n 35; assert_err $n "reset by peer"; done
assert_http c1-http-target-ok 200      # same host over plain HTTP: SNI-only blocking
assert_http c2-https-target 200
assert_http c1-https-control 200

lab_run tls-drop
expect_detected tls_interference
for n in c1-https-target-1 c1-https-target-2 c1-https-target-v6; do assert_rc $n 28; done
assert_http c2-https-target 200
assert_http c2-https-target-v6 200
assert_http c1-https-control 200
grep -q 'connmark match  0x7711.*DROP' "$RUN_DIR/censor-state.txt" 2>/dev/null || \
  grep -q -- '--mark 0x7711 -j DROP' "$RUN_DIR/censor-state.txt" && ok "connmark drop rule was active" || bad "no connmark rule in censor state"
finish
