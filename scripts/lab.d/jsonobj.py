#!/usr/bin/python3
"""Print one JSON object built from arguments: key=string, key:=raw-JSON,
key@=file (contents as a string, at most 2000 characters).  Used by the lab's
bash code so it never hand-assembles JSON."""
import json
import sys

obj = {}
for arg in sys.argv[1:]:
    if ":=" in arg and (arg.find(":=") < arg.find("=") + 1 or "=" not in arg[:arg.find(":=")]):
        k, v = arg.split(":=", 1)
        obj[k] = json.loads(v)
    elif "@=" in arg and "=" not in arg[:arg.find("@=")]:
        k, path = arg.split("@=", 1)
        try:
            with open(path, "rb") as f:
                obj[k] = f.read(2000).decode("utf-8", "replace")
        except OSError:
            obj[k] = None
    else:
        k, v = arg.split("=", 1)
        obj[k] = v
print(json.dumps(obj, sort_keys=False))
