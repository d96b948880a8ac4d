#!/usr/bin/env python3
"""Validate tamperwatchd's JSON lines against docs/schema/tamperwatch.schema.json.

usage: schema_check.py SCHEMA FILE...

Every line must be a JSON object that the schema accepts and that exactly one
record type of the schema (one if/then branch of its allOf) claims.  Fails,
naming file and line, on the first 20 faults; fails too when a record type
the schema declares was never seen in FILE..., so that no type goes
untested.  Prints how many records of each type were checked."""
import collections
import json
import sys

import jsonschema


def main(schema_path, files):
    schema = json.load(open(schema_path))
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    # the record types: each branch's `then` names one $defs entry.  A record
    # that exactly one branch claims is valid against the whole schema when it
    # is valid against that entry (every entry requires its event_type and
    # timestamp), which is checked alone: twice as fast on large replays.
    branches = [(b["then"]["$ref"].rsplit("/", 1)[1], cls(b["if"])) for b in schema["allOf"]]
    entry = {name: cls({"$defs": schema["$defs"], "$ref": "#/$defs/" + name}) for name, _ in branches}
    seen = collections.Counter()
    faults = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                where = f"{path}:{n}"
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    faults.append(f"{where}: not JSON: {e}")
                    continue
                kinds = [name for name, v in branches if isinstance(rec, dict) and v.is_valid(rec)]
                if len(kinds) != 1:
                    et = rec.get("event_type") if isinstance(rec, dict) else None
                    faults.append(f"{where}: record type not declared by the schema "
                                  f"(event_type {et!r}, matched {kinds})")
                    continue
                v = entry[kinds[0]]
                if not v.is_valid(rec):
                    errs = sorted(v.iter_errors(rec), key=lambda e: list(e.absolute_path))
                    e = errs[0]
                    at = "/".join(str(p) for p in e.absolute_path) or "(record)"
                    faults.append(f"{where}: {kinds[0]}: {at}: {e.message[:300]}")
                    continue
                seen[kinds[0]] += 1
    declared = [name for name, _ in branches]
    for name in declared:
        if not seen[name]:
            faults.append(f"record type {name} is declared by the schema but no input produced one")
    for name in declared:
        print(f"{name}: {seen[name]} records valid")
    for f in faults[:20]:
        print(f"FAIL: {f}", file=sys.stderr)
    if len(faults) > 20:
        print(f"FAIL: ... and {len(faults) - 20} more", file=sys.stderr)
    return 1 if faults else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
