#!/usr/bin/python3
"""Recovery time and memory of ternd's durable store.

Fills a ternd (RocksDB store, durability fsync) with R retained messages
(distinct topics) and Q QoS 1 messages queued for S offline persistent
sessions (Q/S each), reports ternd's resident memory with everything queued,
SIGKILLs it, restarts it on the same data directory, and reports how long the
restart takes (store open + recovery, until the port accepts connections, and
the broker's own "recovered ... in N ms" log line) and the resident memory
after recovery. Then one session reconnects and reads its whole queue back,
to show nothing was lost.

  /usr/bin/python3 bench/recovery.py --ternd build/release/bin/ternd            # 1M + 1M
  /usr/bin/python3 bench/recovery.py --retained 10000 --queued 10000 --quick   # smoke

Speaks MQTT 3.1.1 over raw sockets (pipelined, no client library), so the
generator is not what limits the fill.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def s16(b):
    return len(b).to_bytes(2, "big") + b


def connect_packet(cid, clean):
    vh = s16(b"MQTT") + bytes([4, 0x02 if clean else 0x00]) + (60).to_bytes(2, "big")
    return packet(0x10, vh + s16(cid.encode()))


def connect(port, cid, clean=True):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(connect_packet(cid, clean))
    ack = recv_exact(s, 4)
    assert ack[0] == 0x20 and ack[3] == 0, ack.hex()
    return s, ack[2] & 1


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed")
        buf += d
    return bytes(buf)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def du_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 1048576


class Ternd:
    def __init__(self, binary, port, data, log):
        self.binary, self.port, self.data, self.log = binary, port, data, log
        self.proc = None

    def start(self):
        t0 = time.monotonic()
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([self.binary, "-p", str(self.port), "--data-dir", self.data],
                                     stderr=logf, stdout=subprocess.DEVNULL)
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return time.monotonic() - t0
            except OSError:
                if self.proc.poll() is not None:
                    sys.exit("ternd exited: see " + self.log)
                time.sleep(0.005)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def pipeline(port, cid, packets, ack_size, window_bytes=1 << 20):
    """Sends packets on one connection, keeping about window_bytes unacknowledged;
    returns once every acknowledgement (ack_size bytes each; 0: none) arrived."""
    s, _ = connect(port, cid)
    s.setblocking(True)
    expected = len(packets) * ack_size
    got = 0
    i = 0
    chunk = 2000
    while i < len(packets):
        s.sendall(b"".join(packets[i:i + chunk]))
        i += chunk
        if ack_size:
            # keep at most ~window outstanding
            while (i * ack_size - got) > window_bytes // 8:
                d = s.recv(1 << 20)
                if not d:
                    raise ConnectionError("closed")
                got += len(d)
    while got < expected:
        d = s.recv(1 << 20)
        if not d:
            raise ConnectionError("closed")
        got += len(d)
    if not ack_size:
        # a round trip so that everything before it was processed
        s.sendall(packet(0xC0, b""))
        recv_exact(s, 2)
    s.sendall(packet(0xE0, b""))
    s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--ternd", default=os.path.join(root, "build/release/bin/ternd"))
    ap.add_argument("--retained", type=int, default=1_000_000)
    ap.add_argument("--queued", type=int, default=1_000_000, help="messages queued in total")
    ap.add_argument("--sessions", type=int, default=10, help="offline persistent sessions sharing them")
    ap.add_argument("--payload", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="skip reading a queue back")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="tern-recovery-")
    data = os.path.join(tmp, "data")
    log = os.path.join(tmp, "ternd.log")
    port = free_port()
    t = Ternd(a.ternd, port, data, log)
    try:
        t.start()
        per = a.queued // a.sessions
        for k in range(a.sessions):
            s, _ = connect(port, "offline-%d" % k, clean=False)
            s.sendall(packet(0x82, (1).to_bytes(2, "big") + s16(b"q/#") + b"\x01"))
            recv_exact(s, 5)
            s.sendall(packet(0xE0, b""))
            s.close()
        payload = b"x" * a.payload
        t0 = time.monotonic()
        retained = [packet(0x31, s16(b"r/%d" % i) + payload) for i in range(a.retained)]
        pipeline(port, "filler-r", retained, 0)
        del retained
        t_ret = time.monotonic() - t0
        t0 = time.monotonic()
        queued = [packet(0x32, s16(b"q/x") + ((i % 65535) + 1).to_bytes(2, "big") + payload) for i in range(per)]
        pipeline(port, "filler-q", queued, 4)
        del queued
        t_q = time.monotonic() - t0
        time.sleep(0.5)
        rss_full = rss_kib(t.proc.pid)
        disk = du_mib(data)
        print("filled: %d retained in %.1f s (%.0f/s), %d QoS 1 messages x %d offline sessions = %d queued in %.1f s "
              "(%.0f publishes/s, %.0f queued/s)" % (a.retained, t_ret, a.retained / t_ret, per, a.sessions,
                                                      per * a.sessions, t_q, per / t_q, per * a.sessions / t_q))
        print("ternd resident memory with all of it stored: %.1f MiB; data dir %.0f MiB" % (rss_full / 1024, disk))
        t.kill()
        up = t.start()
        time.sleep(0.3)
        rss_after = rss_kib(t.proc.pid)
        rec = [l for l in open(log) if "recovered" in l]
        opened = [l for l in open(log) if "opened" in l]
        print("after SIGKILL: restart until the port accepts %.2f s; resident memory %.1f MiB" % (up, rss_after / 1024))
        if opened:
            print("  " + opened[-1].strip().split(" info ", 1)[-1])
        if rec:
            print("  " + rec[-1].strip().split(" info ", 1)[-1])
        if not a.quick:
            s, present = connect(port, "offline-0", clean=False)
            assert present == 1, "session not present"
            s.settimeout(10)
            n = 0
            buf = bytearray()
            t0 = time.monotonic()
            while n < per:
                d = s.recv(1 << 20)
                if not d:
                    break
                buf += d
                acks = bytearray()
                while len(buf) >= 2:
                    # remaining length < 128 for these packets
                    size = 2 + buf[1]
                    if len(buf) < size:
                        break
                    if buf[0] & 0xF0 == 0x30:
                        tl = int.from_bytes(buf[2:4], "big")
                        pid = buf[4 + tl:6 + tl]
                        acks += b"\x40\x02" + pid
                        n += 1
                    del buf[:size]
                s.sendall(bytes(acks))
            print("offline-0 read its queue back: %d of %d messages in %.2f s" % (n, per, time.monotonic() - t0))
            s.close()
    finally:
        t.stop()
        if a.keep:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
