#!/usr/bin/python3
"""Crash test: acknowledged QoS 1/2 messages survive SIGKILL of the broker.

Starts a broker (ternd with its embedded store in a temporary data dir, or
Debian's mosquitto with `persistence true`) on 127.0.0.1 and a port it picks,
then runs paho-mqtt clients with persistent sessions against it:

  publishers   pub-q1-v311, pub-q1-v5 (QoS 1), pub-q2-v311, pub-q2-v5 (QoS 2);
               each payload is "<publisher>:<sequence number>"
  subscribers  sub-v311 (clean session 0), sub-v5 (Session Expiry 3600 s),
               both subscribed once, at QoS 2, to every publisher's topic
  retained     one retained message set before the first round

Each round runs the load for a random 0.3-1.5 s, SIGKILLs the broker (by the
pid of the process this script started), starts it again on the same port and
data dir, and waits for the clients to reconnect by themselves (paho keeps a
persistent session's in-flight messages and resends them with DUP). After
each restart it checks that every client's CONNACK had Session Present = 1 and
that a fresh subscriber still gets the retained message. A subscriber whose
session was lost subscribes again (the loss is reported), so the messages
lost later still show.

At the end the publishers stop, their last messages are acknowledged, the
subscribers drain (until no message arrived for --quiet seconds), and:
  - every message whose PUBACK (QoS 1) / PUBCOMP (QoS 2) its publisher got
    (paho's on_publish) reached EVERY subscriber;
  - QoS 2 messages reached each subscriber exactly once, QoS 1 at least once.
Prints the counts, the first missing and duplicated ids, and exits 1 on any
violation, 2 when the harness itself could not run (e.g. the broker does not
start). A duplicate shows how each copy came: "conn3/id812/dup" is the
subscriber's 3rd connection, packet id 812, DUP set.

--disrupt term (SIGTERM, a clean shutdown) and --disrupt connections (the
broker stays up, every client connection is cut) check the harness itself:
ternd with its sessions in memory passes the latter, so a failure of the
default mode is the store's.

    /usr/bin/python3 tests/crash/crash_test.py --ternd build/release/bin/ternd
    /usr/bin/python3 tests/crash/crash_test.py --ternd build/asan/bin/ternd --short
    /usr/bin/python3 tests/crash/crash_test.py --broker mosquitto     # loses messages

Needs Debian's /usr/bin/python3 with python3-paho-mqtt 1.6.x (and mosquitto
for --broker mosquitto). Every process it starts dies with it (SIGKILL as
parent-death signal, and try/finally); its temporary dir is removed
(--keep keeps it, with the broker's log).
"""
import argparse
import collections
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SESSION_EXPIRY = 3600
SHOW = 10  # ids shown per kind of violation


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- brokers

