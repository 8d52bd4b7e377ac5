"""tern.amqtt.broker.Broker: amqtt's embeddable broker API and configuration,
on tern::Broker, with Debian's paho-mqtt as the clients over real sockets."""
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time

import paho.mqtt.client as paho
import pytest

from tern.amqtt.broker import Broker, BrokerError, BrokerException

from conftest import free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.path.dirname(HERE), "examples", "amqtt_broker.py")


# amqtt's password files hold passlib's sha512_crypt ("$6$", crypt(3)'s
# SHA-512): these two were written by Python's crypt.crypt (which cannot be
# imported under the asan preset's preloaded runtime): "wonderland" with the
# default 5000 rounds, "builder" with rounds=10000 written out.
ALICE = "$6$QdGj3QnZkL/qbZUE$2hhcs.ZM5IbN74lOgKJErMOqkbv/FbjJDVeDZvU2n2Etf05R5Kw/RRa/XoMgbgSTMXPH5BV96sJCeSSwc7VEp/"
BOB = ("$6$rounds=10000$AuZGCE3jrfKrrvi.$OmyaHmcUSS3IbRFZrVD9mXso/lY2xRstqRDIO0CDtUtoATWNgCUL/"
       "pxaK5Jf5mHx0dmpIZfy4VKNreMTJrlO0/")


def mem(cfg, **tern):
    """An amqtt config with tern's store in memory (tests run many brokers)."""
    cfg = dict(cfg)
    cfg["tern"] = {"storage": "memory", **tern}
    return cfg


def connect(port, client_id, user=None, subscribe=None, transport="tcp"):
    c = paho.Client(client_id, transport=transport)
    c.rc, c.got, c.granted = [], [], []
    if user:
        c.username_pw_set(*user)
    c.on_connect = lambda cl, u, f, rc: (c.rc.append(rc), subscribe and rc == 0 and cl.subscribe(subscribe))
    c.on_message = lambda cl, u, m: c.got.append((m.topic, m.payload))
    c.on_subscribe = lambda cl, u, mid, g: c.granted.append(list(g))
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    assert wait_for(lambda: c.rc)
    return c


def run(coro):
    return asyncio.run(coro)


def test_password_file_and_topic_acl(tmp_path, caplog):
    passwd = tmp_path / "passwd"
    passwd.write_text("# amqtt's format\nalice:%s\nbob:%s\n" % (ALICE, BOB))
    port = free_port()
    config = mem({
        "listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port, "max-connections": 50}},
        "sys_interval": 0,
        "auth": {"allow-anonymous": False, "password-file": str(passwd),
                 "plugins": ["auth_file", "auth_anonymous", "auth_ldap"]},
        "topic-check": {"enabled": True, "plugins": ["topic_acl", "topic_mystery"],
                        "acl": {"alice": ["alice/#", "shared/+"], "bob": ["shared/#", "bob/#"],
                                "anonymous": ["public/#"]}},
    })
    caplog.set_level(logging.WARNING, logger="tern.amqtt.broker")

    async def scenario():
        broker = Broker(config)
        await broker.start()
        assert broker.ports == [port]
        loop = asyncio.get_running_loop()
        alice = await loop.run_in_executor(None, lambda: connect(port, "alice", ("alice", "wonderland")))
        bob = await loop.run_in_executor(None, lambda: connect(port, "bob", ("bob", "builder")))
        wrong = await loop.run_in_executor(None, lambda: connect(port, "w", ("alice", "nope")))
        anon = await loop.run_in_executor(None, lambda: connect(port, "anon"))
        assert alice.rc == [0] and bob.rc == [0]
        assert wrong.rc[0] in (4, 5) and anon.rc[0] == 5  # refused: bad password; anonymous not allowed
        alice.subscribe([("alice/#", 1), ("bob/#", 1), ("shared/x", 1)])
        bob.subscribe([("shared/#", 1), ("alice/#", 1)])
        assert await loop.run_in_executor(None, lambda: wait_for(lambda: alice.granted and bob.granted))
        assert alice.granted[0] == [1, 0x80, 1] and bob.granted[0] == [1, 0x80]
        alice.publish("shared/x", b"from alice", qos=1)
        alice.publish("bob/inbox", b"not allowed", qos=1)       # alice may not write there
        bob.publish("alice/inbox", b"not allowed either", qos=1)
        bob.publish("bob/x", b"to nobody", qos=1).wait_for_publish()
        assert await loop.run_in_executor(None, lambda: wait_for(lambda: len(alice.got) + len(bob.got) == 2))
        await asyncio.sleep(0.2)
        assert alice.got == [("shared/x", b"from alice")] and bob.got == [("shared/x", b"from alice")]
        for c in (alice, bob, wrong, anon):
            c.disconnect()
            c.loop_stop()
        await broker.shutdown()

    run(scenario())
    text = caplog.text
    assert "'auth_ldap' is not available" in text and "'topic_mystery' is not available" in text


