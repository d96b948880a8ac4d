#!/usr/bin/env bash
# Per-flow verdicts: each censor technique of the crafted captures gets the
# right method, signature and evidence; benign look-alikes get none; real
# captures: CenTrace's SNI resets are found, its controls and the benign
# corpus get no verdict of confidence >= 0.5.
cd "$(dirname "$0")/../.." || exit 1
TW=build/tamperwatchd
CORPUS=${TW_CORPUS:-../shared/corpus}
W=$(mktemp -d /tmp/tw-verdict.XXXXXX); trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 tests/replay/craft_verdicts.py "$W" || fail craft
FP=()
[ -d "$CORPUS/ooni__blocking-fingerprints" ] && FP=(--fingerprints "$CORPUS/ooni__blocking-fingerprints/fingerprints_http.csv" --fingerprints "$CORPUS/ooni__blocking-fingerprints/fingerprints_dns.csv")

has_bpf=0
[ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ] && has_bpf=1
# the same capture through the real XDP program (BPF_PROG_TEST_RUN, capture
# time in .bss): the kernel side's timestamps and flow state give the same bytes
bpf_same() {
  [ $has_bpf = 1 ] || return 0
  "$TW" --events --replay "$W/$1.pcap" --replay-engine bpf "${FP[@]}" --alerts "$W/$1.bpf.json" 2>"$W/$1.bpf.err" || fail "$1 (bpf): $(cat "$W/$1.bpf.err")"
  cmp -s "$W/$1.json" "$W/$1.bpf.json" || fail "$1: bpf engine output differs from the user engine's"
}
check() {  # capture, python assertion over T (the tamper records)
  "$TW" --events --replay "$W/$1.pcap" "${FP[@]}" --alerts "$W/$1.json" 2>"$W/$1.err" || fail "$1: $(cat "$W/$1.err")"
  python3 - "$W/$1.json" "$2" "$1" <<'PY' || fail "$1"
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
T = [x["tamper"] for x in L if x["event_type"] == "tamper"]
R = [x["redirect"] for x in L if x["event_type"] == "redirect"]
ok = eval(sys.argv[2])
print(f"{sys.argv[3]}: {[(t['method'], t['signature'], t['anomalies'], t['confidence']) for t in T]}" +
      (f" redirects {[(r['label'], r['http_host'], r['target_host']) for r in R]}" if R else ""))
sys.exit(0 if ok else 1)
PY
}
check rst_race 'len(T)==1 and T[0]["method"]=="rst_injection" and T[0]["signature"]=="PSH->RST" and {"ttl_mismatch","race_data_after_rst"} <= set(T[0]["anomalies"]) and T[0]["confidence"]>=0.9 and T[0]["http_host"]=="blocked.example"'
check rst_burst 'len(T)==1 and T[0]["method"]=="rst_injection" and "multiple_rst_seq" in T[0]["anomalies"] and T[0]["signature"]=="PSH->RST;RST"'
check tls_reset 'len(T)==1 and T[0]["method"]=="tls_interference" and T[0]["sni"]=="blocked.example" and T[0]["stage"]=="after_request"'
check blockpage 'len(T)==1 and T[0]["method"]=="http_blockpage" and T[0]["signature"]=="PSH->HTTP451" and "ttl_mismatch" in T[0]["anomalies"]'
check syn_timeout 'len(T)==1 and T[0]["method"]=="blackhole" and T[0]["signature"]=="SYN->timeout" and T[0]["confidence"]<0.5'
check dns_race 'len(T)==1 and T[0]["method"]=="dns_injection" and T[0]["dns_qname"]=="blocked.example" and "dns_duplicate_differs" in T[0]["anomalies"]'
# in-path: no race, TTL and IP-ID copied, but back sooner than the server could answer
check inpath_rst 'len(T)==1 and T[0]["method"]=="rst_injection" and T[0]["signature"]=="PSH->RST" and T[0]["anomalies"]==["rst_faster_than_rtt"] and T[0]["confidence"]>=0.5'
check inpath_tls_reset 'len(T)==1 and T[0]["method"]=="tls_interference" and T[0]["anomalies"]==["rst_faster_than_rtt"] and T[0]["sni"]=="blocked.example"'
# a silent ClientHello: tls_interference unless other requests to that server
# (or plain HTTP for that name) went unanswered too: then blackhole
X='[(t["method"], t["sni"] or t["http_host"], t.get("cross_flow")) for t in T]'
check tls_silence_alone "sorted($X, key=str)==sorted([('tls_interference','blocked.example',None)], key=str)"
check tls_silence_other_sni_answered "sorted($X, key=str)==sorted([('tls_interference','blocked.example','other_requests_answered')], key=str)"
check tls_silence_server_silent "sorted($X, key=str)==sorted([('blackhole','blocked.example',None),('blackhole','blocked.example','other_requests_unanswered')], key=str)"
check tls_silence_name_silent_elsewhere "sorted($X, key=str)==sorted([('blackhole','blocked.example',None),('blackhole','blocked.example','other_requests_unanswered')], key=str)"
check tls_silence_name_answered_here "sorted($X, key=str)==sorted([('blackhole','blocked.example',None),('tls_interference','blocked.example','other_requests_answered')], key=str)"
check tls_silence_context_too_late "sorted($X, key=str)==sorted([('blackhole','blocked.example',None),('tls_interference','blocked.example',None)], key=str)"
for b in benign_client_abort benign_server_abort benign_closed_port benign_route_change benign_dns \
         benign_abort_far benign_abort_near benign_abort_slow_synack; do
  check $b 'len(T)==0 and len(R)==0'
