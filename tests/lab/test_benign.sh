#!/usr/bin/env bash
# Benign traffic that looks suspicious must work as designed.
. "$(dirname "$0")/lib.sh"
lab_up

lab_run benign-baseline
expect_quiet
for h in blocked.example news.example allowed.example social.example; do
  assert_http c1-https-$h 200; assert_http c2-http-$h 200; assert_http c1-v6-$h 200
  assert_body c1-https-$h "real $h"
  assert_out c2-dns-$h "status: NOERROR"
done
assert_http c2-bulk 200
[ "$(curl_field c2-bulk 2)" = 16777216 ] && ok "bulk download complete" || bad "bulk size $(curl_field c2-bulk 2)"

lab_run benign-client-abort
expect_quiet
assert_out c1-linger0 aborted
for n in c2-giveup c1-giveup-v6; do assert_rc $n 28; assert_ge "$n partial data" "$(curl_field $n 2)" 1; done

lab_run benign-server-abort
expect_quiet
for n in c1-server-rst c2-server-rst c1-server-rst-v6 c1-server-rst-far c2-server-rst-far c1-server-rst-v6-far; do
  assert_rc $n 56; assert_err $n "reset by peer"
done

lab_run benign-closed-port
expect_quiet
for n in c1-closed c2-closed c1-closed-v6; do assert_rc $n 7; assert_err $n "Couldn't connect"; done

lab_run benign-idle-expiry
expect_quiet
assert_out c1-keepalive-idle "closed_by_server_after 2"
assert_out c1-keepalive-idle "200 OK"
assert_out c2-silent-idle "closed_by_server_after 2"

lab_run benign-loss
expect_quiet
for n in c1-small-1 c1-small-2 c1-small-3 c1-small-v6 c2-small-1 c2-small-2; do
  assert_http $n 200; [ "$(curl_field $n 2)" = 262144 ] && ok "$n complete" || bad "$n size $(curl_field $n 2)"
done
for n in c2-dns-1 c2-dns-2 c2-dns-3; do assert_out $n "status: NOERROR"; done
drops=$(sed -n 's/.*numgen random mod 100 < 3 counter packets \([0-9]*\).*/\1/p' "$RUN_DIR/censor-state.txt")
assert_ge "packets lost on the link" "${drops:-0}" 1
expect_truth 'not t["tamper"] and t["benign"][0]["behaviour"] == "random_loss"'
finish
