#!/usr/bin/env bash
# The status page (docs/outputs.md "Status page") in a real browser: the
# detector on the lab's gateway serves it (--metrics on the gateway's
# loopback, --status-page) while a blocking, a throttling and a shutdown
# scenario run; each time, once the page shows the alert, Debian's
# chromium-headless-shell (started here, in the gateway's namespace) loads
# it from the daemon: its DOM (--dump-dom) must hold the alert's row and its
# plot (the target's tampered-flow share, the throttled rate with its
# points, the prefix's traffic against its baseline with the alert period
# shaded), every section (health, links, link and gap records), and no
# client address (tests/lab/page_check.py); the screenshot is kept in
# build/lab/tests/test_status_page/page-*/status.png.
. "$(dirname "$0")/lib.sh"
command -v chromium-headless-shell >/dev/null || skip "chromium-headless-shell not installed (scripts/install-deps.sh)"
lab_up
sd_conf
PORT=19464 URL=http://127.0.0.1:19464/status
PAGE=(--daemon-arg --metrics --daemon-arg 127.0.0.1:$PORT --daemon-arg --status-page)
# the daemon outlives each scenario by this much: the last flows end (1 s
# after their FIN) and the browser loads the page while it still serves
export TW_LAB_DETECTOR_GRACE=10
CHR_DIR=$(mktemp -d /tmp/tw-chromium.XXXXXX)
CHR=(--no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$CHR_DIR")
WATCH=""
trap 'lab_down; [ -n "$WATCH" ] && kill "$WATCH" 2>/dev/null; rm -rf "$CHR_DIR"' EXIT

# watch NAME 'python condition over the page h': in the background, poll the
# page (curl, bounded) until the condition holds, then load it in chromium:
# page-NAME/dom.html and page-NAME/status.png
watch() {
  local d=$LAB_OUT/page-$1 cond=$2
  rm -rf "$d"; mkdir -p "$d"
  (
    for _ in $(seq 300); do
      if ip netns exec tw-gw curl -sf -m 2 "$URL" -o "$d/page.html" 2>/dev/null &&
        "$PY" -c 'import sys; h = open(sys.argv[1]).read(); sys.exit(0 if eval(sys.argv[2]) else 1)' "$d/page.html" "$cond"; then
        ip netns exec tw-gw timeout 60 chromium-headless-shell "${CHR[@]}" --dump-dom "$URL" >"$d/dom.html" 2>"$d/chromium.err"
        ip netns exec tw-gw timeout 60 chromium-headless-shell "${CHR[@]}" --window-size=1280,2600 \
          --screenshot="$d/status.png" "$URL" >>"$d/chromium.err" 2>&1
        echo loaded >"$d/watch.status"
        exit 0
      fi
      sleep 0.5
    done
    echo "timed out" >"$d/watch.status"
  ) &
  WATCH=$!
}
# seen NAME page_check.py arguments...: the browser's DOM, and the page as served
seen() {
  local d=$LAB_OUT/page-$1 out; shift
  wait "$WATCH"; WATCH=""
  if [ "$(cat "$d/watch.status" 2>/dev/null)" != loaded ]; then
    bad "page $(basename "$d"): the alert never showed: $(cat "$d/watch.status" 2>/dev/null)"; return
  fi
  if out=$("$PY" tests/lab/page_check.py "$d/dom.html" "$d/page.html" "$@" 2>&1); then ok "browser: $out"
  else bad "browser: $out"; fi
  if [ -s "$d/status.png" ] && [ "$(head -c 8 "$d/status.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    ok "screenshot kept: ${d#"$REPO"/}/status.png ($(stat -c %s "$d/status.png") bytes)"
  else bad "no screenshot: $(tail -2 "$d/chromium.err" 2>/dev/null)"; fi
}

# ---- blocking: on-path RSTs on HTTP (tests/lab/test_alerts.sh's settings, no recovery)
watch blocking "'data-category=\"blocking\"' in h and 'data-plot=\"targets\"' in h"
lab_run rst-onpath-http --rounds 2 "${PAGE[@]}" --daemon-arg --set --daemon-arg flows.tcp_closed=1 \
  --daemon-arg --set --daemon-arg flows.tcp_idle=4
expect_alerts rst_injection@blocked.example:80/tcp --resolved open
seen blocking --alert blocking=blocked.example --plot targets=line

# ---- throttling: media.example policed to 130 kbit/s (test_throttle.sh's settings)
watch throttling "'data-category=\"throttling\"' in h and 'data-plot=\"throttling\"' in h"
lab_run throttle-police --duration 8 "${PAGE[@]}" --daemon-arg --set --daemon-arg alerts.min_flows=2 \
  --daemon-arg --set --daemon-arg flows.tcp_closed=1
seen throttling --alert throttling=media.example --plot throttling=points

# ---- shutdown: region-a cut for 14 s, then restored (test_shutdown_cut.sh's settings, shorter)
watch shutdown "'data-category=\"shutdown\" data-state=\"resolved\"' in h"
lab_run shutdown-region --pre 20 --duration 34 --restore 12 "${SD_ARGS[@]}" "${PAGE[@]}"
sd_check "a full shutdown alert for 198.51.100.0/24, raised and resolved" '
X = of("198.51.100.0/24")
assert len(raised(X)) == 1 and len(resolved(X)) == 1, X
'
seen shutdown --alert shutdown=198.51.100.0/24 --plot "shutdown-region:region-a=band" --plot "shutdown:198.51.100.0/24=band" \
  --plot "shutdown:2001:db8:a::/48=band" --plot "shutdown:192.0.2.0/24=line"
finish
