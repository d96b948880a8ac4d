#!/usr/bin/env python3
"""Every message of a JetStream stream, read with the NATS protocol itself
(JetStream's stream API: STREAM.INFO, then STREAM.MSG.GET for each sequence),
so the tests see exactly what a site published and what the hub consumes.
usage: nats_dump.py HOST:PORT STREAM   ->  one line per message:
  SEQ TAB SUBJECT TAB NATS-MSG-ID TAB DATA
With NATS_DUMP_SEED=FILE (a user NKey seed, tests/outputs/nkey.py) it signs
the server's nonce with it, as a client does with NKey authentication."""
import base64, json, os, socket, sys

def main():
    host, port = sys.argv[1].rsplit(":", 1)
    stream = sys.argv[2]
    s = socket.create_connection((host, int(port)), timeout=5)
    f = s.makefile("rb")
    info = f.readline()
    if not info.startswith(b"INFO "):
        sys.exit("nats_dump: not a NATS server: %r" % info[:40])
    conn = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True}
    if os.environ.get("NATS_DUMP_SEED"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from nkey import nkey_sign
        nonce = json.loads(info[5:])["nonce"].encode()
        conn["nkey"], conn["sig"] = nkey_sign(open(os.environ["NATS_DUMP_SEED"]).read().strip(), nonce)
    s.sendall(b"CONNECT %s\r\nSUB _INBOX.dump 1\r\n" % json.dumps(conn).encode())

    def request(subject, body=b""):
        s.sendall(b"PUB %s _INBOX.dump %d\r\n%s\r\n" % (subject.encode(), len(body), body))
        while True:
            line = f.readline()
            if not line:
                sys.exit("nats_dump: connection closed")
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"-ERR"):
                sys.exit("nats_dump: %s" % line.decode().strip())
            parts = line.split()
            if parts[0] == b"MSG":
                data = f.read(int(parts[-1]) + 2)[:-2]
                return json.loads(data) if data else {}
            if parts[0] == b"HMSG":  # no responders and the like: headers only
                f.read(int(parts[-1]) + 2)
                sys.exit("nats_dump: no answer to %s (no JetStream?)" % subject)

    st = request("$JS.API.STREAM.INFO." + stream)
    if "error" in st:
        sys.exit("nats_dump: stream %s: %s" % (stream, st["error"].get("description")))
    state = st["state"]
    first, last = state.get("first_seq", 0), state.get("last_seq", 0)
    out = sys.stdout
    for seq in range(first, last + 1) if state.get("messages", 0) else []:
        m = request("$JS.API.STREAM.MSG.GET." + stream, json.dumps({"seq": seq}).encode())
        if "error" in m:
            continue  # deleted
        m = m["message"]
        msgid = ""
        for h in base64.b64decode(m.get("hdrs", "") or b"").decode().split("\r\n"):
            if h.lower().startswith("nats-msg-id:"):
                msgid = h.split(":", 1)[1].strip()
        data = base64.b64decode(m.get("data", "") or b"").decode()
        out.write("%d\t%s\t%s\t%s\n" % (m["seq"], m["subject"], msgid, data))

main()
