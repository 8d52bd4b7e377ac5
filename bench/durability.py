#!/usr/bin/python3
"""What durability costs: QoS 1 fan-in to ONE persistent subscriber.

P publishers (8) send QoS 1 PUBLISHes with 64-byte payloads to one topic, flat
out within a bounded window (--inflight unacknowledged per publisher, and
--window sent but not yet received by the subscriber, so no broker queue
grows without bound); one subscriber with a persistent session (MQTT 3.1.1,
clean session 0, QoS 1 subscription) acknowledges every message. Measured:
messages per second the subscriber received over --duration seconds after
--warmup.

Brokers, each a fresh process with a fresh data dir in a temporary dir, on a
port picked here, stopped by its pid after the run; alternating (A, B, C, D,
A, B, ...) for --rounds rounds:
  ternd  storage.durability = "fsync", "batch" and "none" (rocksdb backend,
         sys_interval = 1: after each run the retained $SYS/broker/store/*
         counters give messages per sync; "n/a" while ternd has none)
  mosquitto 2.0.11 with persistence true (snapshots every autosave_interval:
         nothing is on disk when it acknowledges), max_inflight_messages 0,
         max_queued_messages 100000
Prints a Markdown table of medians and the ternd/mosquitto ratio.

The load generator is this script: one asyncio loop speaking MQTT 3.1.1 over
raw sockets. PUBLISH packets are cut from a buffer encoded once (packet ids
1..65535); PUBACKs are counted by length and built for the subscriber with
C-level slicing, so Python does no per-message work. Its own CPU is reported
for every run; --capacity measures how fast it goes against a sink that
acknowledges and forwards at once (a second process of this script), to show
it is not the bottleneck.

    /usr/bin/python3 bench/durability.py                    # 3 rounds, 5 s runs
    /usr/bin/python3 bench/durability.py --rounds 5 --duration 10
    /usr/bin/python3 bench/durability.py --quick            # smoke: 1 round, 2 s runs
    /usr/bin/python3 bench/durability.py --capacity         # the generator alone

Both cores are shared by the broker and the generator: read the generator's
and the broker's cores beside each figure.
"""
import argparse
import asyncio
import datetime
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- MQTT 3.1.1 encoding

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id, clean):
    body = utf8("MQTT") + bytes([4, 0x02 if clean else 0x00]) + struct.pack("!H", 0) + utf8(client_id)
    return b"\x10" + varint(len(body)) + body


def subscribe_packet(pid, topic, qos):
    body = struct.pack("!H", pid) + utf8(topic) + bytes([qos])
    return b"\x82" + varint(len(body)) + body