def test_publish_acl_and_anonymous_section():
    port = free_port()
    config = mem({
        "listeners": {"default": {"type": "tcp", "bind": ":%d" % port}},
        "auth": {"allow-anonymous": True},
        "topic-check": {"enabled": True, "plugins": ["topic_acl"],
                        "acl": {"anonymous": ["news/#"]}, "publish-acl": {"anonymous": ["in/#"]}},
    })

    async def scenario():
        broker = Broker(config)
        await broker.start()
        loop = asyncio.get_running_loop()
        c = await loop.run_in_executor(None, lambda: connect(port, "anon"))
        c.subscribe([("news/#", 0), ("in/#", 0)])
        assert await loop.run_in_executor(None, lambda: wait_for(lambda: c.granted))
        assert c.granted[0] == [0, 0x80]  # read news/#, not in/#
        c.publish("news/x", b"no write", qos=1)
        c.publish("in/x", b"written", qos=1).wait_for_publish()
        await asyncio.sleep(0.2)
        assert c.got == []
        c.disconnect()
        c.loop_stop()
        await broker.shutdown()

    run(scenario())


def test_ws_listener_and_default_inheritance():
    tcp, ws = free_port(), free_port()
    config = mem({
        "listeners": {
            "default": {"type": "tcp", "max-connections": 10},
            "my-tcp": {"bind": "127.0.0.1:%d" % tcp},
            "my-ws": {"bind": "127.0.0.1:%d" % ws, "type": "ws"},
            "unbound": {"type": "ws"},
        },
    })

    async def scenario():
        broker = Broker(config)
        await broker.start()
        assert sorted(broker.ports) == sorted([tcp, ws])
        loop = asyncio.get_running_loop()
        sub = await loop.run_in_executor(None, lambda: connect(ws, "ws-sub", subscribe="t/#", transport="websockets"))
        assert await loop.run_in_executor(None, lambda: wait_for(lambda: sub.granted))
        pub = await loop.run_in_executor(None, lambda: connect(tcp, "tcp-pub"))
        pub.publish("t/1", b"over ws", qos=1)
        assert await loop.run_in_executor(None, lambda: wait_for(lambda: sub.got))
        assert sub.got == [("t/1", b"over ws")]
        for c in (sub, pub):
            c.disconnect()
            c.loop_stop()
        await broker.shutdown()

    run(scenario())


def test_topic_taboo():
    port = free_port()
    config = mem({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port}},
                  "topic-check": {"enabled": True, "plugins": ["topic_taboo"]}})

    async def scenario():
        broker = Broker(config)
        await broker.start()
        loop = asyncio.get_running_loop()
        c = await loop.run_in_executor(None, lambda: connect(port, "someone", ("someone", "x")))
        admin = await loop.run_in_executor(None, lambda: connect(port, "admin", ("admin", "x")))
        c.subscribe([("prohibited", 0), ("fine", 0)])
        admin.subscribe([("prohibited", 0)])
        assert await loop.run_in_executor(None, lambda: wait_for(lambda: c.granted and admin.granted))
        assert c.granted[0] == [0x80, 0] and admin.granted[0] == [0]
        for x in (c, admin):
            x.disconnect()
            x.loop_stop()
        await broker.shutdown()

    run(scenario())


def test_durable_across_shutdown_and_start(tmp_path):
    port = free_port()
    config = {"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port}},
              "tern": {"data_dir": str(tmp_path / "store")}}

    async def scenario():
        broker = Broker(config)
        await broker.start()
        loop = asyncio.get_running_loop()

        def offline_subscriber():
            c = paho.Client("keeper", clean_session=False)
            c.connect("127.0.0.1", port)
            c.loop_start()
            c.subscribe("keep/#", 1)
            time.sleep(0.3)
            c.disconnect()
            c.loop_stop()

        await loop.run_in_executor(None, offline_subscriber)
        p = await loop.run_in_executor(None, lambda: connect(port, "p"))
        await loop.run_in_executor(None, lambda: p.publish("keep/1", b"kept", qos=1).wait_for_publish())
        p.disconnect()
        p.loop_stop()
        await broker.shutdown()
        await broker.start()
        got = []

        def back():
            c = paho.Client("keeper", clean_session=False)
            c.on_message = lambda cl, u, m: got.append((m.topic, m.payload))
            c.connect("127.0.0.1", port)
            c.loop_start()
            ok = wait_for(lambda: got)
            c.disconnect()
            c.loop_stop()
            return ok

        assert await loop.run_in_executor(None, back)
        assert got == [("keep/1", b"kept")]
        await broker.shutdown()

    run(scenario())
    assert os.path.isdir(tmp_path / "store")


