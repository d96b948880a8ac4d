#!/usr/bin/python3
"""Benign-but-odd servers for the lab (run in tw-srv).

--abort ADDR:PORT   read the request, then close with SO_LINGER 0, i.e. an
                    abortive close: the client gets an RST from the real
                    server (load balancers and crashing apps do this).
--hang ADDR:PORT   read the request and never answer (the kernel ACKs it):
                    a hung application, held open 20 s.
--redirect ADDR:PORT  answer every request with a 307 to another site
                    (https://news.example/): a server that legitimately
                    sends its visitors elsewhere.
--slow ADDR:PORT    read the request, then answer HTTP 200 and write the body
                    1400 bytes every 50 ms for up to 30 s: an application that
                    writes slowly (not the network).
"""
import argparse
import socket
import struct
import threading
import time


def split_hostport(s):
    host, port = s.rsplit(":", 1)
    return host.strip("[]"), int(port)


def listen_tcp(addr):
    host, port = split_hostport(addr)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(64)
    return srv


def abort_server(addr):
    srv = listen_tcp(addr)
    while True:
        conn, _ = srv.accept()
        try:
            conn.settimeout(2)
            conn.recv(4096)
        except OSError:
            pass
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def slow_client(conn):
    try:
        conn.settimeout(2)
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
        chunk = bytes(1400)
        for _ in range(600):
            conn.sendall(chunk)
            time.sleep(0.05)
    except OSError:
        pass
    finally:
        conn.close()


def slow_server(addr):
    srv = listen_tcp(addr)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=slow_client, args=(conn,), daemon=True).start()


def hang_client(conn):
    try:
        conn.settimeout(20)
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def redirect_client(conn):
    try:
        conn.settimeout(2)
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://news.example/\r\n"
                     b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    finally:
        conn.close()


def serve_threads(addr, fn):
    srv = listen_tcp(addr)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=fn, args=(conn,), daemon=True).start()


def udp_echo(addr):
    host, port = split_hostport(addr)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, port))
    while True:
        d, peer = s.recvfrom(2048)
        try:
            s.sendto(d, peer)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--abort", action="append", default=[])
    ap.add_argument("--udp-echo", action="append", default=[])
    ap.add_argument("--slow", action="append", default=[])
    ap.add_argument("--hang", action="append", default=[])
    ap.add_argument("--redirect", action="append", default=[])
    a = ap.parse_args()
    threads = [threading.Thread(target=abort_server, args=(x,), daemon=True) for x in a.abort]
    threads += [threading.Thread(target=udp_echo, args=(x,), daemon=True) for x in a.udp_echo]
    threads += [threading.Thread(target=slow_server, args=(x,), daemon=True) for x in a.slow]
    threads += [threading.Thread(target=serve_threads, args=(x, hang_client), daemon=True) for x in a.hang]
    threads += [threading.Thread(target=serve_threads, args=(x, redirect_client), daemon=True) for x in a.redirect]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