def publish_packet(topic, pid, payload, qos=1, retain=False):
    body = utf8(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return bytes([0x30 | (qos << 1) | (1 if retain else 0)]) + varint(len(body)) + body


def parse_packets(buf):
    """Generic parser: complete packets at the front of buf (a bytearray) as
    (first byte, body) pairs; removes them from buf."""
    out = []
    pos = 0
    n = len(buf)
    while pos + 2 <= n:
        mult, length, i = 1, 0, pos + 1
        while True:
            if i >= n:
                del buf[:pos]
                return out
            b = buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if i + length > n:
            break
        out.append((buf[pos], bytes(buf[i:i + length])))
        pos = i + length
    del buf[:pos]
    return out


class Ring:
    """Every QoS 1 PUBLISH of the run (one topic, one payload) with packet ids
    1..65535, encoded once: a batch is a slice."""

    def __init__(self, topic, payload):
        first = publish_packet(topic, 1, payload)
        self.size = len(first)
        self.count = 65535
        self.id_offset = self.size - len(payload) - 2
        self.data = b"".join(publish_packet(topic, pid, payload) for pid in range(1, self.count + 1))
        self.view = memoryview(self.data)

    def chunks(self, start, n):
        """n packets from index start (wrapping): one or two memoryviews."""
        end = start + n
        if end <= self.count:
            return [self.view[start * self.size:end * self.size]]
        return [self.view[start * self.size:], self.view[:(end - self.count) * self.size]]


# ---------------------------------------------------------------- the load

class Load:
    """Shared counters and the end-to-end window."""

    def __init__(self, a, ring):
        self.a = a
        self.ring = ring
        self.sent = 0
        self.acked = 0
        self.received = 0
        self.publishing = True
        self.publishers = []
        self.errors = []

    def budget(self):
        return self.a.window - (self.sent - self.received)

    def pump_all(self):
        for p in self.publishers:
            p.pump()


class Publisher(asyncio.Protocol):
    def __init__(self, load, name, ready):
        self.load = load
        self.name = name
        self.ready = ready
        self.transport = None
        self.connected = False
        self.paused = False
        self.inflight = 0
        self.next = 0  # ring index of the next PUBLISH
        self.buf = bytearray()

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(connect_packet(self.name, True))

    def connection_lost(self, exc):
        if self.load.publishing:
            self.load.errors.append("%s: connection lost (%s)" % (self.name, exc))
        self.connected = False
        if not self.ready.done():
            self.ready.set_result(False)

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        self.pump()

    def data_received(self, data):
        buf = self.buf
        buf += data
        if not self.connected:
            if len(buf) < 4:
                return
            if buf[0] != 0x20 or buf[3] != 0:
                self.load.errors.append("%s: CONNACK refused: %s" % (self.name, bytes(buf[:4]).hex()))
                self.transport.close()
                return
            del buf[:4]
            self.connected = True
            self.ready.set_result(True)
        n = len(buf) // 4
        if n:
            # Only PUBACKs (4 bytes, 0x40 0x02 id id) come to a publisher.
            if buf[0:4 * n:4].count(0x40) != n:
                self.load.errors.append("%s: unexpected packet %s" % (self.name, bytes(buf[:8]).hex()))
                self.transport.close()
                return
            del buf[:4 * n]
            self.inflight -= n
            self.load.acked += n
            self.pump()  # the end-to-end window moves with the subscriber, which pumps everyone

    def pump(self):
        load = self.load
        if not (self.connected and load.publishing) or self.paused:
            return
        n = min(load.a.inflight - self.inflight, load.budget())
        # Send in batches (a quarter of the in-flight window at least) unless idle.
        if n <= 0 or (n < load.a.inflight // 4 and self.inflight > 0):
            return
        for chunk in load.ring.chunks(self.next, n):
            self.transport.write(chunk)
        self.next = (self.next + n) % load.ring.count
        self.inflight += n
        load.sent += n


class Subscriber(asyncio.Protocol):
    def __init__(self, load, name, topic, ready):
        self.load = load
        self.name = name
        self.topic = topic
        self.ready = ready
        self.transport = None
        self.state = "connecting"
        self.buf = bytearray()
        self.size = load.ring.size
        self.id_offset = load.ring.id_offset
        self.first = load.ring.data[0]
        self.rl = load.ring.data[1]
        self.acks = bytearray(b"\x40\x02\x00\x00" * 65536)

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(connect_packet(self.name, False))

    def connection_lost(self, exc):
        if self.load.publishing:
            self.load.errors.append("%s: connection lost (%s)" % (self.name, exc))
        if not self.ready.done():
            self.ready.set_result(False)

    def data_received(self, data):
        buf = self.buf
        buf += data
        got = 0
        while buf:
            n = len(buf) // self.size
            region = buf[:n * self.size] if n else b""
            if n and region[0::self.size].count(self.first) == n and region[1::self.size].count(self.rl) == n:
                # n PUBLISHes of the ring's shape: PUBACKs cut by slicing.
                acks = self.acks if n <= 65536 else bytearray(b"\x40\x02\x00\x00" * n)
                acks[2:4 * n:4] = region[self.id_offset::self.size]
                acks[3:4 * n:4] = region[self.id_offset + 1::self.size]
                self.transport.write(bytes(acks[:4 * n]))
                del buf[:n * self.size]
                got += n
                continue
            # Anything else (CONNACK, SUBACK, DUP PUBLISH, a partial packet): one at a time.
            before = len(buf)
            for first, body in parse_packets_one(buf):
                kind = first >> 4
                if kind == 2:
                    if body[1] != 0:
                        self.load.errors.append("%s: CONNACK refused" % self.name)
                        return
                    self.transport.write(subscribe_packet(1, self.topic, 1))
                elif kind == 9:
                    if body[2] not in (1, 2):
                        self.load.errors.append("%s: SUBACK %d" % (self.name, body[2]))
                    elif not self.ready.done():
                        self.ready.set_result(True)
                elif kind == 3:
                    qos = (first >> 1) & 3
                    if qos:
                        tl = struct.unpack("!H", body[:2])[0]
                        self.transport.write(b"\x40\x02" + body[2 + tl:4 + tl])
                    got += 1
            if len(buf) == before:
                break  # a partial packet: wait for more
        if got:
            self.load.received += got
            if self.load.publishing:
                self.load.pump_all()


def parse_packets_one(buf):
    """The first complete packet of buf, if any (removed from buf)."""
    out = []
    n = len(buf)
    if n < 2:
        return out
    mult, length, i = 1, 0, 1
    while True:
        if i >= n:
            return out
        b = buf[i]
        length += (b & 0x7F) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            break
    if i + length > n:
        return out
    out.append((buf[0], bytes(buf[i:i + length])))
    del buf[:i + length]
    return out


async def run_load(a, port, broker_pid=None):
    """One run against 127.0.0.1:port; returns a dict of results."""
    loop = asyncio.get_running_loop()
    run_id = uuid.uuid4().hex[:8]
    topic = "bench/durability/" + run_id
    ring = Ring(topic, os.urandom(a.size // 2).hex().encode()[:a.size].ljust(a.size, b"x"))
    load = Load(a, ring)
    transports = []
    try:
        ready = loop.create_future()
        t, sub = await loop.create_connection(
            lambda: Subscriber(load, "bench-dur-sub-" + run_id, topic, ready), "127.0.0.1", port)
        transports.append(t)
        if not await asyncio.wait_for(ready, 10):
            raise RuntimeError("subscriber: " + "; ".join(load.errors))
        for i in range(a.publishers):
            ready = loop.create_future()
            t, p = await loop.create_connection(
                lambda: Publisher(load, "bench-dur-pub-%d-%s" % (i, run_id), ready), "127.0.0.1", port)
            transports.append(t)
            if not await asyncio.wait_for(ready, 10):
                raise RuntimeError("publisher: " + "; ".join(load.errors))
            load.publishers.append(p)
        load.pump_all()
        await asyncio.sleep(a.warmup)
        c0, t0 = load.received, time.monotonic()
        a0, s0 = load.acked, load.sent
        cpu0 = time.process_time()
        b0 = proc_cpu(broker_pid)
        sys0 = machine_busy()
        await asyncio.sleep(a.duration)
        c1, t1 = load.received, time.monotonic()
        a1 = load.acked
        cpu1 = time.process_time()
        b1 = proc_cpu(broker_pid)
        sys1 = machine_busy()
        load.publishing = False
        # Drain: every acknowledged message should reach the subscriber.
        deadline = time.monotonic() + a.drain
        while time.monotonic() < deadline and (load.received < load.acked or
                                               any(p.inflight for p in load.publishers)):
            await asyncio.sleep(0.05)
        secs = t1 - t0
        gen = (cpu1 - cpu0) / secs
        brk = (b1 - b0) / secs if b0 is not None and b1 is not None else None
        total = (sys1 - sys0) / secs
        return {
            "msgs_per_s": (c1 - c0) / secs,
            "acked_per_s": (a1 - a0) / secs,
            "sent": load.sent, "acked": load.acked, "received": load.received,
            "lost": max(0, load.acked - load.received),
            "gen_cores": gen, "broker_cores": brk,
            "other_cores": max(0.0, total - gen - (brk or 0.0)),
            "errors": load.errors,
        }
    finally:
        for t in transports:
            t.abort()


def proc_cpu(pid):
    """CPU seconds (user + system) of a process, or None."""
    if pid is None:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except OSError:
        return None


def wait_quiet(a):
    """Waits (up to --quiet-wait s) until other programs leave the machine idle."""
    deadline = time.monotonic() + a.quiet_wait
    while time.monotonic() < deadline:
        b0, t0 = machine_busy(), time.monotonic()
        time.sleep(0.3)
        if (machine_busy() - b0) / (time.monotonic() - t0) <= a.quiet:
            return True
    sys.stderr.write("(the machine is not quiet: running anyway)\n")
    return False


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / TICKS


async def read_sys(port, seconds):
    """Retained $SYS/broker/store/* values (and messages/received): {name: str}."""
    loop = asyncio.get_running_loop()
    values = {}
    done = loop.create_future()

    class Reader(asyncio.Protocol):
        def connection_made(self, t):
            self.t = t
            self.buf = bytearray()
            t.write(connect_packet("bench-dur-sys-" + uuid.uuid4().hex[:8], True))

        def data_received(self, data):
            self.buf += data
            for first, body in parse_packets(self.buf):
                kind = first >> 4
                if kind == 2:
                    self.t.write(subscribe_packet(1, "$SYS/broker/store/#", 0) +
                                 subscribe_packet(2, "$SYS/broker/messages/received", 0))
                elif kind == 3:
                    tl = struct.unpack("!H", body[:2])[0]
                    off = 2 + tl + (2 if (first >> 1) & 3 else 0)
                    values[body[2:2 + tl].decode(errors="replace")] = body[off:].decode(errors="replace")

        def connection_lost(self, exc):
            if not done.done():
                done.set_result(None)

    t, _ = await loop.create_connection(Reader, "127.0.0.1", port)
    try:
        await asyncio.sleep(seconds)
    finally:
        t.close()
    return values


# ---------------------------------------------------------------- brokers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, name, workdir):
        self.name = name
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.log = os.path.join(workdir, name + ".log")

    def start(self):
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix=self.name + "-data-", dir=self.workdir)
        cmd = self.command()
        if shutil.which("setpriv"):
            cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd  # dies with this script
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("%s did not start; see %s:\n%s" % (self.name, self.log, tail(self.log)))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if getattr(self, "data_dir", None):
            shutil.rmtree(self.data_dir, ignore_errors=True)


def tail(path, n=2000):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")[-n:]
    except OSError:
        return ""


class Ternd(Broker):
    def __init__(self, binary, durability, workdir, extra):
        super().__init__("ternd-" + durability, workdir)
        self.binary = binary
        self.durability = durability
        self.extra = extra

    def command(self):
        conf = os.path.join(self.workdir, self.name + ".toml")
        with open(conf, "w") as f:
            f.write('log_level = "warn"\nsys_interval = 1\n\n')
            f.write('[[listeners]]\naddress = "127.0.0.1"\nport = %d\nprotocol = "mqtt"\n\n' % self.port)
            f.write("[limits]\nmax_queued_messages = 100000\n\n")
            f.write('[storage]\nbackend = "rocksdb"\ndata_dir = "%s"\ndurability = "%s"\n'
                    % (self.data_dir, self.durability))
            for line in self.extra:
                f.write(line + "\n")
        return [self.binary, "-c", conf]

    def in_memory(self):
        """Today's ternd says it keeps the rocksdb backend in memory."""
        return "not built yet" in tail(self.log, 1 << 20)


class Mosquitto(Broker):
    def __init__(self, binary, workdir):
        super().__init__("mosquitto", workdir)
        self.binary = binary

    def command(self):
        conf = os.path.join(self.workdir, "mosquitto.conf")
        with open(conf, "w") as f:
            if os.geteuid() == 0:
                f.write("user root\n")  # keeps the parent-death signal; no chown of the data dir
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    "persistence_location %s/\nmax_inflight_messages 0\nmax_queued_messages 100000\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\n" % (self.port, self.data_dir))
        return [self.binary, "-c", conf]


# ---------------------------------------------------------------- capacity: a sink

def sink_main(port_file):
    """A stand-in broker for --capacity: PUBACKs every PUBLISH at once and
    forwards it, as it came, to the one subscriber (the id reused: the
    generator does not care); nothing stored."""
    async def main():
        subscriber = {}
        ring_size = {}

        class Conn(asyncio.Protocol):
            def connection_made(self, t):
                self.t = t
                self.buf = bytearray()
                self.acks = bytearray(b"\x40\x02\x00\x00" * 65536)
                t.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def data_received(self, data):
                buf = self.buf
                buf += data
                size = ring_size.get("n")
                while buf:
                    if size and buf[0] == 0x32:
                        n = len(buf) // size
                        region = buf[:n * size]
                        if n and region[0::size].count(0x32) == n:
                            off = size - ring_size["payload"] - 2
                            acks = self.acks if n <= 65536 else bytearray(b"\x40\x02\x00\x00" * n)
                            acks[2:4 * n:4] = region[off::size]
                            acks[3:4 * n:4] = region[off + 1::size]
                            self.t.write(bytes(acks[:4 * n]))
                            s = subscriber.get("t")
                            if s is not None:
                                s.write(bytes(region))
                            del buf[:n * size]
                            continue
                    pkts = parse_packets_one(buf)
                    if not pkts:
                        break
                    first, body = pkts[0]
                    kind = first >> 4
                    if kind == 1:
                        self.t.write(b"\x20\x02\x00\x00")
                    elif kind == 8:
                        subscriber["t"] = self.t
                        self.t.write(b"\x90\x03" + body[:2] + b"\x01")
                    elif kind == 3:
                        tl = struct.unpack("!H", body[:2])[0]
                        if "n" not in ring_size:
                            ring_size["payload"] = len(body) - tl - 4
                            ring_size["n"] = len(publish_packet("x" * tl, 1, b"x" * ring_size["payload"]))
                            size = ring_size["n"]
                        self.t.write(b"\x40\x02" + body[2 + tl:4 + tl])
                        s = subscriber.get("t")
                        if s is not None:
                            s.write(bytes([first]) + varint(len(body)) + body)
                    # PUBACKs from the subscriber: nothing to do

        server = await asyncio.get_running_loop().create_server(Conn, "127.0.0.1", 0)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.sockets[0].getsockname()[1]))
        os.rename(port_file + ".tmp", port_file)
        await asyncio.Event().wait()

    asyncio.run(main())