def test_broker_exceptions():
    assert BrokerError is BrokerException
    import tern.amqtt.errors
    assert tern.amqtt.errors.BrokerError is BrokerError  # a 0.11 program catches amqtt.errors.BrokerError
    with pytest.raises(BrokerException, match="Listener config"):
        Broker({"listeners": "tcp"})
    with pytest.raises(BrokerException, match="dict"):
        Broker("config")
    port = free_port()

    async def scenario():
        b = Broker(mem({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port}}}))
        with pytest.raises(BrokerException, match="shut down"):
            await b.shutdown()
        await b.start()
        with pytest.raises(BrokerException, match="can't be started"):
            await b.start()
        # The same port again: the bind fails, named.
        other = Broker(mem({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port}}}))
        with pytest.raises(BrokerException, match="%d" % port):
            await other.start()
        await b.shutdown()
        bad = Broker(mem({"listeners": {"default": {"type": "udp", "bind": "127.0.0.1:1"}}}))
        with pytest.raises(BrokerException, match="unknown type"):
            await bad.start()
        nossl = Broker(mem({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:1", "ssl": "on"}}}))
        with pytest.raises(BrokerException, match="certfile"):
            await nossl.start()
        missing = Broker(mem({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % port}},
                              "auth": {"password-file": "/nonexistent/passwd"}}))
        with pytest.raises(BrokerException, match="/nonexistent/passwd"):
            await missing.start()

    run(scenario())


def test_amqtt_example_runs_with_only_its_imports_changed(tmp_path):
    port = free_port()
    env = dict(os.environ, MQTT_PORT=str(port))
    p = subprocess.Popen([sys.executable, EXAMPLE], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        c = None
        end = time.monotonic() + 20
        while c is None and time.monotonic() < end:
            try:
                c = connect(port, "example-client")
            except OSError:
                time.sleep(0.1)
        assert c is not None and c.rc == [0], p.stdout.read1().decode() if p.poll() is not None else "no broker"
        c.subscribe("example/#", 1)
        assert wait_for(lambda: c.granted)
        c.publish("example/hello", b"world", qos=1)
        assert wait_for(lambda: c.got == [("example/hello", b"world")])
        c.disconnect()
        c.loop_stop()
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=20)
    assert p.returncode == 0, out.decode()
    assert b"Traceback" not in out, out.decode()


def test_ssl_listeners(tmp_path):
    import shutil
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    from test_tls import make_pki
    make_pki(tmp_path)
    mqtts, wss = free_port(), free_port()
    tls = {"ssl": "on", "certfile": str(tmp_path / "server.pem"), "keyfile": str(tmp_path / "server.key"),
           "cafile": str(tmp_path / "ca.pem")}
    config = mem({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d" % mqtts, **tls},
                                "wss": {"type": "ws", "bind": "127.0.0.1:%d" % wss}}})

    def tls_client(port, transport):
        c = paho.Client("tls-" + transport, transport=transport)
        c.tls_set(ca_certs=str(tmp_path / "ca.pem"))  # no client certificate: amqtt's CERT_OPTIONAL
        c.rc, c.got = [], []
        c.on_connect = lambda cl, u, f, rc: (c.rc.append(rc), cl.subscribe("s/#", 1))
        c.on_message = lambda cl, u, m: c.got.append(m.payload)
        c.connect("127.0.0.1", port)
        c.loop_start()
        return c

    async def scenario():
        broker = Broker(config)
        await broker.start()
        loop = asyncio.get_running_loop()
        a = tls_client(mqtts, "tcp")
        b = tls_client(wss, "websockets")
        assert await loop.run_in_executor(None, lambda: wait_for(lambda: a.rc == [0] and b.rc == [0]))
        assert await loop.run_in_executor(None, lambda: wait_for(
            lambda: broker.tern_broker.stats["subscriptions"] == 2))
        a.publish("s/1", b"secret", qos=1)
        assert await loop.run_in_executor(None, lambda: wait_for(lambda: a.got == b.got == [b"secret"]))
        for c in (a, b):
            c.disconnect()
            c.loop_stop()
        await broker.shutdown()

    run(scenario())
