#!/usr/bin/env bash
# results.sh: gather the figures the benchmarks of this `make bench` run
# wrote (build/bench/*.results, one JSON object a line) into
# bench/results.json, each with the date of the run, and print them.
# Committed, so that a regression shows in its diff.  A benchmark that was
# skipped wrote nothing: its figures are absent, not carried over.
set -u
cd "$(dirname "$0")/.." || exit 1
shopt -s nullglob
files=(build/bench/*.results)
[ ${#files[@]} -gt 0 ] || { echo "results.sh: no figures (every benchmark skipped?)"; exit 0; }
python3 - "${files[@]}" <<'PY'
import datetime, json, os, platform, sys
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
figs = []
for path in sys.argv[1:]:
    for n, line in enumerate(open(path), 1):
        line = line.strip()
        if not line:
            continue
        try:
            f = json.loads(line)
        except ValueError as e:
            sys.exit(f"results.sh: {path}:{n}: not JSON: {e}")
        f["date"] = date
        f["source"] = os.path.basename(path).removesuffix(".results")
        figs.append(f)
out = {"date": date, "kernel": platform.release(), "cpus": os.cpu_count(), "figures": figs}
with open("bench/results.json.tmp", "w") as fp:
    json.dump(out, fp, indent=1)
    fp.write("\n")
os.replace("bench/results.json.tmp", "bench/results.json")
print(f"bench/results.json: {len(figs)} figures, {date}")
for f in figs:
    r = f"ratio {f['ratio']:.2f}" if f.get("baseline") else f"{f['value']:.1f} {f['unit']}"
    print(f"  {'met   ' if f['met'] else 'MISSED'} {f['figure']}: {r} (target {f['target']}) [{f['workload']}]")
PY