def capacity(a, workdir):
    port_file = os.path.join(workdir, "sink.port")
    cmd = [sys.executable, os.path.abspath(__file__), "--sink", port_file]
    if shutil.which("setpriv"):
        cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
    proc = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the sink did not start")
            time.sleep(0.05)
        port = int(open(port_file).read())
        results = [asyncio.run(run_load(a, port, proc.pid)) for _ in range(a.rounds)]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    print("generator capacity: %d publishers -> 1 subscriber, QoS 1, %d-byte payloads, in flight %d per "
          "publisher, window %d, against a sink (a Python process that acknowledges and forwards at once)"
          % (a.publishers, a.size, a.inflight, a.window))
    for r in results:
        per_core = r["msgs_per_s"] / r["gen_cores"] if r["gen_cores"] else 0
        print("  %s msg/s; generator %.2f cores (%s msg/s per generator core), sink %.2f cores, lost %d%s" % (
            format(int(r["msgs_per_s"]), ","), r["gen_cores"], format(int(per_core), ","),
            r["broker_cores"] or 0, r["lost"], "; errors: " + "; ".join(r["errors"]) if r["errors"] else ""))
    return 0


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ternd", default=os.path.join(ROOT, "build/release/bin/ternd"))
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    ap.add_argument("--durabilities", default="fsync,batch,none", help="ternd's storage.durability values to run")
    ap.add_argument("--no-mosquitto", action="store_true")
    ap.add_argument("--ternd-set", action="append", default=[], metavar="LINE",
                    help="a line added at the end of ternd's config (after [storage])")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--drain", type=float, default=5.0)
    ap.add_argument("--publishers", type=int, default=8)
    ap.add_argument("--size", type=int, default=64, help="payload bytes")
    ap.add_argument("--inflight", type=int, default=128, help="unacknowledged PUBLISHes per publisher")
    ap.add_argument("--window", type=int, default=4096,
                    help="messages sent and not yet received by the subscriber, all publishers together")
    ap.add_argument("--quick", action="store_true", help="1 round of 2 s runs")
    ap.add_argument("--quiet", type=float, default=0.2,
                    help="before each run, wait until the machine uses at most this many cores ...")
    ap.add_argument("--quiet-wait", type=float, default=60.0, help="... for at most this many seconds")
    ap.add_argument("--capacity", action="store_true", help="measure the generator against a sink, no broker")
    ap.add_argument("--sink", metavar="PORT_FILE", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.sink:
        return sink_main(a.sink)
    if a.quick:
        a.rounds, a.duration, a.warmup = 1, 2.0, 0.5

    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    workdir = tempfile.mkdtemp(prefix="tern-durability-")
    os.chmod(workdir, 0o755)
    try:
        if a.capacity:
            return capacity(a, workdir)
        return bench(a, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bench(a, workdir):
    brokers = []
    if not os.access(a.ternd, os.X_OK):
        sys.exit("durability: no ternd at %s (cmake --preset release && cmake --build --preset release "
                 "--target ternd)" % a.ternd)
    for d in a.durabilities.split(","):
        brokers.append(Ternd(a.ternd, d.strip(), workdir, a.ternd_set))
    if not a.no_mosquitto:
        if not os.access(a.mosquitto, os.X_OK):
            sys.exit("durability: no mosquitto at %s (apt-get install mosquitto)" % a.mosquitto)
        brokers.append(Mosquitto(a.mosquitto, workdir))
    started = datetime.datetime.utcnow()
    results = {b.name: [] for b in brokers}
    failures = []
    in_memory = set()
    try:
        for rnd in range(1, a.rounds + 1):
            for b in brokers:
                wait_quiet(a)
                b.start()
                try:
                    r = asyncio.run(run_load(a, b.port, b.proc.pid))
                    if isinstance(b, Ternd):
                        time.sleep(1.2)  # one more sys_interval: counters that include the drain
                        r["sys"] = asyncio.run(read_sys(b.port, 1.5))
                finally:
                    b.stop()
                if isinstance(b, Ternd) and b.in_memory():
                    in_memory.add(b.name)
                results[b.name].append(r)
                if r["errors"]:
                    failures.append("%s round %d: %s" % (b.name, rnd, "; ".join(r["errors"][:3])))
                sys.stderr.write("round %d %-14s %9s msg/s  generator %.2f cores, broker %s cores, lost %d%s\n" % (
                    rnd, b.name, format(int(r["msgs_per_s"]), ","), r["gen_cores"],
                    "%.2f" % r["broker_cores"] if r["broker_cores"] is not None else "-", r["lost"],
                    "  " + spm(r) if isinstance(b, Ternd) else ""))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: the table has the runs done so far\n")
    finally:
        for b in brokers:
            b.stop()

    def med(name, key):
        vals = [r[key] for r in results[name] if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    mosq = None if a.no_mosquitto else med("mosquitto", "msgs_per_s")
    print("durability bench: %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    print("command: %s" % " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv))
    print("machine: %s, %d cores, Linux %s; %d publishers -> 1 persistent subscriber (MQTT 3.1.1, clean "
          "session 0), QoS 1, %d-byte payloads, in flight %d per publisher, window %d; %g s runs after %g s "
          "warm-up; medians of %d rounds" % (platform.node(), os.cpu_count() or 0, platform.release(),
                                            a.publishers, a.size, a.inflight, a.window, a.duration, a.warmup,
                                            a.rounds))
    print()
    head = ["broker", "msg/s", "vs mosquitto", "msgs per sync", "ops per commit", "generator cores",
            "broker cores", "others' cores", "lost (all runs)"]
    rows = []
    for b in brokers:
        v = med(b.name, "msgs_per_s")
        name = b.name
        if isinstance(b, Ternd):
            name = "ternd, durability %s%s" % (b.durability, " (store in memory!)" if b.name in in_memory else "")
        else:
            name = "mosquitto 2.0.11, persistence true"
        rows.append([name, fmt_int(v), "%.2fx" % (v / mosq) if v and mosq else "-",
                     med_ratio(results[b.name], "msgs") if isinstance(b, Ternd) else "n/a (snapshots)",
                     med_ratio(results[b.name], "ops") if isinstance(b, Ternd) else "-",
                     fmt2(med(b.name, "gen_cores")), fmt2(med(b.name, "broker_cores")),
                     fmt2(med(b.name, "other_cores")), str(sum(r["lost"] for r in results[b.name]))])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print()
    print("msg/s: messages the subscriber received per second. msgs per sync: QoS 1 messages acknowledged "
          "to the publishers in the run / $SYS/broker/store/disk syncs (else .../syncs); ops per commit: "
          "$SYS/broker/store/operations / commits (n/a: no such counter, or 0). Cores: CPU seconds per "
          "second of the run; generator: this script.")
    if any(r["other_cores"] > 0.2 for rs in results.values() for r in rs):
        print("NOTE: other programs used more than 0.2 cores during some runs (others' cores): "
              "those figures are disturbed.")
    if in_memory:
        print("NOTE: %s ran with the store in memory (this ternd has no rocksdb backend yet): "
              "those rows measure no disk." % ", ".join(sorted(in_memory)))
    if failures:
        print("failed runs:")
        for f in failures:
            print("  " + f)
    return 1 if failures else 0


def sys_int(r, key):
    v = r.get("sys", {}).get("$SYS/broker/store/" + key)
    try:
        return int(v.split()[0]) if v else None
    except ValueError:
        return None


def syncs_of(r):
    """fsyncs of the store: "disk syncs" when ternd publishes it, else "syncs"."""
    d = sys_int(r, "disk syncs")
    return d if d is not None else sys_int(r, "syncs")


def spm(r):
    store = {k.rsplit("/", 1)[1]: v for k, v in r.get("sys", {}).items() if "/store/" in k}
    syncs = syncs_of(r)
    return "msgs/sync %s; $SYS store: %s" % (
        "%.1f" % (r["acked"] / syncs) if syncs else "n/a",
        ", ".join("%s %s" % kv for kv in sorted(store.items())) or "none")


def med_ratio(rs, kind):
    vals = []
    for r in rs:
        if kind == "msgs":
            d = syncs_of(r)
            n = r["acked"]
        else:
            d = sys_int(r, "commits")
            n = sys_int(r, "operations")
        if d and n is not None:
            vals.append(n / d)
    return "%.1f" % statistics.median(vals) if vals else "n/a"


def fmt_int(v):
    return format(int(round(v)), ",") if v is not None else "-"


def fmt2(v):
    return "%.2f" % v if v is not None else "-"


if __name__ == "__main__":
    sys.exit(main())
