#!/usr/bin/python3
"""Loopback TCP proxy that records MQTT packets as hex test vectors.

Listens on 127.0.0.1:LISTEN, forwards every accepted connection to
127.0.0.1:UPSTREAM and splits each direction's byte stream into complete
MQTT control packets (fixed header byte + variable byte integer remaining
length + body).  Every complete packet is appended to the output file as one
line:

    c2s <lowercase hex>     client -> server
    s2c <lowercase hex>     server -> client

Bytes are forwarded unchanged and immediately; splitting is only done for the
recording, so packets split across TCP reads and several packets in one read
are both handled.  Standard library only.

Usage:
    /usr/bin/python3 proxy.py --listen 18851 --upstream 18850 --out FILE \
        [--ready FILE] [--log FILE]
"""

import argparse
import os
import signal
import socket
import sys
import threading

HOST = "127.0.0.1"


class PacketSplitter:
    """Incrementally splits a byte stream into complete MQTT packets."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        """Add bytes; return a list of complete packets (bytes)."""
        self.buf += data
        out = []
        while True:
            pkt_len = self._complete_length()
            if pkt_len is None:
                break
            out.append(bytes(self.buf[:pkt_len]))
            del self.buf[:pkt_len]
        return out

    def _complete_length(self):
        """Total length of the first packet if it is complete, else None."""
        buf = self.buf
        if len(buf) < 2:
            return None
        multiplier = 1
        value = 0
        pos = 1
        while True:
            if pos >= len(buf):
                return None  # remaining length not complete yet
            byte = buf[pos]
            value += (byte & 0x7F) * multiplier
            pos += 1
            if not byte & 0x80:
                break
            if pos > 4:
                raise ValueError("malformed remaining length: %s"
                                 % bytes(buf[:pos]).hex())
            multiplier *= 128
        total = pos + value
        if len(buf) < total:
            return None
        return total


class Recorder:
    """Appends packet lines to the output file, serialised by a lock."""

    def __init__(self, path, log):
        self.lock = threading.Lock()
        self.fh = open(path, "a", encoding="ascii")
        self.log = log

    def record(self, direction, packet):
        with self.lock:
            self.fh.write("%s %s\n" % (direction, packet.hex()))
            self.fh.flush()

    def note(self, msg):
        with self.lock:
            self.log.write(msg + "\n")
            self.log.flush()


def pump(src, dst, direction, recorder, conn_id, done):
    splitter = PacketSplitter()
    broken = False
    try:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            # Record before forwarding so that a request is always written
            # before the peer's reply to it.
            if not broken:
                try:
                    for pkt in splitter.feed(data):
                        recorder.record(direction, pkt)
                except ValueError as exc:
                    broken = True
                    recorder.note("conn %d %s: %s; recording stopped"
                                  % (conn_id, direction, exc))
            try:
                dst.sendall(data)
            except OSError:
                break
        if splitter.buf and not broken:
            recorder.note("conn %d %s: %d trailing bytes not a complete "
                          "packet: %s" % (conn_id, direction,
                                          len(splitter.buf),
                                          bytes(splitter.buf).hex()))
    finally:
        # Half-close towards the destination so the other side sees EOF.
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        done.set()


def handle(client, upstream_port, recorder, conn_id):
    try:
        server = socket.create_connection((HOST, upstream_port), timeout=10)
        server.settimeout(None)
    except OSError as exc:
        recorder.note("conn %d: upstream connect failed: %s" % (conn_id, exc))
        client.close()
        return
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    recorder.note("conn %d: open" % conn_id)
    done_a, done_b = threading.Event(), threading.Event()
    ta = threading.Thread(target=pump, daemon=True,
                          args=(client, server, "c2s", recorder, conn_id,
                                done_a))
    tb = threading.Thread(target=pump, daemon=True,
                          args=(server, client, "s2c", recorder, conn_id,
                                done_b))
    ta.start()
    tb.start()
    ta.join()
    tb.join()
    client.close()
    server.close()
    recorder.note("conn %d: closed" % conn_id)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--out", required=True, help="vector file to append to")
    ap.add_argument("--ready", help="file created once listening")
    ap.add_argument("--log", help="diagnostics file (default stderr)")
    args = ap.parse_args()

    log = open(args.log, "a") if args.log else sys.stderr
    recorder = Recorder(args.out, log)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((HOST, args.listen))
    lsock.listen(16)

    def stop(_signum, _frame):
        recorder.note("proxy: stopping")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.ready:
        with open(args.ready, "w") as fh:
            fh.write("%d\n" % os.getpid())

    conn_id = 0
    while True:
        client, _addr = lsock.accept()
        conn_id += 1
        threading.Thread(target=handle, daemon=True,
                         args=(client, args.upstream, recorder,
                               conn_id)).start()


if __name__ == "__main__":
    main()
