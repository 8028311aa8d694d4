#!/usr/bin/env python3
"""Hostile clients for bench/hostile.sh: idle keep-alive connections and slow-loris ones.

    hostile_clients.py PORT IDLE SLOW [DRIP_SECONDS]

Opens IDLE connections that each send one ForwardAuth call, read its answer and then stay
silent (Traefik's idle keep-alive connections, or a client holding sockets), and SLOW
connections that send a request line and a header, then one byte every DRIP_SECONDS (default 1)
and never finish (slow loris). A slow connection the server cuts is opened again at once, so
SLOW of them are always pending. Prints "ready" once every connection is open, runs until
SIGTERM or SIGINT, then prints one JSON line: how many of each were open, how many slow ones
were cut and after how long (seconds from their first byte), how many idle ones were cut and
after how long (seconds from their answer).
"""
import json
import resource
import selectors
import signal
import socket
import sys
import time

REQUEST = (b"GET /auth HTTP/1.1\r\nHost: edgeguard.internal\r\nX-Forwarded-Method: GET\r\n"
           b"X-Forwarded-Proto: https\r\nX-Forwarded-Host: erp.example.test\r\n"
           b"X-Forwarded-Uri: /app/sales-order\r\nX-Forwarded-For: 192.0.2.10\r\n\r\n")
SLOW_START = b"GET /auth HTTP/1.1\r\nHost: edgeguard.internal\r\nX-Forwarded-Proto: https\r\nX-Slow: "


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    return s


def main():
    port, idle_n, slow_n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    drip = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = idle_n + slow_n + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    stop = False

    def on_signal(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sel = selectors.DefaultSelector()
    idle = []
    for i in range(idle_n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(REQUEST)
        idle.append(s)
    unanswered = 0
    for s in idle:
        s.settimeout(10)
        try:
            if not s.recv(4096).startswith(b"HTTP/1.1 "):
                unanswered += 1
        except OSError:
            unanswered += 1
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("idle", time.monotonic()))

    slow = {}  # socket -> time of its first byte
    cut_after = []

    def open_slow():
        s = connect(port)
        s.send(SLOW_START)
        slow[s] = time.monotonic()
        sel.register(s, selectors.EVENT_READ, ("slow", None))

    for _ in range(slow_n):
        open_slow()
    print("ready", flush=True)

    idle_cut_after = []
    next_drip = time.monotonic() + drip
    while not stop:
        timeout = max(0.0, next_drip - time.monotonic())
        for key, _ in sel.select(timeout):
            s = key.fileobj
            kind = key.data[0]
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue  # an answer (a 400/431 would come before a close); the close follows
            sel.unregister(s)
            s.close()
            if kind == "idle":
                idle_cut_after.append(time.monotonic() - key.data[1])
            else:
                cut_after.append(time.monotonic() - slow.pop(s))
                if not stop:
                    open_slow()
        if time.monotonic() >= next_drip:
            for s in list(slow):
                try:
                    s.send(b"a")
                except OSError:
                    pass  # closed: the read side reports it
            next_drip += drip

    cut_after.sort()
    idle_cut_after.sort()
    print(json.dumps({
        "idle_opened": idle_n,
        "idle_unanswered": unanswered,
        "idle_cut": len(idle_cut_after),
        "idle_cut_min_s": round(idle_cut_after[0], 2) if idle_cut_after else None,
        "idle_cut_max_s": round(idle_cut_after[-1], 2) if idle_cut_after else None,
        "slow_pending": len(slow),
        "slow_cut": len(cut_after),
        "slow_cut_median_s": round(cut_after[len(cut_after) // 2], 2) if cut_after else None,
        "slow_cut_max_s": round(cut_after[-1], 2) if cut_after else None,
    }), flush=True)


if __name__ == "__main__":
    main()
