#!/usr/bin/python3
"""Interop over WebSocket: ternd's ws and wss listeners driven by MQTT.js
(tests/interop/js), paho-mqtt (transport="websockets") and mosquitto_sub on
a plain listener beside them; and tern's CLI against a third-party WebSocket
broker, aedes (npm) behind the `ws` package's server (js/aedes_ws.js).
Certificates for wss are made at test time (tests/support/make-pki.sh).

    /usr/bin/python3 tests/interop/run_ws_interop.py --ternd build/asan/bin/ternd --tern build/asan/bin/tern

Prints one line per scenario and "N passed, M failed"; exits non-zero when
any failed.
"""
import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt

import run_tls_interop  # its setup: certificates, ternd from a file with three listeners
from run_interop import run, run_scenarios  # the plain interop script beside this one

TIMEOUT = 10
HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "js")


def topic():
    return "ws-interop/" + uuid.uuid4().hex[:12]


class Setup(run_tls_interop.Setup):
    """ternd with a ws listener (path /mqtt), a wss listener (any path) and a plain one: the TLS
    interop's setup (certificates, start, stop) with other listeners in its three ports."""

    ws_port = property(lambda self: self.open_port)
    wss_port = property(lambda self: self.mutual_port)

    def __init__(self, ternd, tern):
        super().__init__(ternd, tern)
        self.aedes = None
        self.aedes_port = None

    def config(self, key_file=None):
        return """sys_interval = 0
[[listeners]]
address = "127.0.0.1"
port = {ws}
protocol = "ws"
path = "/mqtt"
handshake_timeout = 1

[[listeners]]
address = "127.0.0.1"
port = {wss}
protocol = "wss"
cert_file = "{crt}"
key_file = "{key}"

[[listeners]]
address = "127.0.0.1"
port = {plain}

[storage]
backend = "memory"
""".format(ws=self.open_port, wss=self.mutual_port, plain=self.plain_port, crt=self.path("server.crt"),
           key=key_file or self.path("server.key"))

    def start_aedes(self):
        self.aedes = subprocess.Popen(["node", os.path.join(JS, "aedes_ws.js"), "0"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
        line = self.aedes.stdout.readline()
        assert line.startswith("listening "), (line, self.aedes.stderr.read())
        self.aedes_port = int(line.split()[1])

    def cleanup(self):
        if self.aedes:
            self.aedes.kill()
            self.aedes.wait()
        super().cleanup()


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def mqttjs(url, version, qos, ca=None):
    cmd = ["node", os.path.join(JS, "interop.js"), url, str(version), str(qos), topic()]
    if ca:
        cmd.append(ca)
    r = run(cmd, timeout=20)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.stdout, r.stderr)


for _v, _q in ((4, 0), (4, 1), (5, 1), (5, 2)):
    def _f(s, v=_v, q=_q):
        mqttjs("ws://127.0.0.1:%d/mqtt" % s.ws_port, v, q)
    _f.__name__ = "mqttjs_ws_v%d_qos%d" % (_v, _q)
    scenario(_f)


@scenario
def mqttjs_wss_v5_qos1(s):
    mqttjs("wss://localhost:%d/mqtt" % s.wss_port, 5, 1, ca=s.path("ca.crt"))


def paho_roundtrip(port, path, version, tls_ca=None, size=100000):
    kw = {"client_id": "", "transport": "websockets", "protocol": version}
    if version != mqtt.MQTTv5:
        kw["clean_session"] = True
    c = mqtt.Client(**kw)
    c.ws_set_options(path=path)
    if tls_ca:
        c.tls_set(ca_certs=tls_ca)
    got = []
    ev = threading.Event()
    subscribed = threading.Event()

    def on_message(c, u, m):
        got.append(m.payload)
        ev.set()

    c.on_message = on_message
    c.on_subscribe = lambda *a: subscribed.set()
    c.connect("localhost" if tls_ca else "127.0.0.1", port)
    c.loop_start()
    try:
        t = topic()
        c.subscribe(t, 1)
        assert subscribed.wait(TIMEOUT), "no SUBACK"
        payload = os.urandom(size)  # several frames' worth
        c.publish(t, payload, qos=1)
        assert ev.wait(TIMEOUT), "nothing came back"
        assert got[0] == payload, "the payload changed"
    finally:
        c.disconnect()
        c.loop_stop()


@scenario
def paho_ws_v311(s):
    paho_roundtrip(s.ws_port, "/mqtt", mqtt.MQTTv311)


@scenario
def paho_ws_v5(s):
    paho_roundtrip(s.ws_port, "/mqtt", mqtt.MQTTv5)


@scenario
def paho_wss_any_path(s):
    paho_roundtrip(s.wss_port, "/", mqtt.MQTTv311, tls_ca=s.path("ca.crt"))


@scenario
def ws_and_plain_listeners_share_the_engine(s):
    t = topic()
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(s.plain_port), "-t", t, "-C", "1",
                            "-W", str(TIMEOUT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    r = run([s.tern, "pub", "-L", "ws://127.0.0.1:%d/mqtt" % s.ws_port, "-t", t, "-m", "from ws", "-q", "1"])
    assert r.returncode == 0, r.stderr
    out, err = sub.communicate(timeout=TIMEOUT + 5)
    assert out.strip() == "from ws", (out, err)


@scenario
def tern_cli_over_wss(s):
    t = topic()
    url = "wss://localhost:%d/mqtt" % s.wss_port
    sub = subprocess.Popen([s.tern, "sub", "-L", url, "--cafile", s.path("ca.crt"), "-t", t, "-C", "1", "-W",
                            str(TIMEOUT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.7)
    r = run([s.tern, "pub", "-L", url, "--cafile", s.path("ca.crt"), "-t", t, "-m", "over wss", "-q", "1"])
    assert r.returncode == 0, r.stderr
    out, err = sub.communicate(timeout=TIMEOUT + 5)
    assert out.strip() == "over wss", (out, err)


@scenario
def http_without_upgrade_gets_426(s):
    with socket.create_connection(("127.0.0.1", s.ws_port), timeout=5) as c:
        c.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            answer += b
    assert answer.startswith(b"HTTP/1.1 426"), answer


@scenario
def tern_cli_against_aedes_over_ws(s):
    s.start_aedes()
    url = "ws://127.0.0.1:%d/" % s.aedes_port
    t = topic()
    for v in ("311",):  # aedes speaks 3.1.1 (a 5.0 CONNECT gets Malformed Packet)
        sub = subprocess.Popen([s.tern, "sub", "-L", url, "-V", v, "-t", t, "-C", "2", "-W", str(TIMEOUT)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.7)
        for i in range(2):
            r = run([s.tern, "pub", "-L", url, "-V", v, "-t", t, "-m", "aedes %d" % i, "-q", "1",
                     "--ws-header", "X-Tern: interop"])
            assert r.returncode == 0, r.stderr
        out, err = sub.communicate(timeout=TIMEOUT + 5)
        assert out.split("\n")[:2] == ["aedes 0", "aedes 1"], (v, out, err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ternd", required=True)
    ap.add_argument("--tern", required=True)
    ap.add_argument("-k", "--filter", default="")
    args = ap.parse_args()
    return run_scenarios(Setup(args.ternd, args.tern), SCENARIOS, args.filter)


if __name__ == "__main__":
    sys.exit(main())