class Broker:
    """A broker process this script starts, SIGKILLs and restarts on one port and data dir."""

    def __init__(self, workdir, port):
        self.workdir = workdir
        self.port = port
        self.proc = None
        self.log_path = os.path.join(workdir, "broker.log")
        self.starts = 0

    def command(self):
        raise NotImplementedError

    def start(self, timeout=30.0):
        """Starts the broker; returns seconds until it accepted a connection."""
        self.starts += 1
        with open(self.log_path, "ab") as f:
            f.write(b"\n===== crash_test: start %d =====\n" % self.starts)
            t0 = time.monotonic()
            cmd = self.command()
            if shutil.which("setpriv"):
                # Dies with this script even if it is SIGKILLed (e.g. a CTest timeout).
                cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s at start:\n%s" % (
                    self.name, self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.monotonic() - t0
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("%s did not listen on port %d within %.0f s:\n%s" % (
            self.name, self.port, timeout, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        pid = self.proc.pid
        os.kill(pid, sig)
        self.proc.wait()
        return pid

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except OSError:
            return "(no log)"


class Ternd(Broker):
    name = "ternd"

    def __init__(self, binary, workdir, port, durability, verbose):
        super().__init__(workdir, port)
        self.binary = binary
        self.data_dir = os.path.join(workdir, "data")
        self.config = os.path.join(workdir, "ternd.toml")
        with open(self.config, "w") as f:
            f.write('log_level = "%s"\nsys_interval = 0\n\n' % ("debug" if verbose else "info"))
            f.write('[[listeners]]\naddress = "127.0.0.1"\nport = %d\nprotocol = "mqtt"\n\n' % port)
            # Queues big enough that no QoS 1/2 message is refused for room: a
            # loss here is the store's, not a limit's.
            f.write("[limits]\nmax_queued_messages = 10000000\nmax_queued_bytes = 1073741824\n\n")
            f.write('[storage]\nbackend = "rocksdb"\ndata_dir = "%s"\ndurability = "%s"\n'
                    'on_corruption = "refuse"\n' % (self.data_dir, durability))

    def command(self):
        return [self.binary, "-c", self.config]


class Mosquitto(Broker):
    name = "mosquitto"

    def __init__(self, binary, workdir, port, autosave):
        super().__init__(workdir, port)
        self.binary = binary
        self.data_dir = os.path.join(workdir, "data")
        os.makedirs(self.data_dir)
        self.config = os.path.join(workdir, "mosquitto.conf")
        with open(self.config, "w") as f:
            if os.geteuid() == 0:
                # Started as root it would switch to the user mosquitto, and
                # that clears its parent-death signal: it stays root here.
                f.write("user root\n")
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n"
                    "persistence true\npersistence_location %s/\nautosave_interval %d\n"
                    "max_inflight_messages 0\nmax_queued_messages 0\n"
                    "log_dest stdout\nlog_type error\nlog_type warning\nlog_type notice\n"
                    % (port, self.data_dir, autosave))
        os.chmod(self.config, 0o644)

    def command(self):
        return [self.binary, "-c", self.config]


# ---------------------------------------------------------------- clients

class RecordingClient(mqtt.Client):
    """paho's Client, noting MQTT 5 PUBACK/PUBREC failure reason codes (>= 0x80):
    paho 1.6 calls on_publish for those too, though the broker refused the message."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.refused_mids = set()

    def _note_reason(self):
        if self._protocol == mqtt.MQTTv5 and self._in_packet["remaining_length"] > 2:
            pkt = self._in_packet["packet"]
            mid, = struct.unpack("!H", pkt[:2])
            if pkt[2] >= 0x80:
                self.refused_mids.add(mid)

    def _handle_pubackcomp(self, cmd):
        # A PUBCOMP failure (0x92, packet id not found) comes after a successful
        # PUBREC: the broker had taken the message. Only PUBACK refuses it.
        if cmd == "PUBACK":
            self._note_reason()
        return super()._handle_pubackcomp(cmd)

    def _handle_pubrec(self):
        self._note_reason()
        return super()._handle_pubrec()

    def _messages_reconnect_reset_out(self):
        # paho 1.6.1 bug: each reconnect attempt runs this reset, and a second
        # one (the first attempt failed: the broker was still starting) turns
        # a QoS 2 message waiting to resend its PUBREL (mqtt_ms_resend_pubrel)
        # back into a new PUBLISH without DUP, though the broker answered its
        # PUBREC long ago: the message is then published twice (MQTT-4.3.3-x
        # says resend the PUBREL). Keep those messages at the PUBREL stage.
        with self._out_message_mutex:
            released = [m for m in self._out_messages.values()
                        if m.qos == 2 and m.state in (mqtt.mqtt_ms_wait_for_pubcomp, mqtt.mqtt_ms_resend_pubrel)]
            super()._messages_reconnect_reset_out()
            for m in released:
                m.state = mqtt.mqtt_ms_resend_pubrel


class Peer:
    """A paho client with a persistent session that reconnects by itself."""

    def __init__(self, name, v5, port):
        self.name = name
        self.v5 = v5
        self.port = port
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        if v5:
            self.c = RecordingClient(client_id=name, protocol=proto)
        else:
            self.c = RecordingClient(client_id=name, clean_session=False, protocol=proto)
        self.c.max_inflight_messages_set(100)
        self.c.max_queued_messages_set(0)  # unlimited: publish() never refuses
        self.c.reconnect_delay_set(min_delay=0.05, max_delay=0.5)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.cond = threading.Condition()
        self.connacks = []  # (rc, session present), in order
        self.connected = False

    def start(self):
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY
            self.c.connect("127.0.0.1", self.port, keepalive=30, clean_start=False, properties=props)
        else:
            self.c.connect("127.0.0.1", self.port, keepalive=30)
        self.c.loop_start()

    def _on_connect(self, c, u, flags, rc, props=None):
        rc = int(getattr(rc, "value", rc))
        with self.cond:
            self.connacks.append((rc, flags.get("session present", 0)))
            self.connected = rc == 0
            self.cond.notify_all()
        if rc == 0:
            self.connected_hook(flags.get("session present", 0), len(self.connacks))

    def connected_hook(self, session_present, n):
        pass

    def _on_disconnect(self, c, u, rc, props=None):
        with self.cond:
            self.connected = False
            self.cond.notify_all()

    def wait_connack_after(self, n, deadline):
        """Waits for a successful CONNACK past the first n; returns it or None."""
        with self.cond:
            while True:
                for rc, sp in self.connacks[n:]:
                    if rc == 0:
                        return rc, sp
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def stop(self):
        try:
            if self.connected:
                self.c.disconnect()
        except Exception:
            pass
        self.c.loop_stop()


class Publisher(Peer):
    def __init__(self, name, v5, port, qos, topic, window, rate):
        super().__init__(name, v5, port)
        self.qos = qos
        self.topic = topic
        self.window = window
        self.rate = rate
        self.published = 0  # sequence numbers 0 .. published-1 handed to paho
        self.acked = set()
        self.refused = set()
        self.stopping = False
        self.c.on_publish = self._on_publish
        self.feeder = threading.Thread(target=self._feed, name=name + "-feed", daemon=True)
        self.error = None

    def outstanding(self):
        return self.published - len(self.acked) - len(self.refused)

    def _on_publish(self, c, u, mid):
        # Called by paho with its message still in _out_messages (under its
        # lock): its payload tells which message this is, with no race
        # against publish() returning the mid.
        msg = c._out_messages.get(mid)
        if msg is None:
            return
        seq = int(bytes(msg.payload).split(b":")[1])
        refused = mid in c.refused_mids
        c.refused_mids.discard(mid)
        with self.cond:
            (self.refused if refused else self.acked).add(seq)
            self.cond.notify_all()

    def _feed(self):
        try:
            next_t = time.monotonic()
            while True:
                with self.cond:
                    while not self.stopping and self.outstanding() >= self.window:
                        self.cond.wait(0.5)
                    if self.stopping:
                        return
                    seq = self.published
                    self.published += 1
                payload = b"%s:%d:" % (self.name.encode(), seq)
                payload += b"." * max(0, 32 - len(payload))
                # While disconnected paho keeps the message and sends it after
                # the next CONNACK.
                self.c.publish(self.topic, payload, qos=self.qos)
                if self.rate > 0:
                    # Paced, with no burst to catch up after a pause.
                    next_t += 1.0 / self.rate
                    now = time.monotonic()
                    if next_t > now:
                        time.sleep(next_t - now)
                    elif now - next_t > 0.05:
                        next_t = now
        except Exception as e:  # reported at the end
            self.error = repr(e)

    def start_feeding(self):
        self.feeder.start()

    def stop_feeding(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.feeder.is_alive():
            self.feeder.join()


class Subscriber(Peer):
    def __init__(self, name, v5, port, topic_filter):
        super().__init__(name, v5, port)
        self.filter = topic_filter
        self.counts = collections.Counter()  # (publisher, seq) -> deliveries
        self.qos_seen = collections.Counter()
        self.how = {}
        self.bad = []  # payloads that are not ours
        self.last_rx = time.monotonic()
        self.resubscribed = 0
        self.subscribed = threading.Event()
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe

    def connected_hook(self, session_present, n):
        # Subscribe once. Only a lost session (Session Present 0) makes it
        # subscribe again: that loss is reported, and later losses still count.
        if n == 1 or not session_present:
            if n > 1:
                self.resubscribed += 1
            self.c.subscribe(self.filter, qos=2)

    def _on_subscribe(self, c, u, mid, granted, props=None):
        self.subscribed.set()

    def _on_message(self, c, u, m):
        try:
            pub, seq, _ = bytes(m.payload).split(b":", 2)
            key = (pub.decode(), int(seq))
        except ValueError:
            self.bad.append(bytes(m.payload)[:60])
            return
        with self.cond:
            self.counts[key] += 1
            # How each copy came: connection number, packet id, DUP flag.
            self.how.setdefault(key, []).append((len(self.connacks), m.mid, int(m.dup)))
            self.qos_seen[m.qos] += 1
            self.last_rx = time.monotonic()


def check_retained(port, topic, expected, v5, timeout=3.0):
    """A fresh clean-session subscriber gets the retained message: True/False."""
    got = threading.Event()
    name = "crash-ret-" + uuid.uuid4().hex[:8]
    if v5:
        c = mqtt.Client(client_id=name, protocol=mqtt.MQTTv5)
    else:
        c = mqtt.Client(client_id=name, clean_session=True, protocol=mqtt.MQTTv311)

    def on_connect(cl, u, flags, rc, props=None):
        cl.subscribe(topic, qos=1)

    def on_message(cl, u, m):
        if m.topic == topic and bytes(m.payload) == expected and m.retain:
            got.set()

    c.on_connect = on_connect
    c.on_message = on_message
    try:
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        return got.wait(timeout)
    except OSError:
        return False
    finally:
        try:
            c.disconnect()
        except Exception:
            pass
        c.loop_stop()


def set_retained(port, topic, payload, timeout=10.0):
    done = threading.Event()
    c = mqtt.Client(client_id="crash-ret-set-" + uuid.uuid4().hex[:8], clean_session=True)
    c.on_publish = lambda cl, u, mid: done.set()
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1, retain=True)
        if not done.wait(timeout):
            raise RuntimeError("the retained message was not acknowledged")
    finally:
        c.disconnect()
        c.loop_stop()


# ---------------------------------------------------------------- the test

def run(a, workdir):
    violations = []
    port = free_port()
    if a.broker == "ternd":
        broker = Ternd(a.ternd, workdir, port, a.durability, a.verbose)
        what = "ternd %s (rocksdb, durability %s)" % (a.ternd, a.durability)
    else:
        broker = Mosquitto(a.mosquitto, workdir, port, a.mosquitto_autosave)
        what = "mosquitto %s (persistence true, autosave_interval %d)" % (a.mosquitto, a.mosquitto_autosave)
    rng = random.Random(a.seed)
    log("crash test: %s on 127.0.0.1:%d, %d rounds, seed %d" % (what, port, a.rounds, a.seed))

    run_id = uuid.uuid4().hex[:8]
    base = "crash/%s" % run_id
    retained_topic = "crash-retained/%s" % run_id
    retained_payload = b"retained " + run_id.encode()
    peers = []
    try:
        broker.start()
        set_retained(port, retained_topic, retained_payload)
        if not check_retained(port, retained_topic, retained_payload, v5=False):
            raise RuntimeError("the retained message is not there even before any crash")

        subs = [Subscriber("crash-sub-v311-" + run_id, False, port, base + "/#"),
                Subscriber("crash-sub-v5-" + run_id, True, port, base + "/#")]
        pubs = []
        for qos in (1, 2):
            for v5 in (False, True):
                name = "crash-pub-q%d-%s-%s" % (qos, "v5" if v5 else "v311", run_id)
                pubs.append(Publisher(name, v5, port, qos, "%s/%s" % (base, name), a.window, a.rate))
        peers = subs + pubs
        for p in peers:
            p.start()
        deadline = time.monotonic() + 10
        for s in subs:
            if not s.subscribed.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError("%s: no SUBACK" % s.name)
        for p in pubs:
            p.start_feeding()

        for rnd in range(1, a.rounds + 1):
            load = rng.uniform(a.min_load, a.max_load)
            time.sleep(load)
            if not broker.alive():
                violations.append("round %d: %s died by itself (status %s)" % (rnd, broker.name, broker.proc.returncode))
                log("round %d: %s DIED BY ITSELF:\n%s" % (rnd, broker.name, broker.log_tail()))
            seen = {p.name: len(p.connacks) for p in peers}
            sent = sum(p.published for p in pubs)
            acked = sum(len(p.acked) for p in pubs)
            t_kill = time.monotonic()
            if a.disrupt == "connections":
                # Harness self-check: the broker stays up, every client's
                # connection is cut; sessions resume from the broker's memory.
                for p in peers:
                    sock = p.c.socket()
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                what, up = "cut every connection", 0.0
            else:
                sig = signal.SIGKILL if a.disrupt == "kill" else signal.SIGTERM
                pid = broker.kill(sig) if broker.alive() else None
                t_kill = time.monotonic()
                up = broker.start()
                what = "%s pid %s" % (sig.name, pid)
            deadline = time.monotonic() + a.reconnect_timeout
            notes, lost = [], []
            back = 0.0
            for p in peers:
                r = p.wait_connack_after(seen[p.name], deadline)
                if r is None:
                    violations.append("round %d: %s did not reconnect within %.0f s" % (rnd, p.name, a.reconnect_timeout))
                    notes.append("%s NOT BACK" % short(p.name, run_id))
                    continue
                back = max(back, time.monotonic() - t_kill)
                if not r[1]:
                    lost.append(short(p.name, run_id))
            if lost:
                violations.append("round %d: CONNACK Session Present = 0 (session lost) for %s" % (rnd, ", ".join(lost)))
                notes.append("session LOST (Session Present 0): " + ", ".join(lost))
            ret_ok = check_retained(port, retained_topic, retained_payload, v5=bool(rnd % 2))
            if not ret_ok:
                violations.append("round %d: the retained message is gone" % rnd)
            log("round %2d/%d: load %.2f s (%d sent, %d acked so far), %s, up in %.2f s, "
                "clients back in %.2f s; %s; retained %s" % (
                    rnd, a.rounds, load, sent, acked, what, up, back,
                    ", ".join(notes) if notes else "every session present",
                    "ok" if ret_ok else "LOST"))

        # ---- end: stop publishing, let acknowledgements and deliveries finish
        for p in pubs:
            p.stop_feeding()
        deadline = time.monotonic() + a.ack_timeout
        for p in pubs:
            with p.cond:
                while p.outstanding() > 0 and time.monotonic() < deadline:
                    p.cond.wait(0.2)
        t0 = time.monotonic()
        deadline = t0 + a.drain_timeout
        while time.monotonic() < deadline:
            idle = min(time.monotonic() - s.last_rx for s in subs)
            if idle >= a.quiet and time.monotonic() - t0 >= a.quiet:
                break
            time.sleep(0.1)
        else:
            violations.append("subscribers still received messages after %.0f s of draining" % a.drain_timeout)
        if not broker.alive():
            violations.append("%s died by itself after the last round" % broker.name)
        for p in peers:
            p.stop()

        return report(a, pubs, subs, run_id, violations, broker)
    finally:
        # In this order: paho's loop thread only ends by itself once its
        # messages are acknowledged, or once its broker is gone.
        for p in peers:
            if isinstance(p, Publisher):
                p.stop_feeding()
        broker.stop()
        for p in peers:
            try:
                p.c.loop_stop()
            except Exception:
                pass


def short(name, run_id):
    return name.replace("crash-", "").replace("-" + run_id, "")


def report(a, pubs, subs, run_id, violations, broker):
    log("")
    log("publishers (acknowledged: on_publish after PUBACK / PUBCOMP):")
    log("  %-12s %4s %10s %12s %8s %12s" % ("publisher", "qos", "published", "acknowledged", "refused", "never acked"))
    for p in pubs:
        log("  %-12s %4d %10d %12d %8d %12d" % (short(p.name, run_id), p.qos, p.published, len(p.acked),
                                            len(p.refused), p.outstanding()))
        if p.outstanding() > 0:
            violations.append("%s: %d messages never acknowledged (waited %.0f s at the end)" % (
                p.name, p.outstanding(), a.ack_timeout))
        if p.error:
            violations.append("%s: publishing failed: %s" % (p.name, p.error))
        if p.refused:
            log("  note: %s: %d messages refused by a PUBACK/PUBREC reason code >= 0x80 (not counted)" % (
                p.name, len(p.refused)))
    log("subscribers (delivered: acknowledged messages received at least once):")
    log("  %-10s %-12s %12s %10s %8s %10s %9s" % ("subscriber", "publisher", "acknowledged", "delivered",
                                                   "missing", "duplicates", "unacked+"))
    for s in subs:
        for p in pubs:
            got = {seq: n for (pub, seq), n in s.counts.items() if pub == p.name}
            missing = sorted(seq for seq in p.acked if seq not in got)
            dups = sorted(seq for seq, n in got.items() if n > 1)
            unknown = sorted(seq for seq in got if seq >= p.published)
            extra = sum(1 for seq in got if seq not in p.acked)
            log("  %-10s %-12s %12d %10d %8d %10s %9d" % (
                short(s.name, run_id), short(p.name, run_id), len(p.acked), len(p.acked) - len(missing),
                len(missing), "%d%s" % (len(dups), "" if p.qos == 2 else " (ok)"), extra))
            if missing:
                violations.append("%s missed %d acknowledged messages of %s, e.g. seq %s" % (
                    s.name, len(missing), p.name, ", ".join(map(str, missing[:SHOW]))))
            if dups and p.qos == 2:
                violations.append("%s got %d QoS 2 messages of %s more than once, e.g. %s" % (
                    s.name, len(dups), p.name, ", ".join("%d (%s)" % (q, " ".join(
                        "conn%d/id%d%s" % (c, mid, "/dup" if d else "") for c, mid, d in s.how[(p.name, q)][:3])
                        + (" ..." if len(s.how[(p.name, q)]) > 3 else "")) for q in dups[:SHOW // 2])))
            if unknown:
                violations.append("%s got %d messages of %s never published, e.g. seq %s" % (
                    s.name, len(unknown), p.name, ", ".join(map(str, unknown[:SHOW]))))
        if s.bad:
            violations.append("%s got %d payloads that are not the test's, e.g. %r" % (s.name, len(s.bad), s.bad[0]))
        if s.resubscribed:
            log("  note: %s subscribed again %d times after a lost session" % (s.name, s.resubscribed))
    log("(unacked+: received though the publisher saw no acknowledgement, e.g. in flight at a kill: allowed)")
    log("")
    if violations:
        # The per-message findings first, then what each round saw.
        violations.sort(key=lambda v: v.startswith("round "))
        log("FAILED: %d violations" % len(violations))
        for v in violations[:40]:
            log("  - " + v)
        if len(violations) > 40:
            log("  ... and %d more" % (len(violations) - 40))
        return 1
    log("PASSED: every acknowledged message reached every subscriber; QoS 2 exactly once")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--broker", choices=["ternd", "mosquitto"], default="ternd")
    ap.add_argument("--ternd", default=os.path.join(root, "build/release/bin/ternd"))
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    ap.add_argument("--mosquitto-autosave", type=int, default=1800,
                    help="mosquitto's autosave_interval, seconds (its default: 1800)")
    ap.add_argument("--durability", default="fsync", choices=["fsync", "batch", "none"],
                    help="ternd's storage.durability (fsync is the one that must pass)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--short", action="store_true", help="for the test suite: 3 rounds, shorter waits")
    ap.add_argument("--min-load", type=float, default=0.3, help="seconds of load before a kill, at least")
    ap.add_argument("--max-load", type=float, default=1.5, help="... and at most")
    ap.add_argument("--window", type=int, default=200,
                    help="messages a publisher may have unacknowledged (paho's in-flight window is 100)")
    ap.add_argument("--rate", type=float, default=2000, help="messages per second per publisher; 0: flat out")
    ap.add_argument("--quiet", type=float, default=3.0, help="drained: no message for this many seconds")
    ap.add_argument("--drain-timeout", type=float, default=120.0)
    ap.add_argument("--ack-timeout", type=float, default=30.0,
                    help="seconds for the last messages to be acknowledged at the end")
    ap.add_argument("--reconnect-timeout", type=float, default=20.0)
    ap.add_argument("--disrupt", default="kill", choices=["kill", "term", "connections"],
                    help="what each round does: kill (SIGKILL the broker: the test), term (SIGTERM: a "
                         "clean shutdown, mosquitto saves its state then), connections (the broker "
                         "stays up and every client connection is cut: a check of this harness, "
                         "which a broker with correct in-memory sessions passes)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary dir (broker log, data dir)")
    ap.add_argument("-v", "--verbose", action="store_true", help="ternd logs at debug level")
    a = ap.parse_args()
    if a.short:
        a.rounds = min(a.rounds, 3)
        a.quiet = min(a.quiet, 1.5)
    if a.seed is None:
        a.seed = random.randrange(1 << 31)
    if not paho.mqtt.__version__.startswith("1."):
        sys.exit("crash_test: needs paho-mqtt 1.x (Debian's python3-paho-mqtt, /usr/bin/python3), found %s"
                 % paho.mqtt.__version__)
    binary = a.ternd if a.broker == "ternd" else a.mosquitto
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        sys.exit("crash_test: %s is not an executable (build ternd: cmake --preset release && "
                 "cmake --build --preset release --target ternd)" % binary)
    a.ternd = os.path.abspath(a.ternd)

    # SIGTERM (and SIGHUP) end the run through the finally blocks.
    def stop(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    workdir = tempfile.mkdtemp(prefix="tern-crash-")
    t0 = time.monotonic()
    status = 2
    try:
        status = run(a, workdir)
    except RuntimeError as e:
        log("crash_test: could not run: %s" % e)
        status = 2
    finally:
        log("crash_test: %.1f s; %s" % (time.monotonic() - t0,
                                        "kept " + workdir if a.keep else "temporary dir removed"))
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
