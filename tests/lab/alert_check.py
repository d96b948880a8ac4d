"""Checks tamperwatchd's alerts (alerts.json of a lab run) against what the
scenario should have raised; used by tests/lab/test_alerts.sh.

  python3 alert_check.py RUN_DIR [EXPECT]... [--declared REF] [--resolved recovered|quiet|open]

EXPECT is METHOD@TARGET:PORT/PROTO[=recovered|quiet|open], TARGET a domain or
a server address ([v6]); PORT may be '*'.  Prints one line per check,
"ok ..." or "FAIL ...".  Checks: exactly one `raised` blocking alert per
EXPECT with its method, target, legitimacy ("declared" and the legal
reference with --declared, else "undeclared"), signature id and severity,
and only client prefixes the truth says were censored; no other alert at
all (controls, the unblocked region, benign runs); every record of an id
names the same target; `resolved` once, with the expected resolution, after
the censor stopped (after the recovery fetches began for `recovered`), and
nothing of that id after it; no client address of the lab anywhere in
alerts.json.
"""
import ipaddress, json, os, re, sys

SIG_ID = {"rst_injection": 2001, "http_blockpage": 2002, "dns_injection": 2003,
          "tls_interference": 2004, "blackhole": 2005, "http_injection": 2008,
          "quic_interference": 2009}
# every client address of the lab (scripts/lab.d/common.sh)
CLIENTS = ["198.51.100.%d" % i for i in range(10, 14)] + ["192.0.2.%d" % i for i in range(10, 14)] + \
          ["2001:db8:a::%d" % i for i in range(10, 14)] + ["2001:db8:b::%d" % i for i in range(10, 14)]

out = []
def check(cond, msg):
    out.append(("ok   " if cond else "FAIL ") + msg)
    return cond

def parse_expect(s):
    m = re.fullmatch(r"([a-z_]+)@(\[[0-9a-fA-F:]+\]|[^:\[\]=]+):(\d+|\*)/(tcp|udp)(?:=(recovered|quiet|open))?", s)
    if not m:
        sys.exit("alert_check: bad EXPECT %r" % s)
    return {"method": m[1], "target": m[2].strip("[]"), "port": None if m[3] == "*" else int(m[3]),
            "proto": m[4], "resolution": m[5], "spec": s}

def target_of(a):
    t = a.get("target") or {}
    return t.get("domain") or t.get("ip"), t.get("port"), t.get("proto")

def covered(prefix, nets):
    """the client prefix (privacy: /24, /48) overlaps a censored network"""
    try:
        p = ipaddress.ip_network(prefix, strict=False)
        return any(p.version == n.version and (p.subnet_of(n) or n.subnet_of(p)) for n in nets)
    except (ValueError, TypeError):
        return False

