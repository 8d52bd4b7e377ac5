"""tls_set / tls_insecure_set against a mosquitto TLS listener, with a CA and
certificates the test makes with the openssl command (EC keys)."""
import os
import pathlib
import shutil
import ssl
import subprocess
import tempfile
import time

import pytest

import tern.paho.mqtt.client as mqtt
from conftest import free_port, wait_for, wait_port


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=%s" % name, "-keyout", name + ".key", "-out", name + ".pem", cwd=d)


def make_pki(d):
    """In folder `d`: ca.pem/ca.key, and server.pem/server.key that it signed
    for localhost and 127.0.0.1."""
    make_ca(d, "ca")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)


@pytest.fixture(scope="module")
def tls_broker():
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        pytest.skip("mosquitto is not installed")
    # Readable by the user mosquitto drops to when started as root (pytest's
    # own temporary folders are not).
    d = pathlib.Path(tempfile.mkdtemp(prefix="tern-py-tls-"))
    os.chmod(d, 0o755)
    make_pki(d)
    make_ca(d, "other")
    for f in d.iterdir():
        os.chmod(f, 0o644)
    port = free_port()
    conf = d / "m.conf"
    conf.write_text("listener %d 127.0.0.1\nallow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s\n"
                    % (port, d / "ca.pem", d / "server.pem", d / "server.key"))
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    p = subprocess.Popen([exe, "-c", str(conf)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, p)
    yield port, d
    p.kill()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)


def round_trip(c, port, topic):
    got = []
    c.on_message = lambda cl, u, m: got.append(m.payload)
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    c.subscribe(topic, 1)
    time.sleep(0.2)
    c.publish(topic, b"over tls", 1).wait_for_publish(5)
    assert wait_for(lambda: got == [b"over tls"])
    c.disconnect()
    c.loop_stop()


def test_verified(tls_broker, topic):
    port, d = tls_broker
    c = mqtt.Client()
    c.tls_set(ca_certs=str(d / "ca.pem"))
    round_trip(c, port, topic)


def test_unknown_ca_is_refused(tls_broker):
    port, d = tls_broker
    c = mqtt.Client()
    c.tls_set(ca_certs=str(d / "other.pem"))
    with pytest.raises(OSError, match="certificate verify failed"):
        c.connect("127.0.0.1", port, 30)


def test_cert_none_and_insecure(tls_broker, topic):
    port, d = tls_broker
    c = mqtt.Client()
    c.tls_set(ca_certs=str(d / "other.pem"), cert_reqs=ssl.CERT_NONE)
    round_trip(c, port, topic)
    c = mqtt.Client()
    c.tls_set(ca_certs=str(d / "ca.pem"))
    c.tls_insecure_set(True)  # the name is not checked (the chain still is)
    round_trip(c, port, topic + "/2")
    with pytest.raises(ValueError, match="already been configured"):
        c.tls_set()