done
# ISP NXDOMAIN redirection is labelled, not tampering; look-alikes are not labelled
check isp_redirect 'len(T)==0 and len(R)==1 and R[0]["label"]=="isp_redirect" and R[0]["http_host"]=="typo-name.example" and R[0]["target_host"]=="search.isp.example" and R[0]["resolver"]=="203.0.113.53" and R[0]["dns_ttl"]==10'
check redirect_same_site 'len(T)==0 and len(R)==0'
check redirect_no_name 'len(T)==0 and len(R)==0'
check redirect_no_dns 'len(T)==0 and len(R)==0'
check redirect_forged_dns 'len(R)==0 and [t["method"] for t in T]==["dns_injection"]'
for c in inpath_rst inpath_tls_reset benign_abort_far benign_abort_near benign_abort_slow_synack; do bpf_same $c; done
[ $has_bpf = 1 ] && echo "ok: in-path timing cases identical through the BPF program"
echo "ok: crafted censor flows, benign look-alikes, ISP redirection"

[ -d "$CORPUS/censoredplanet__CenTrace" ] || { echo "corpus missing: crafted checks only"; exit 0; }
python3 - "$TW" "$CORPUS" "${FP[@]}" <<'PY' || fail "corpus verdicts"
import functools, glob, json, os, subprocess, sys
tw, corpus, fp = sys.argv[1], sys.argv[2], sys.argv[3:]
@functools.lru_cache(maxsize=None)
def replay(path):
    out = subprocess.run([tw, "--events", "--replay", path, *fp], capture_output=True, text=True).stdout
    recs = [json.loads(l) for l in out.splitlines() if '"event_type":"tamper"' in l or '"event_type":"redirect"' in l]
    return [r["tamper"] for r in recs if "tamper" in r], [r["redirect"] for r in recs if "redirect" in r]
def tampers(path):
    return replay(path)[0]
def redirects(path):
    return replay(path)[1]
bad = 0
# CenTrace: the psiphon.ca SNI is reset (TTL and IP-ID differ from the server's), example.com is not
for p in sorted(glob.glob(f"{corpus}/censoredplanet__CenTrace/examples/pcaps/*.pcap")):
    t = [x for x in tampers(p) if x["confidence"] >= 0.5]
    test = "_psiphon.ca_psiphon.ca_" in p
    good = (len(t) >= 20 and all(x["method"] == "tls_interference" and x["sni"] == "psiphon.ca" for x in t)) if test else not t
    print(f"{'ok ' if good else 'BAD'} {os.path.basename(p)}: {len(t)} verdicts >= 0.5")
    bad |= not good
# benign captures: nothing at confidence >= 0.5
for d in ("chrissanders__packets", "markofu__pcaps"):
    for p in sorted(glob.glob(f"{corpus}/{d}/**/*.pcap*", recursive=True) + glob.glob(f"{corpus}/{d}/**/*.cap", recursive=True)):
        t = [x for x in tampers(p) if x["confidence"] >= 0.5]
        if t:
            print("BAD benign", os.path.basename(p), t); bad = 1
print("benign corpus: no verdict >= 0.5" if not bad else "")
# Level 3's NXDOMAIN search guide: labelled isp_redirect, and no other capture is
r = redirects(f"{corpus}/chrissanders__packets/dns_isp_hijack.pcapng")
ok = len(r) == 1 and r[0]["label"] == "isp_redirect" and r[0]["http_host"] == "3439ur09dhiolh32ljha.net" \
    and r[0]["target_host"] == "searchguide.level3.com" and r[0]["resolver"] == "4.2.2.1"
print(("ok " if ok else "BAD") + f" dns_isp_hijack: {r}"); bad |= not ok
# (the captures with plain HTTP in them; the GFW and outage sets are TLS, QUIC and counts)
web = [p for d in ("chrissanders__packets", "markofu__pcaps", "citizenlab__badtraffic", "censoredplanet__CenTrace")
       for p in glob.glob(f"{corpus}/{d}/**/*.pcap*", recursive=True) + glob.glob(f"{corpus}/{d}/**/*.cap", recursive=True)]
for p in sorted(web):
    if not p.endswith("dns_isp_hijack.pcapng") and redirects(p):
        print("BAD redirect label on", os.path.basename(p)); bad = 1
# Citizen Lab: injected 307 redirects to spyware (Turkey: http_injection), PacketLogic RSTs (Egypt)
t = tampers(f"{corpus}/citizenlab__badtraffic/pcaps/turkey-malware-injection.pcap")
ok = any(x["method"] == "http_injection" and x["confidence"] >= 0.5 for x in t)
print(("ok " if ok else "BAD") + f" turkey-malware-injection: {len(t)} http_injection"); bad |= not ok
t = tampers(f"{corpus}/citizenlab__badtraffic/pcaps/egypt-packetlogic-ttl-localization.pcap")
ok = any(x["method"] == "rst_injection" and "ttl_mismatch" in x["anomalies"] for x in t)
print(("ok " if ok else "BAD") + f" egypt-packetlogic: {len(t)} rst_injection"); bad |= not ok
sys.exit(bad)
PY
echo "ok: corpus verdicts"
