# Shared by tests/install: a scratch DESTDIR, make run from the repository
# root, and failing with one line.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
tmp=$(mktemp -d /tmp/tw-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
# make install / uninstall quietly; ARGS are make variables
mk() { make -s --no-print-directory "$@"; }
# the files under DIR as "MODE PATH" (PATH relative to DIR), sorted
tree() { (cd "$1" && find . -type f -printf '%m %P\n' | sort); }
finish() {
  [ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
  echo "all checks passed"
  exit 0
}
