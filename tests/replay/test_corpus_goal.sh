#!/usr/bin/env bash
# The corpus as a labelled set (issue 18): tests/eval/corpus-labels.csv
# labels every CenTrace capture and the Citizen Lab captures from SOURCES.md
# (each row's capture exists, every censored row names its method and says
# whether its censorship is visible from one side, and if not why); then
# scripts/eval --corpus-only replays every capture with the default
# settings and the goal must be met: every labelled censored capture gets a
# verdict >= 0.5 where its censorship is visible from one side, no control or
# benign capture one, no control an alert.
# Without the corpus, eval must say so and the test skips.
cd "$(dirname "$0")/../.." || exit 1
CORPUS=${TW_CORPUS:-../shared/corpus}
W=$(mktemp -d /tmp/tw-goal.XXXXXX) || { echo "FAIL: mktemp" >&2; exit 1; }; trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# without a corpus: one clear line, the lab part untouched
TW_CORPUS=$W/none scripts/eval --corpus-only >"$W/none.out" 2>&1 || fail "eval without a corpus exited $?"
grep -q "^corpus: skipped: no corpus at $W/none (set TW_CORPUS)" "$W/none.out" &&
  echo "ok: without a corpus eval says so" || fail "eval without a corpus: $(cat "$W/none.out")"
[ -d "$CORPUS" ] || { echo "SKIP: no corpus at $CORPUS (set TW_CORPUS)"; exit 77; }

python3 - "$CORPUS" <<'PYEOF' || fail "labels"
import csv, glob, os, sys
corpus = sys.argv[1]
rows = list(csv.DictReader(open("tests/eval/corpus-labels.csv", newline="")))
files = {r["file"] for r in rows}
bad = [r["file"] for r in rows if not os.path.exists(os.path.join(corpus, r["file"]))]
assert not bad, "labelled captures missing: %s" % bad
want = {os.path.relpath(p, corpus) for p in glob.glob(f"{corpus}/censoredplanet__CenTrace/**/*.pcap", recursive=True)}
want |= {os.path.relpath(p, corpus) for p in glob.glob(f"{corpus}/citizenlab__badtraffic/pcaps/*.pcap")}
assert want <= files, "captures without a label: %s" % sorted(want - files)
assert all(r["method"] for r in rows if r["label"] == "censored"), "a censored row without its method"
assert all(r["visible"] == "yes" or r["visible"].startswith("no: ") for r in rows if r["label"] == "censored"), \
    "a censored row without visible = yes or 'no: why'"
assert all(r["source"].startswith("SOURCES.md ") for r in rows), "a row that does not cite SOURCES.md"
print("ok: %d captures labelled (%d censored, %d control, %d benign, %d unlabelled), every one in SOURCES.md" % (
    len(rows), *(sum(r["label"] == k for r in rows) for k in ("censored", "control", "benign", "unlabelled"))))
PYEOF

scripts/eval --corpus-only >"$W/eval.out" 2>&1 || fail "eval exited $?: $(tail -n 5 "$W/eval.out")"
sed -n '/^goal/,$p' "$W/eval.out"
grep -qx "  goal: met" "$W/eval.out" && echo "ok: the goal of issue 18 is met" || fail "the goal is not met"
