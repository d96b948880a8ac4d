#!/usr/bin/env bash
# The daemon's dependencies run one way (docs/architecture.md, "Dependencies
# and data flow"): a file may include headers of its own layer and of the
# layers below it, never of a layer above.  Fails naming file, line and
# header for every include that goes up.
set -u
cd "$(dirname "$0")/../.." || exit 1

# low to high; regions.[ch] sit at the top of daemon/ but depend on nothing
# (a loader the capture backends and the detectors read), so they rank with util
rank() {
  case $1 in
  util/* | regions.[ch]) echo 0 ;;
  capture/*) echo 1 ;;
  events/*) echo 2 ;;
  verdicts/*) echo 3 ;;
  alerts/*) echo 4 ;;
  outputs/*) echo 5 ;;
  control/*) echo 6 ;;
  # the hub (tamperwatchd --hub) is a second main: it wires outputs and
  # control like main.c, and config.h holds its [hub] keys
  main.c | config.[ch] | stats.[ch] | sandbox.[ch] | hub/*) echo 7 ;;
  *) echo unknown ;;
  esac
}

bad=0 checked=0
while IFS= read -r file; do
  rel=${file#daemon/}
  from=$(rank "$rel")
  if [ "$from" = unknown ]; then
    echo "$file: not in any layer of tests/unit/test_layers.sh: add it there and to docs/architecture.md"
    bad=$((bad + 1))
    continue
  fi
  while IFS=: read -r line hdr; do
    [ -f "daemon/$hdr" ] || continue # generated (tamperwatch.skel.h) or system
    to=$(rank "$hdr")
    checked=$((checked + 1))
    if [ "$to" = unknown ] || [ "$to" -gt "$from" ]; then
      echo "$file:$line: includes \"$hdr\", a higher layer (${rel%%/*} may only use its own layer and those below)"
      bad=$((bad + 1))
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" | sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done < <(find daemon -name '*.[ch]' | sort)

if [ "$checked" -lt 100 ]; then
  echo "only $checked includes checked: the daemon layout changed, fix this test"
  exit 1
fi
echo "$checked includes checked, $bad going up"
[ "$bad" -eq 0 ]
