"""transport="websockets" (ws_set_options, tls_set) against ternd's ws and wss
listeners; certificates made at test time with the openssl command."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

import tern.paho.mqtt.client as mqtt
from conftest import _ternd_path, free_port, wait_port
from test_tls import make_pki, round_trip


@pytest.fixture(scope="module")
def ws_ternd():
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    path = _ternd_path()
    d = pathlib.Path(tempfile.mkdtemp(prefix="tern-py-ws-"))
    make_pki(d)
    ws, wss = free_port(), free_port()
    conf = d / "ternd.toml"
    conf.write_text("""[[listeners]]
address = "127.0.0.1"
port = %d
protocol = "ws"
path = "/mqtt"

[[listeners]]
address = "127.0.0.1"
port = %d
protocol = "wss"
cert_file = "%s"
key_file = "%s"

[storage]
backend = "memory"
""" % (ws, wss, d / "server.pem", d / "server.key"))
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    p = subprocess.Popen([path, "-c", str(conf)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(ws, p)
    wait_port(wss, p)
    yield ws, wss, d
    p.kill()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)


def test_ws(ws_ternd, topic):
    ws, _, _ = ws_ternd
    c = mqtt.Client(transport="websockets")
    c.ws_set_options(path="/mqtt", headers={"X-Tern-Test": "1"})
    round_trip(c, ws, topic)


def test_ws_headers_from_a_callable(ws_ternd, topic):
    ws, _, _ = ws_ternd
    seen = []

    def headers(h):
        seen.append(dict(h))
        h["Authorization"] = "Bearer x"
        return h

    c = mqtt.Client(transport="websockets")
    c.ws_set_options(headers=headers)
    round_trip(c, ws, topic)
    assert seen and seen[0]["Upgrade"] == "websocket"


def test_ws_wrong_path_is_refused(ws_ternd):
    ws, _, _ = ws_ternd
    c = mqtt.Client(transport="websockets")
    c.ws_set_options(path="/elsewhere")
    with pytest.raises(OSError):
        c.connect("127.0.0.1", ws, 30)


def test_wss(ws_ternd, topic):
    _, wss, d = ws_ternd
    c = mqtt.Client(transport="websockets", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=str(d / "ca.pem"))
    round_trip(c, wss, topic)


def test_ws_set_options_checks_its_arguments():
    c = mqtt.Client(transport="websockets")
    with pytest.raises(ValueError, match="headers"):
        c.ws_set_options(headers=["not", "a", "dict"])
    with pytest.raises(ValueError, match="transport"):
        mqtt.Client(transport="quic")
