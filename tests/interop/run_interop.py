#!/usr/bin/python3
"""Interop tests: drive ternd with clients people already run.

Starts ternd on 127.0.0.1 with a port the OS picks, then runs scenarios with
mosquitto_pub / mosquitto_sub (-V 311 and -V 5), paho-mqtt (MQTTv311 and
MQTTv5) and MQTT.js (protocolVersion 4 and 5). Prints one line per scenario
and "N passed, M failed" at the end; exits non-zero when any failed.

    /usr/bin/python3 tests/interop/run_interop.py --ternd build/asan/bin/ternd

Needs Debian's mosquitto-clients and python3-paho-mqtt (for /usr/bin/python3),
and MQTT.js installed in tests/interop/js (npm ci). A peer that is missing
fails its scenarios; it does not skip them.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")
TIMEOUT = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, ternd):
        self.ternd = ternd
        self.port = None
        self.proc = None

    def start(self):
        for _ in range(5):
            self.port = free_port()
            if self.launch([self.ternd, "-p", str(self.port), "--storage", "memory", "-v"], [self.port]):
                return
        raise RuntimeError("ternd did not start: " + self.output())

    def launch(self, command, ports):
        """Starts ternd as `command`: True once each of `ports` takes a
        connection (10 s at most), else False, ternd stopped (a port taken
        meanwhile: the caller picks others)."""
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline and self.proc.poll() is None:
            try:
                for p in ports:
                    socket.create_connection(("127.0.0.1", p), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        return False

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def topic():
    return "interop/" + uuid.uuid4().hex[:12]


# ---------------------------------------------------------------- helpers

def run(cmd, timeout=TIMEOUT, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def background(cmd):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=TIMEOUT):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("timed out; stderr: " + err)
    return out, err


def wait_subscribed(seconds=0.4):
    # mosquitto_sub gives no signal when its SUBACK arrives; a short pause is
    # the only way. Everything else below waits on real events.
    time.sleep(seconds)


class Paho:
    """A paho client with queues for what arrives."""

    def __init__(self, port, version, client_id="", clean=True, **connect_kw):
        self.version = version
        if version == mqtt.MQTTv5:
            self.c = mqtt.Client(client_id=client_id, protocol=version)
        else:
            self.c = mqtt.Client(client_id=client_id, clean_session=clean, protocol=version)
        self.messages = []
        self.cond = threading.Condition()
        self.connack = None
        self.subacks = 0
        self.disconnect_rc = None
        self.c.on_message = self._on_message
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_disconnect = self._on_disconnect
        self.port = port
        self.connect_kw = connect_kw
        self.clean = clean

    def _on_message(self, c, u, m):
        with self.cond:
            self.messages.append(m)
            self.cond.notify_all()

    def _on_connect(self, c, u, flags, rc, props=None):
        with self.cond:
            self.connack = (flags, rc)
            self.cond.notify_all()

    def _on_subscribe(self, c, u, mid, granted, props=None):
        with self.cond:
            self.subacks += 1
            self.cond.notify_all()

    def _on_disconnect(self, c, u, rc, props=None):
        with self.cond:
            self.disconnect_rc = rc
            self.cond.notify_all()

    def wait(self, pred, what):
        with self.cond:
            if not self.cond.wait_for(pred, TIMEOUT):
                raise AssertionError("timed out waiting for " + what)

    def connect(self, props=None):
        kw = dict(self.connect_kw)
        if self.version == mqtt.MQTTv5:
            kw["clean_start"] = self.clean
            if props is not None:
                kw["properties"] = props
        self.c.connect("127.0.0.1", self.port, keepalive=30, **kw)
        self.c.loop_start()
        self.wait(lambda: self.connack is not None, "CONNACK")
        return self.connack

    def subscribe(self, filt, qos=0, **kw):
        n = self.subacks
        if self.version == mqtt.MQTTv5 and "options" in kw:
            self.c.subscribe(filt, options=kw["options"], properties=kw.get("properties"))
        else:
            self.c.subscribe(filt, qos)
        self.wait(lambda: self.subacks > n, "SUBACK")

    def publish(self, t, payload, qos=0, retain=False, props=None):
        info = self.c.publish(t, payload, qos=qos, retain=retain, properties=props)
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            raise AssertionError("publish not acknowledged")

    def expect(self, n, what="messages"):
        self.wait(lambda: len(self.messages) >= n, "%d %s (got %d)" % (n, what, len(self.messages)))
        return self.messages[:n]

    def stop(self, clean=True):
        if clean:
            self.c.disconnect()
        self.c.loop_stop()
        if not clean:
            self.c.socket().close() if self.c.socket() else None


# ---------------------------------------------------------------- scenarios

SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def mosquitto_roundtrip(port, v, qos):
    t = topic()
    sub = background(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", v, "-t", t,
                      "-q", str(qos), "-C", "3", "-W", str(TIMEOUT)])
    wait_subscribed()
    for i in range(3):
        r = run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", v, "-t", t,
                 "-q", str(qos), "-m", "msg %d" % i])
        assert r.returncode == 0, r.stderr
    out, err = finish(sub)
    assert out.split("\n")[:3] == ["msg 0", "msg 1", "msg 2"], (out, err)


for _v in ("311", "5"):
    for _q in (0, 1, 2):
        def _f(port, v=_v, q=_q):
            mosquitto_roundtrip(port, v, q)
        _f.__name__ = "mosquitto_pub_sub_v%s_qos%d" % (_v, _q)
        scenario(_f)


def mosquitto_retained(port, v):
    t = topic()
    r = run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t, "-r", "-q", "1", "-m", "kept"])
    assert r.returncode == 0, r.stderr
    r = run(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t, "-C", "1", "-W", "5", "-v"])
    assert r.stdout.strip() == t + " kept", (r.stdout, r.stderr)
    r = run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t, "-r", "-n"])
    assert r.returncode == 0
    r = run(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t, "-C", "1", "-W", "1"])
    assert r.stdout.strip() == "", "retained message not cleared: " + r.stdout


for _v in ("311", "5"):
    def _f(port, v=_v):
        mosquitto_retained(port, v)
    _f.__name__ = "mosquitto_retained_v" + _v
    scenario(_f)


def mosquitto_will(port, v):
    t = topic()
    watcher = background(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t + "/will",
                          "-C", "1", "-W", str(TIMEOUT)])
    dying = background(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t + "/x",
                        "--will-topic", t + "/will", "--will-payload", "gone", "--will-qos", "1"])
    wait_subscribed(0.6)
    dying.kill()  # no DISCONNECT: the will goes out
    dying.wait()
    out, err = finish(watcher)
    assert out.strip() == "gone", (out, err)


for _v in ("311", "5"):
    def _f(port, v=_v):
        mosquitto_will(port, v)
    _f.__name__ = "mosquitto_will_v" + _v
    scenario(_f)


def mosquitto_persistent(port, v):
    t = topic()
    cid = "persist-" + uuid.uuid4().hex[:8]
    extra = ["-x", "300"] if v == "5" else []
    r = run(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t, "-q", "1", "-c", "-i", cid,
             "-C", "1", "-W", "1"] + extra)  # subscribe, time out, leave the session behind
    r = run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t, "-q", "1", "-m", "queued"])
    assert r.returncode == 0, r.stderr
    r = run(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-V", v, "-t", t, "-q", "1", "-c", "-i", cid,
             "-C", "1", "-W", "5"] + extra)
    assert r.stdout.strip() == "queued", (r.stdout, r.stderr)


for _v in ("311", "5"):
    def _f(port, v=_v):
        mosquitto_persistent(port, v)
    _f.__name__ = "mosquitto_persistent_session_v" + _v
    scenario(_f)


@scenario
def mosquitto_v5_properties_pass_through(port):
    t = topic()
    sub = background(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-V", "5", "-t", t, "-C", "1",
                      "-W", str(TIMEOUT), "-F", "%t %p %P"])
    wait_subscribed()
    r = run(["mosquitto_pub", "-p", str(port), "-h", "127.0.0.1", "-V", "5", "-t", t, "-m", "body",
             "-D", "publish", "user-property", "site", "north"])
    assert r.returncode == 0, r.stderr
    out, err = finish(sub)
    assert "body" in out and "site:north" in out, (out, err)


def paho_qos(port, version, qos):
    sub = Paho(port, version)
    sub.connect()
    t = topic()
    sub.subscribe(t, qos)
    pub = Paho(port, version)
    pub.connect()
    for i in range(5):
        pub.publish(t, "m%d" % i, qos=qos)
    got = sub.expect(5)
    assert [m.payload.decode() for m in got] == ["m%d" % i for i in range(5)]
    assert all(m.qos == qos for m in got), [m.qos for m in got]
    pub.stop()
    sub.stop()


for _name, _ver in (("311", mqtt.MQTTv311), ("5", mqtt.MQTTv5)):
    for _q in (0, 1, 2):
        def _f(port, ver=_ver, q=_q):
            paho_qos(port, ver, q)
        _f.__name__ = "paho_v%s_qos%d" % (_name, _q)
        scenario(_f)


def paho_retained_and_will(port, version):
    t = topic()
    pub = Paho(port, version)
    pub.connect()
    pub.publish(t + "/r", "retained", qos=1, retain=True)
    watcher = Paho(port, version)
    watcher.connect()
    watcher.subscribe(t + "/#", 1)
    first = watcher.expect(1)[0]
    assert first.payload == b"retained" and first.retain
    dying = Paho(port, version)
    dying.c.will_set(t + "/will", "bye", qos=1)
    dying.connect()
    dying.c.loop_stop()
    dying.c.socket().close()  # abrupt: no DISCONNECT
    got = watcher.expect(2)
    assert got[1].topic == t + "/will" and got[1].payload == b"bye"
    pub.stop()
    watcher.stop()


for _name, _ver in (("311", mqtt.MQTTv311), ("5", mqtt.MQTTv5)):
    def _f(port, ver=_ver):
        paho_retained_and_will(port, ver)
    _f.__name__ = "paho_v%s_retained_and_will" % _name
    scenario(_f)


def paho_persistent_session(port, version):
    t = topic()
    cid = "paho-" + uuid.uuid4().hex[:8]
    props = None
    if version == mqtt.MQTTv5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
    a = Paho(port, version, client_id=cid, clean=False)
    a.connect(props)
    a.subscribe(t, 2)
    a.stop()
    pub = Paho(port, version)
    pub.connect()
    pub.publish(t, "while away", qos=2)
    pub.stop()
    b = Paho(port, version, client_id=cid, clean=False)
    flags, rc = b.connect(props)
    assert flags.get("session present") == 1, flags
    got = b.expect(1)
    assert got[0].payload == b"while away"
    b.stop()


for _name, _ver in (("311", mqtt.MQTTv311), ("5", mqtt.MQTTv5)):
    def _f(port, ver=_ver):
        paho_persistent_session(port, ver)
    _f.__name__ = "paho_v%s_persistent_session" % _name
    scenario(_f)


@scenario
def paho_v5_shared_subscription(port):
    t = topic()
    members = [Paho(port, mqtt.MQTTv5) for _ in range(2)]
    for m in members:
        m.connect()
        m.subscribe("$share/workers/" + t, 1)
    pub = Paho(port, mqtt.MQTTv5)
    pub.connect()
    for i in range(10):
        pub.publish(t, str(i), qos=1)
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and sum(len(m.messages) for m in members) < 10:
        time.sleep(0.02)
    counts = [len(m.messages) for m in members]
    assert sum(counts) == 10 and min(counts) > 0, counts
    for m in members + [pub]:
        m.stop()


@scenario
def paho_v5_topic_alias(port):
    t = topic()
    sub = Paho(port, mqtt.MQTTv5)
    sub.connect()
    sub.subscribe(t, 0)
    pub = Paho(port, mqtt.MQTTv5)
    pub.connect()
    p1 = Properties(PacketTypes.PUBLISH)
    p1.TopicAlias = 1
    pub.publish(t, "with topic", qos=1, props=p1)
    p2 = Properties(PacketTypes.PUBLISH)
    p2.TopicAlias = 1
    pub.publish("", "alias only", qos=1, props=p2)
    got = sub.expect(2)
    assert [m.topic for m in got] == [t, t], [m.topic for m in got]
    assert got[1].payload == b"alias only"
    pub.stop()
    sub.stop()


@scenario
def paho_v5_user_properties_and_response_topic(port):
    t = topic()
    sub = Paho(port, mqtt.MQTTv5)
    sub.connect()
    sub.subscribe(t, 1)
    pub = Paho(port, mqtt.MQTTv5)
    pub.connect()
    p = Properties(PacketTypes.PUBLISH)
    p.UserProperty = [("a", "1"), ("b", "2")]
    p.ResponseTopic = t + "/reply"
    p.CorrelationData = b"\x01\x02"
    pub.publish(t, "req", qos=1, props=p)
    m = sub.expect(1)[0]
    assert m.properties.UserProperty == [("a", "1"), ("b", "2")], m.properties
    assert m.properties.ResponseTopic == t + "/reply"
    assert m.properties.CorrelationData == b"\x01\x02"
    pub.stop()
    sub.stop()


def mqttjs(port, version, qos):
    r = run(["node", os.path.join(JS, "interop.js"), str(port), str(version), str(qos), topic()], timeout=20)
    assert r.returncode == 0 and "ok" in r.stdout, (r.stdout, r.stderr)


for _v in (4, 5):
    for _q in (0, 1, 2):
        def _f(port, v=_v, q=_q):
            mqttjs(port, v, q)
        _f.__name__ = "mqttjs_v%d_qos%d" % (_v, _q)
        scenario(_f)


def run_scenarios(s, scenarios, name_filter, finals=()):
    """Starts setup `s` (a Broker with cleanup()), runs every fn(s) of
    `scenarios` and then of `finals` whose name holds `name_filter`, printing
    a line each, stops ternd and cleans up; the exit status (1 if any failed)."""
    passed = failed = 0

    def attempt(fn):
        nonlocal passed, failed
        start = time.time()
        try:
            fn(s)
            passed += 1
            print("PASS %-55s %.2fs" % (fn.__name__, time.time() - start), flush=True)
        except Exception:
            failed += 1
            print("FAIL %-55s %.2fs" % (fn.__name__, time.time() - start), flush=True)
            traceback.print_exc()

    try:
        s.start()
        for fn in scenarios:
            if name_filter not in fn.__name__:
                continue
            attempt(fn)
            if s.proc.poll() is not None:
                print("ternd exited with %s:\n%s" % (s.proc.returncode, s.output()))
                failed += 1
                break
        for fn in finals:
            if name_filter in fn.__name__:
                attempt(fn)
    finally:
        s.stop()
        if failed:
            print("--- ternd output ---\n" + s.output())
        s.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ternd", required=True)
    ap.add_argument("-k", "--filter", default="")
    args = ap.parse_args()
    broker = Broker(args.ternd)
    broker.start()
    passed = failed = 0
    try:
        for fn in SCENARIOS:
            if args.filter not in fn.__name__:
                continue
            start = time.time()
            try:
                fn(broker.port)
                passed += 1
                print("PASS %-45s %.2fs" % (fn.__name__, time.time() - start), flush=True)
            except Exception:
                failed += 1
                print("FAIL %-45s %.2fs" % (fn.__name__, time.time() - start), flush=True)
                traceback.print_exc()
            if broker.proc.poll() is not None:
                print("ternd exited with %s:\n%s" % (broker.proc.returncode, broker.output()))
                failed += 1
                break
    finally:
        broker.stop()
    if failed:
        print("--- ternd output ---\n" + broker.output())
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
