#!/usr/bin/env bash
# Our own failure is not a shutdown (README "Shutdown detection"): the
# gateway's monitored interface to region-a (gw-c1) is set down for 16 s,
# then up.  Region-a's traffic collapses exactly as in test_shutdown_cut.sh,
# but tamperwatchd, told by rtnetlink, must write `link` records (down with
# detection suspended, up with the outage's length) and no shutdown alert.
. "$(dirname "$0")/lib.sh"
lab_up
sd_conf
lab_run gateway-link-down --pre 24 --duration 40 --restore 16 "${SD_ARGS[@]}"
assert_ge "region-a worked before" "$(hb c1 before ok)" 3
assert_ge "region-a failed while the link was down" "$(hb c1 during fail)" 3
assert_le "region-a: no success while the link was down" "$(hb c1 during ok)" 0
assert_ge "region-a works again" "$(hb c1 restored ok)" 3
sd_check "link records for gw-c1, no shutdown alert" '
assert [(k["link"]["interface"], k["link"]["state"], k["link"]["detection"]) for k in K] == \
       [("gw-c1", "down", "suspended"), ("gw-c1", "up", "on")], K
assert abs(ts(K[0]["timestamp"]) - cut) < 1.5 and abs(ts(K[1]["timestamp"]) - restore) < 1.5, K
assert abs(K[1]["link"]["down_s"] - (restore - cut)) <= 2, K[1]
assert not A, "our own link going down is not a shutdown"
assert S["link_down"] == 1 and S["series"] == 4 and S["samples"] > 20, S
'
finish
