# shellcheck shell=bash
# A real resolver for the namespace tests (tests/outputs, tests/live):
#   unbound_start NS DIR ZONE ADDR... -- RR...
# writes DIR/unbound.conf (unbound in the foreground, unprivileged, no
# chroot, logging to stderr, on port 53 of each ADDR, answering anyone of
# the families it listens on, ZONE served statically from the RRs) and
# starts it in namespace NS, log in DIR/unbound.log, pid appended to PIDS.
unbound_start() {
  local ns=$1 dir=$2 zone=$3 v4="" v6="" rr
  shift 3
  {
    echo "server:"
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      echo "  interface: $1"
      if [[ $1 == *:* ]]; then v6=1; else v4=1; fi
      shift
    done
    [ $# -gt 0 ] && shift
    printf '  %s\n' "port: 53" "do-daemonize: no" 'chroot: ""' 'username: ""' 'pidfile: ""' \
      "directory: \"$dir\"" "use-syslog: no" 'logfile: ""'
    [ -n "$v4" ] && echo "  access-control: 0.0.0.0/0 allow"
    [ -n "$v6" ] && echo "  access-control: ::/0 allow"
    echo "  do-not-query-localhost: yes"
    echo "  local-zone: \"$zone\" static"
    for rr; do echo "  local-data: \"$rr\""; done
  } >"$dir/unbound.conf"
  ip netns exec "$ns" unbound -c "$dir/unbound.conf" >"$dir/unbound.log" 2>&1 &
  PIDS+=($!)
}
