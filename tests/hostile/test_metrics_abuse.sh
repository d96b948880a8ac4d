#!/usr/bin/env bash
# /metrics under a connection-holding attack (issue 20, 7): 16 idle TCP
# connections, each reopened as soon as the server closes it, must not
# keep scrapes at 503: a new client displaces the one silent longest (once
# it has been silent 100 ms: right after the attacker reopens them all, a
# scrape may meet a 503 and is tried again 150 ms later, as a scraper's
# next attempt would).  Every scrape over 7 s (past the 5 s per-connection
# deadline) gets 200, and the displaced clients are counted.  The status
# page (--status-page) is served by the same server under the same limits:
# every other scrape asks for /status, and an oversized request for it is
# refused (431) like one for /metrics.
. "$(dirname "$0")/lib.sh"
python3 tests/replay/craft_alerts.py "$WORK/craft" || fail craft
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
held_start "$WORK/craft/incident.pcap" 3 --metrics "127.0.0.1:$PORT" --status-page
"$PY" - "$PORT" <<'PY' || fail "scrapes starved"
import socket, sys, time
A = ("127.0.0.1", int(sys.argv[1]))
def scrape(path=b"/metrics", extra=b""):
    s = socket.create_connection(A, timeout=5); out = b""
    try:
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
        while True:
            b = s.recv(65536)
            if not b: break
            out += b
    except ConnectionResetError:   # a 503 closes without reading the request
        pass
    s.close(); return out or b"reset"
idle = [socket.create_connection(A) for _ in range(16)]
for s in idle: s.setblocking(False)
codes, end, next_scrape = [], time.monotonic() + 7, 0
while time.monotonic() < end:
    for i, s in enumerate(idle):   # reopen every connection the server closed
        try:
            if s.recv(100) == b"": raise ConnectionResetError
        except BlockingIOError:
            continue
        except (ConnectionResetError, OSError):
            pass
        s.close(); idle[i] = socket.create_connection(A); idle[i].setblocking(False)
    if time.monotonic() >= next_scrape:
        path = (b"/metrics", b"/status")[len(codes) % 2]
        c = scrape(path)[:12].decode()
        if c != "HTTP/1.1 200":
            time.sleep(0.15); c = scrape(path)[:12].decode()
        codes.append(c); next_scrape = time.monotonic() + 0.5
    time.sleep(0.02)
print("scrapes:", codes)
assert codes and all(c == "HTTP/1.1 200" for c in codes), codes
m = scrape().decode()
ev = [l for l in m.splitlines() if l.startswith('tamperwatch_metrics_rejected_total{reason="idle_evicted"}')]
assert ev and int(ev[0].split()[1]) >= len(codes), ev
print(ev[0])
for s in idle: s.close()
page = scrape(b"/status").decode()
assert page.startswith("HTTP/1.1 200") and "text/html" in page and 'data-category="blocking"' in page, page[:300]
big = scrape(b"/status", b"X-Pad: " + b"a" * 9000 + b"\r\n")[:12].decode()
assert big == "HTTP/1.1 431", big
print("/status: the alert on the page; an oversized request:", big)
PY
ok "16 idle connections reopened for 7 s: every scrape of /metrics and /status answered 200, the displaced clients counted; /status refuses an oversized request"
held_stop || fail "held replay: rc $?: $(cat "$WORK/held.err")"
