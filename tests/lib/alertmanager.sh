# shellcheck shell=bash
# am_config FILE HOOK_PORT: an Alertmanager configuration whose one receiver
# is a webhook on 127.0.0.1:HOOK_PORT, resolutions included; grouped by
# alert and target with 1 s waits, so a test sees each notification at once.
am_config() {
  cat >"$1" <<EOF2
route:
  receiver: hook
  group_by: [alertname, method, target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$2/
        send_resolved: true
EOF2
}
