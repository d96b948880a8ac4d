#!/usr/bin/env bash
# Blackholing (SYN drop, post-handshake drop) and shutdowns (full, ports, whitelist).
. "$(dirname "$0")/lib.sh"
lab_up

lab_run blackhole-syn
expect_detected blackhole
for n in c1-https-target-1 c1-https-target-2 c1-https-target-v6; do assert_rc $n 28; assert_err $n "Connection timed out"; done
assert_out c1-tcp-probe connect_timeout
assert_out c2-tcp-probe "reply"
assert_http c2-https-target 200

lab_run blackhole-after-handshake
# the HTTPS flows' silence after the ClientHello is the address's, not the
# SNI's: the same server left plain HTTP unanswered too (tamper.cross_flow)
expect_detected blackhole
for n in c1-https-target-1 c1-https-target-2 c1-https-target-v6; do assert_rc $n 28; done
assert_out c1-tcp-probe connected; assert_out c1-tcp-probe no_reply
assert_out c2-tcp-probe "reply"
assert_http c1-https-control 200

lab_run shutdown-region
assert_ge "region-a worked before the cut" "$(hb c1 before ok)" 3
assert_le "region-a: no success after the cut" "$(hb c1 after ok)" 0
assert_ge "region-a: failures after the cut" "$(hb c1 after fail)" 3
assert_ge "region-b keeps working" "$(hb c2 after ok)" 3
assert_le "region-b: no failures" "$(hb c2 after fail)" 0
expect_truth 't["tamper"][0]["method"] == "shutdown" and "198.51.100.0/24" in t["tamper"][0]["prefixes"]'

lab_run shutdown-partial
assert_le "region-a https after the cut" "$(hb c1 after ok v6)" 0
assert_ge "region-a http still works" "$(hb c1 after ok v4)" 2
assert_le "region-a http: no failures" "$(hb c1 after fail v4)" 0
assert_rc c1-https-after 28
assert_http c1-http-after 200

lab_run shutdown-whitelist
assert_le "region-a: news.example cut" "$(hb c1 after ok any news.example)" 0
assert_le "region-a: social.example cut" "$(hb c1 after ok any social.example)" 0
assert_ge "region-a: whitelisted allowed.example works" "$(hb c1 after ok any allowed.example)" 1
assert_http c1-allowed-after 200
assert_rc c1-news-after 28
assert_ge "region-b keeps working" "$(hb c2 after ok)" 3
assert_le "region-b: no failures" "$(hb c2 after fail)" 0
finish
