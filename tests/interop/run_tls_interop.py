#!/usr/bin/python3
"""Interop over TLS: ternd's mqtts listeners driven by mosquitto_pub/sub,
paho-mqtt (tls_set) and tern's own CLI, with certificates made at test time
by the openssl command (a CA, a second CA, a server certificate for
localhost/127.0.0.1 from each, a client certificate: tests/support/make-pki.sh).

    /usr/bin/python3 tests/interop/run_tls_interop.py --ternd build/asan/bin/ternd [--tern build/asan/bin/tern]

ternd runs from a configuration file with three listeners:
  open     mqtts, the server certificate; any client (no client certificate)
  mutual   mqtts, ca_file: a client certificate the CA signed is required,
           use_identity_as_username
  plain    mqtt, beside them on the same engine
Scenarios: round trips (3.1.1 and 5, QoS 0-2) with --cafile; a client
certificate accepted and required; paho over TLS; bad input (garbage instead
of a ClientHello, a stalled handshake closed after handshake_timeout, plain
MQTT on the TLS port) closing only that connection; SIGHUP re-reading the
certificate for new connections; a missing key refused at start with the
configuration's file and line. Prints one line per scenario and
"N passed, M failed"; exits non-zero when any failed.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import paho.mqtt.client as mqtt

from run_interop import Broker, Paho, free_port, run, run_scenarios  # the plain interop script beside this one

TIMEOUT = 10

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_PKI = os.path.join(HERE, "..", "support", "make-pki.sh")


def topic():
    return "tls-interop/" + uuid.uuid4().hex[:12]


class Setup(Broker):
    """ternd from a configuration file with the three listeners; output() and stop() are Broker's."""

    def __init__(self, ternd, tern):
        super().__init__(ternd)
        self.tern = tern
        self.dir = tempfile.mkdtemp(prefix="tern-tls-interop-")
        r = subprocess.run(["sh", MAKE_PKI, self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("openssl failed: " + r.stderr)
        # ca2 and server2: the certificate SIGHUP swaps in (signed by another CA).
        for a, b in (("unknown_ca.crt", "ca2.crt"), ("unknown_server.crt", "server2.crt"),
                     ("unknown_server.key", "server2.key"), ("server.crt", "live.crt"), ("server.key", "live.key")):
            shutil.copy(os.path.join(self.dir, a), os.path.join(self.dir, b))
        self.open_port = self.mutual_port = self.plain_port = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def config(self, key_file=None):
        return """log_level = "debug"
sys_interval = 0
[[listeners]]
address = "127.0.0.1"
port = {open}
protocol = "mqtts"
cert_file = "{live_crt}"
key_file = "{live_key}"
handshake_timeout = 1

[[listeners]]
address = "127.0.0.1"
port = {mutual}
protocol = "mqtts"
cert_file = "{crt}"
key_file = "{key}"
ca_file = "{ca}"
use_identity_as_username = true

[[listeners]]
address = "127.0.0.1"
port = {plain}

[storage]
backend = "memory"
""".format(open=self.open_port, mutual=self.mutual_port, plain=self.plain_port,
           live_crt=self.path("live.crt"), live_key=key_file or self.path("live.key"),
           crt=self.path("server.crt"), key=self.path("server.key"), ca=self.path("ca.crt"))

    def start(self):
        for _ in range(5):
            self.open_port, self.mutual_port, self.plain_port = free_port(), free_port(), free_port()
            with open(self.path("ternd.toml"), "w") as f:
                f.write(self.config())
            if self.launch([self.ternd, "-c", self.path("ternd.toml")],
                           (self.open_port, self.mutual_port, self.plain_port)):
                return
        raise RuntimeError("ternd did not start: " + self.output())

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def mosq(s, tool, port, *args, cafile="ca.crt", cert=False):
    cmd = [tool, "-h", "127.0.0.1", "-p", str(port), "--cafile", s.path(cafile)]
    if cert:
        cmd += ["--cert", s.path("client.crt"), "--key", s.path("client.key")]
    return cmd + list(args)


def roundtrip(s, port, v, qos, cert=False):
    t = topic()
    sub = subprocess.Popen(mosq(s, "mosquitto_sub", port, "-V", v, "-t", t, "-q", str(qos), "-C", "3",
                                "-W", str(TIMEOUT), cert=cert),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # mosquitto_sub says nothing when its SUBACK arrives
    for i in range(3):
        r = run(mosq(s, "mosquitto_pub", port, "-V", v, "-t", t, "-q", str(qos), "-m", "msg %d" % i, cert=cert))
        assert r.returncode == 0, r.stderr
    out, err = sub.communicate(timeout=TIMEOUT + 5)
    assert out.split("\n")[:3] == ["msg 0", "msg 1", "msg 2"], (out, err)


for _v in ("311", "5"):
    for _q in (0, 1, 2):
        def _f(s, v=_v, q=_q):
            roundtrip(s, s.open_port, v, q)
        _f.__name__ = "mosquitto_cafile_v%s_qos%d" % (_v, _q)
        scenario(_f)


@scenario
def mosquitto_tls_versions(s):
    for version in ("tlsv1.2", "tlsv1.3"):
        r = run(mosq(s, "mosquitto_pub", s.open_port, "--tls-version", version, "-t", topic(), "-q", "1",
                     "-m", version, "-d"))
        assert r.returncode == 0 and "received PUBACK" in r.stdout, (version, r.stdout, r.stderr)


@scenario
def mosquitto_client_certificate_accepted(s):
    roundtrip(s, s.mutual_port, "5", 1, cert=True)


@scenario
def mosquitto_without_client_certificate_refused(s):
    r = run(mosq(s, "mosquitto_pub", s.mutual_port, "-t", topic(), "-m", "x"))
    assert r.returncode != 0, "published without a client certificate"


@scenario
def mosquitto_unknown_ca_refused(s):
    r = run(mosq(s, "mosquitto_pub", s.open_port, "-t", topic(), "-m", "x", cafile="ca2.crt"))
    assert r.returncode != 0, "the client trusted a certificate its CA did not sign"


@scenario
def tls_and_plain_listeners_share_the_engine(s):
    t = topic()
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(s.plain_port), "-t", t, "-C", "1",
                            "-W", str(TIMEOUT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    r = run(mosq(s, "mosquitto_pub", s.open_port, "-t", t, "-m", "from TLS"))
    assert r.returncode == 0, r.stderr
    out, err = sub.communicate(timeout=TIMEOUT + 5)
    assert out.strip() == "from TLS", (out, err)


class TlsPaho(Paho):
    """run_interop's paho client, over TLS (paho 1.6 tls_set)."""

    def __init__(self, s, port, version, cert=False):
        super().__init__(port, version)
        kw = {"ca_certs": s.path("ca.crt")}
        if cert:
            kw.update(certfile=s.path("client.crt"), keyfile=s.path("client.key"))
        self.c.tls_set(**kw)


def paho_roundtrip(s, port, version, cert=False):
    t = topic()
    sub = TlsPaho(s, port, version, cert)
    assert sub.connect()[1] == 0
    sub.subscribe(t, 1)
    pub = TlsPaho(s, port, version, cert)
    assert pub.connect()[1] == 0
    for i in range(5):
        pub.publish(t, "m%d" % i, qos=1)
    assert [m.payload.decode() for m in sub.expect(5)] == ["m%d" % i for i in range(5)]
    pub.stop()
    sub.stop()


for _name, _ver in (("311", mqtt.MQTTv311), ("5", mqtt.MQTTv5)):
    def _f(s, ver=_ver):
        paho_roundtrip(s, s.open_port, ver)
    _f.__name__ = "paho_tls_v%s" % _name
    scenario(_f)


@scenario
def paho_tls_client_certificate(s):
    paho_roundtrip(s, s.mutual_port, mqtt.MQTTv5, cert=True)


@scenario
def tern_cli_over_mqtts(s):
    if not s.tern:
        raise AssertionError("no --tern given")
    t = topic()
    sub = subprocess.Popen([s.tern, "sub", "-L", "mqtts://127.0.0.1:%d/%s" % (s.open_port, t), "--cafile",
                            s.path("ca.crt"), "-C", "1", "-W", str(TIMEOUT)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    r = run([s.tern, "pub", "-L", "mqtts://localhost:%d/%s" % (s.mutual_port, t), "--cafile", s.path("ca.crt"),
             "--cert", s.path("client.crt"), "--key", s.path("client.key"), "-m", "tern over TLS", "-q", "1"])
    assert r.returncode == 0, r.stderr
    out, err = sub.communicate(timeout=TIMEOUT + 5)
    assert out.strip() == "tern over TLS", (out, err)


def closed_within(sock, seconds):
    sock.settimeout(seconds)
    t0 = time.time()
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return None
    return time.time() - t0


@scenario
def bad_input_closes_only_that_connection(s):
    garbage = socket.create_connection(("127.0.0.1", s.open_port))
    garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 300)
    plain = socket.create_connection(("127.0.0.1", s.open_port))
    plain.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 0]))
    stalled = socket.create_connection(("127.0.0.1", s.open_port))
    stalled.sendall(bytes([0x16, 3, 1, 2, 0, 1, 0, 1, 0xfc, 3, 3]))  # a ClientHello that never ends
    assert closed_within(garbage, 5) is not None, "garbage: not closed"
    assert closed_within(plain, 5) is not None, "plain MQTT: not closed"
    roundtrip(s, s.open_port, "5", 1)  # the broker serves others meanwhile
    took = closed_within(stalled, 5)
    assert took is not None, "stalled handshake: not closed"
    for x in (garbage, plain, stalled):
        x.close()
    log = s.output()
    assert "the handshake failed" in log and "did not finish in time" in log, log


@scenario
def sighup_rereads_the_certificate_for_new_connections(s):
    # A subscriber connected before the reload keeps its connection.
    t = topic()
    before = TlsPaho(s, s.open_port, mqtt.MQTTv5)
    assert before.connect()[1] == 0
    before.subscribe(t, 1)
    shutil.copy(s.path("server2.crt"), s.path("live.crt"))
    shutil.copy(s.path("server2.key"), s.path("live.key"))
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "re-read for new connections" not in s.output() and time.time() < deadline:
        time.sleep(0.05)
    assert "re-read for new connections" in s.output(), s.output()
    r = run(mosq(s, "mosquitto_pub", s.open_port, "-t", t, "-q", "1", "-m", "new cert", cafile="ca2.crt"))
    assert r.returncode == 0, "the new certificate is not served: " + r.stderr
    r = run(mosq(s, "mosquitto_pub", s.open_port, "-t", t, "-m", "old cert", cafile="ca.crt"))
    assert r.returncode != 0, "the old certificate is still served"
    assert before.expect(1, "messages on the connection made before SIGHUP")[0].payload == b"new cert"
    before.stop()
    # A broken file: the certificate in force stays.
    with open(s.path("live.crt"), "w") as f:
        f.write("not a certificate\n")
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "keeping the certificate in force" not in s.output() and time.time() < deadline:
        time.sleep(0.05)
    assert "keeping the certificate in force" in s.output(), s.output()
    r = run(mosq(s, "mosquitto_pub", s.open_port, "-t", t, "-m", "still", cafile="ca2.crt"))
    assert r.returncode == 0, r.stderr
    assert s.proc.poll() is None, "ternd exited"


def missing_key_refused_at_start(s):
    path = s.path("bad.toml")
    with open(path, "w") as f:
        f.write(s.config(key_file=s.path("missing.key")))
    r = run([s.ternd, "-c", path])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "bad.toml:8: listeners[0].key_file: cannot read" in r.stderr and "No such file" in r.stderr, r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ternd", required=True)
    ap.add_argument("--tern", default="")
    ap.add_argument("-k", "--filter", default="")
    args = ap.parse_args()
    return run_scenarios(Setup(args.ternd, args.tern), SCENARIOS, args.filter, [missing_key_refused_at_start])

if __name__ == "__main__":
    sys.exit(main())