def main():
    args = sys.argv[1:]
    d = args.pop(0)
    declared = resolved = None
    expects = []
    while args:
        a = args.pop(0)
        if a == "--declared":
            declared = args.pop(0)
        elif a == "--resolved":
            resolved = args.pop(0)
        else:
            expects.append(parse_expect(a))
    text = open(os.path.join(d, "alerts.json")).read() if os.path.exists(os.path.join(d, "alerts.json")) else ""
    truth = json.load(open(os.path.join(d, "truth.json")))
    recs = []
    for line in text.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("event_type") == "alert":
            recs.append(o)
    censored = [ipaddress.ip_network(p, strict=False) for t in truth.get("tamper", []) for p in t.get("prefixes", [])]
    off = min((t["end"] for t in truth.get("tamper", []) if t.get("end")), default=None)
    rec_start = (truth.get("recovery") or {}).get("start")

    byid = {}
    for r in recs:
        byid.setdefault(r["alert"]["id"], []).append(r)
    used = set()
    for e in expects:
        ids = [i for i, rs in byid.items()
               if any(r["alert"]["state"] == "raised" for r in rs)
               and target_of(rs[0])[0] == e["target"] and target_of(rs[0])[2] == e["proto"]
               and (e["port"] is None or target_of(rs[0])[1] == e["port"])]
        if not check(len(ids) == 1, "%s: %d raised alert(s) for the target, want 1" % (e["spec"], len(ids))):
            continue
        i = ids[0]
        used.add(i)
        rs = byid[i]
        raised = [r for r in rs if r["alert"]["state"] == "raised"]
        r0 = raised[0]
        c = r0["censorship"]
        check(len(raised) == 1, "%s: raised once (id %s)" % (e["spec"], i))
        check(c["method"] == e["method"], "%s: method %s" % (e["spec"], c["method"]))
        check(r0["alert"]["signature_id"] == SIG_ID.get(e["method"]) and r0["alert"]["category"] == "blocking",
              "%s: signature_id %s, category %s" % (e["spec"], r0["alert"]["signature_id"], r0["alert"]["category"]))
        want_leg = "declared" if declared else "undeclared"
        check(c["legitimacy"] == want_leg, "%s: legitimacy %s, want %s" % (e["spec"], c["legitimacy"], want_leg))
        if declared:   # declared for the method seen: no declaration_mismatch
            check(c.get("legal_reference") == declared and r0["alert"]["severity"] == 3 and
                  "declaration_mismatch" not in c,
                  "%s: legal_reference %r, severity %s, mismatch %s" % (
                      e["spec"], c.get("legal_reference"), r0["alert"]["severity"], c.get("declaration_mismatch")))
        else:
            sev = 2 if e["method"] == "blackhole" else 1
            check("legal_reference" not in c and r0["alert"]["severity"] == sev,
                  "%s: no legal reference, severity %s" % (e["spec"], r0["alert"]["severity"]))
        pfx = sorted({p for r in rs for p in r["scope"]["prefixes"]})
        check(pfx and all(covered(p, censored) for p in pfx),
              "%s: scope.prefixes %s all censored by the truth" % (e["spec"], pfx))
        check(all(target_of(r) == target_of(r0) for r in rs), "%s: every record of %s names one target" % (e["spec"], i))
        check(r0["stats"]["affected_flows"] >= 1 and r0["stats"]["ratio"] > 0,
              "%s: affected_flows %s of %s" % (e["spec"], r0["stats"]["affected_flows"], r0["stats"]["flows"]))
        want = e["resolution"] or resolved
        res = [r for r in rs if r["alert"]["state"] == "resolved"]
        if want in (None, "open"):
            check(not res, "%s: stays open" % e["spec"])
            continue
        if not check(len(res) == 1, "%s: resolved %d time(s), want once" % (e["spec"], len(res))):
            continue
        got = res[0]["alert"].get("resolution")
        check(got == want, "%s: resolution %s, want %s" % (e["spec"], got, want))
        after = rec_start if want == "recovered" and rec_start else off
        check(after is not None and res[0]["timestamp"] >= after,
              "%s: resolved at %s, after %s" % (e["spec"], res[0]["timestamp"], after))
        check(rs[-1] is res[0], "%s: nothing of %s after resolved" % (e["spec"], i))
    for i, rs in byid.items():
        if i not in used:
            check(False, "unexpected alert %s: %s %s %s" % (i, rs[0]["alert"]["state"], rs[0]["alert"]["signature"],
                                                         rs[0]["scope"]["prefixes"]))
    if not expects:
        check(not byid, "no alert (%d alert records)" % len(recs))
    leaked = [a for a in CLIENTS
              if re.search(r"(?<![0-9a-fA-F:.])" + re.escape(a) + r"(?![0-9a-fA-F:.])", text)]
    check(not leaked, "no client address in alerts.json (%d lines)%s" % (
        len(text.splitlines()), ": " + " ".join(leaked) if leaked else ""))
    print("\n".join(out))

if __name__ == "__main__":
    main()
