"""Matching tamperwatchd's tamper records against a lab scenario's ground
truth (truth.json); shared by scripts/eval and tests/lab/lib.sh.

  python3 verdict_match.py RUN_DIR detected METHOD   exit 0 if a record of METHOD hits a truth target
  python3 verdict_match.py RUN_DIR quiet             exit 0 if no record at all (benign scenario)
"""
import ipaddress, json, os, sys

def tampers(path):
    out = []
    if os.path.exists(path):
        for line in open(path):
            if '"event_type":"tamper"' in line:
                out.append(json.loads(line))
    return out

def in_prefixes(prefix, prefixes):
    try:
        net = ipaddress.ip_network(prefix, strict=False)
        for p in prefixes:
            q = ipaddress.ip_network(p, strict=False)
            if q.version == net.version and (net.subnet_of(q) or q.subnet_of(net)):
                return True
    except ValueError:
        pass
    return False

def matches(rec, entry):
    """the record names the truth entry's method, target and a tampered prefix"""
    t, tg = rec["tamper"], entry["target"]
    if t["method"] != entry["method"] or not in_prefixes(rec["src_prefix"], entry.get("prefixes", [])):
        return False
    if tg is None:  # region-wide (throttle-region): every site of the prefixes
        return True
    if t["method"] == "dns_injection":
        return t.get("dns_qname") == tg.get("domain")
    if tg.get("port") is not None and rec.get("dest_port") != tg["port"]:
        return False
    return rec["dest_ip"] in (tg.get("ip"), tg.get("ip6"))

def main():
    d, what = sys.argv[1], sys.argv[2]
    recs = tampers(os.path.join(d, "alerts.json"))
    if what == "quiet":
        for r in recs:
            print("unexpected:", json.dumps(r["tamper"]), r["dest_ip"], r["src_prefix"])
        sys.exit(1 if recs else 0)
    method = sys.argv[3]
    truth = json.load(open(os.path.join(d, "truth.json")))
    entries = [e for e in truth.get("tamper", []) if e["method"] == method]
    hits = [r for r in recs if any(matches(r, e) for e in entries)]
    wrong = [r for r in recs if not any(matches(r, e) for e in truth.get("tamper", []))]
    print(f"{len(hits)} {method} verdicts on the truth's targets, {len(wrong)} elsewhere")
    for r in wrong:
        print("  elsewhere:", json.dumps(r["tamper"]), r["dest_ip"], r["src_prefix"])
    sys.exit(0 if hits and not wrong else 1)

if __name__ == "__main__":
    main()
