#!/usr/bin/env bash
# The man pages (man/) cannot drift from the programs: each page is
# formatted by man(1) with every groff warning on and must give none; every
# long option that `tamperwatchd --help` and `tamperwatch --help` print is in
# its page; every configuration key of daemon/config.c is in
# tamperwatchd.conf(5) and in docs/configuration.md.
cd "$(dirname "$0")/../.." || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
command -v man >/dev/null || skip "man not installed (man-db, scripts/install-deps.sh)"
command -v groff >/dev/null || skip "groff not installed (groff-base, scripts/install-deps.sh)"
for b in build/tamperwatchd build/tamperwatch; do [ -x $b ] || fail "$b not built"; done

for page in man/tamperwatchd.8 man/tamperwatch.1 man/tamperwatchd.conf.5; do
  [ -s "$page" ] || fail "$page missing"
  err=$(MANWIDTH=80 man --warnings -l -E UTF-8 "$page" 2>&1 >/dev/null) || fail "$page: man failed: $err"
  [ -z "$err" ] || fail "$page: warnings: $err"
  echo "ok: $page formats without a warning"
done

# the page as text, hyphenation and justification off, so that an option is
# never split across lines
text() { groff -man -Tutf8 -rHY=0 -dAD=l -P-cbou "$1" 2>/dev/null | sed 's/‐/-/g'; }

# every --long option of a program's --help must appear in its page
check_options() {  # program page
  local opts o missing=() n=0
  opts=$("$1" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
  [ -n "$opts" ] || fail "$1 --help printed no long option"
  local txt; txt=$(text "$2")
  for o in $opts; do
    n=$((n + 1))
    grep -qF -- "$o" <<<"$txt" || missing+=("$o")
  done
  [ ${#missing[@]} -eq 0 ] || fail "$2 lacks options printed by $1 --help: ${missing[*]}"
  echo "ok: $2 has all $n long options of $1 --help"
}
check_options build/tamperwatchd man/tamperwatchd.8
check_options build/tamperwatch man/tamperwatch.1

# the CLI's commands too
txt=$(text man/tamperwatch.1)
for c in $(build/tamperwatch --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && /^  [a-z]/ {print $1}'); do
  grep -qw -- "$c" <<<"$txt" || fail "man/tamperwatch.1 lacks the command $c"
done

# every configuration key: the table of daemon/config.c
keys=$(grep -oE '^\s*\{ "[a-z_]+", "[a-z_0-9]+", K_' daemon/config.c | sed -E 's/.*\{ "([a-z_]+)", "([a-z_0-9]+)".*/\1.\2/')
nk=$(wc -w <<<"$keys")
[ "$nk" -ge 50 ] || fail "found only $nk keys in daemon/config.c: has its table changed shape?"
txt=$(text man/tamperwatchd.conf.5)
missing=()
for k in $keys; do
  grep -qF -- "$k" <<<"$txt" || missing+=("$k")
done
[ ${#missing[@]} -eq 0 ] || fail "man/tamperwatchd.conf.5 lacks keys: ${missing[*]}"
missing=()
for k in $keys; do
  grep -qF -- "\`$k\`" docs/configuration.md || missing+=("$k")
done
[ ${#missing[@]} -eq 0 ] || fail "docs/configuration.md lacks keys: ${missing[*]}"
echo "ok: all $nk configuration keys are in tamperwatchd.conf(5) and docs/configuration.md"
