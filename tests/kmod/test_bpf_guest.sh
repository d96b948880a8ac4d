#!/usr/bin/env bash
# The BPF object in Debian 12's own kernel (6.1, the oldest kernel the eBPF
# backend is verified on): the linux-image of scripts/kmod-guest-kernel
# boots under qemu (software emulation) with an initramfs built here
# (busybox-static, the daemon, ip, tcpreplay and their libraries;
# tests/kmod/bpf-guest-init.sh).  Inside, the object must load and work:
# test runs (BPF_PROG_TEST_RUN) of the crafted RST injection, block page
# and DNS injection captures give the same verdicts and events as the same
# object on this machine's kernel, and attached to a veth (XDP, then TC,
# inside the guest) it finds the same three tamperings in the captures sent
# by tcpreplay.  Fails when the verifier refuses the object (its log's tail
# is printed).  Skipped (77) only where qemu is missing.
cd "$(dirname "$0")/../.." || exit 1
. tests/kmod/guest.sh
guest_setup bpfguest

make -s all >/dev/null || fail "make"
python3 tests/replay/craft_verdicts.py "$W/caps" >/dev/null || fail craft
CAPS=(rst_race blockpage dns_race)
for c in "${CAPS[@]}"; do cp "$W/caps/$c.pcap" "$R/tw/"; done
# veth; clsact and the bpf classifier for --mode tc (modules in Debian's kernel)
for m in drivers/net/veth net/sched/sch_ingress net/sched/cls_bpf; do
  cp "$KROOT/lib/modules/$KREL/kernel/$m.ko" "$R/tw/" || fail "no $m.ko in the guest kernel"
done
# the reference: the same captures through the object on this kernel
ENGINE=bpf
[ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ] || ENGINE=user
args=()
for c in "${CAPS[@]}"; do args+=(--replay "$W/caps/$c.pcap"); done
build/tamperwatchd --events --replay-engine $ENGINE --alerts "$W/ref.json" "${args[@]}" 2>"$W/ref.err" ||
  { cat "$W/ref.err"; fail "reference replay ($ENGINE)"; }
echo "reference: the $ENGINE engine on $(uname -r)"

# --- the initramfs and the boot (tests/kmod/guest.sh) ---
guest_initramfs tests/kmod/bpf-guest-init.sh

guest_boot 420

# --- results ---
python3 - "$W/results.txt" "$W/ref.json" "$ENGINE" <<'PY' || fail "results"
import base64, json, sys
files, cur, buf, notes = {}, None, [], []
for l in open(sys.argv[1], errors="replace"):
    l = l.rstrip("\r\n")
    if l.startswith("TW-FILE "): cur, buf = l[8:], []
    elif l == "TW-END": files[cur] = base64.b64decode("".join(buf)).decode(errors="replace"); cur = None
    elif cur: buf.append(l)
    elif l.startswith("TW: "): notes.append(l[4:])
files["ref.json"] = open(sys.argv[2]).read()
engine = sys.argv[3]
bad = []
def need(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond: bad.append(what)
def recs(name):
    return [json.loads(x) for x in files.get(name, "").splitlines() if x.startswith("{")]
def verdicts(name):
    return sorted((t["tamper"]["method"], t["tamper"]["signature"], t["tamper"]["stage"], tuple(t["tamper"]["anomalies"]),
                   t["dest_ip"], t["dest_port"], t["src_port"], t["tamper"]["http_host"], t["tamper"]["dns_qname"])
                  for t in recs(name) if t["event_type"] == "tamper")
def event_counts(name):
    c = {}
    for r in recs(name):
        if r["event_type"] not in ("stats", "tamper", "redirect", "alert"):
            c[r["event_type"]] = c.get(r["event_type"], 0) + 1
    return c
def final_stats(name):
    out = {}
    for r in recs(name):
        if r["event_type"] == "stats" and r.get("final"):
            for key, v in r["stats"].items():
                if isinstance(v, int): out[key] = out.get(key, 0) + v
    return out
booted = next((n for n in notes if n.startswith("booted")), "booted ?")
print("     guest " + booted)
need(booted.startswith("booted 6.1."), "the guest runs a 6.1 kernel")
WANT = {"rst_injection", "http_blockpage", "dns_injection"}
ref = verdicts("ref.json")
need(WANT <= {v[0] for v in ref}, f"reference ({engine}): {sorted({v[0] for v in ref})}")
need("bpf replay rc=0" in notes, "the object loads in the guest (BPF_PROG_TEST_RUN replay rc=0)")
g = verdicts("replay.json")
need(g == ref, f"test runs in the guest: same verdicts as the {engine} engine here ({len(g)} vs {len(ref)})")
need(event_counts("replay.json") == event_counts("ref.json"),
     f"test runs: same events by type: guest {event_counts('replay.json')} here {event_counts('ref.json')}")
for m in ("xdp", "tc"):
    need(f"{m} attached" in notes and f"{m} daemon rc=0" in notes, f"--mode {m}: loaded, attached to veth1, stopped cleanly")
    v = verdicts(f"{m}.json")
    for x in v: print(f"     {m}:", x[:3], x[4:7])
    need(WANT <= {x[0] for x in v}, f"--mode {m}: RST injection, block page, DNS injection found ({sorted({x[0] for x in v})})")
    s = final_stats(f"{m}.json")
    need(s.get("packets", 0) > 0 and s.get("events_lost") == 0, f"--mode {m}: {s.get('packets')} packets, {s.get('events')} events, {s.get('events_lost')} lost")
dm = files.get("dmesg", "")
for pat in ("BUG:", "WARNING:", "Oops", "general protection"):
    need(pat not in dm, f"kernel log has no '{pat}'")
if bad:
    for n in ("replay.err", "xdp.err", "tc.err"):
        print(f"--- {n} (tail)\n{files.get(n, '')[-3000:]}")
sys.exit(1 if bad else 0)
PY
echo "ok: the BPF object loads and works in $KREL under qemu (test runs, XDP and TC on a veth)"
