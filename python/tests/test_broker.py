"""tern.Broker (tern::Broker in this process) with real clients over real
sockets: Debian's paho-mqtt, tern.paho, and mosquitto_pub/mosquitto_sub in
subprocesses: hooks, durability, the GIL, configuration errors, exit."""
import errno
import logging
import os
import shutil
import subprocess
import sys
import threading
import time

import paho.mqtt.client as paho
import pytest

import tern
import tern.paho.mqtt.client as tpaho
from tern import _tern

from conftest import wait_for

ANY_PORT = {"listeners": [{"port": 0}]}


def memory_broker(**hooks):
    return tern.Broker(ANY_PORT, storage="memory", **hooks)


def client(module, port, client_id="", protocol=None, clean=True, user=None, subscribe=None, messages=None,
           qos=1):
    """A started client (Debian paho or tern.paho); `messages` collects
    (topic, payload) and `rc` the CONNACK codes."""
    kw = {"client_id": client_id}
    protocol = protocol or module.MQTTv311
    if protocol == module.MQTTv5:
        kw["protocol"] = protocol
    else:
        kw.update(protocol=protocol, clean_session=clean)
    c = module.Client(**kw)
    c.rc = []
    if user:
        c.username_pw_set(*user)

    def on_connect(cl, userdata, flags, rc, properties=None):
        c.rc.append(rc if isinstance(rc, int) else rc.value)
        if subscribe and (rc == 0 if isinstance(rc, int) else rc.value == 0):
            cl.subscribe(subscribe, qos)

    c.on_connect = on_connect
    if messages is not None:
        c.on_message = lambda cl, u, m: messages.append((m.topic, m.payload))
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    return c


def close(c):
    c.disconnect()
    c.loop_stop()


@pytest.mark.parametrize("module", [paho, tpaho], ids=["paho", "tern.paho"])
def test_pub_sub_through_the_embedded_broker(module, topic):
    with memory_broker() as b:
        assert b.running and b.port and b.addresses == ["127.0.0.1:%d" % b.port]
        got = []
        sub = client(module, b.port, "sub", subscribe=topic, messages=got)
        assert wait_for(lambda: b.stats["subscriptions"] == 1)
        pub = client(module, b.port, "pub")
        for i in range(10):
            pub.publish(topic, b"m%d" % i, qos=1)
        assert wait_for(lambda: len(got) == 10)
        assert got == [(topic, b"m%d" % i) for i in range(10)]
        assert b.connections == 2 and b.stats["messages_received"] == 10
        close(pub)
        close(sub)
    assert not b.running and b.ports == [] and b.port is None


@pytest.mark.parametrize("module", [paho, tpaho], ids=["paho", "tern.paho"])
def test_on_connect_refuses_a_user(module):
    seen = []

    def on_connect(c):
        seen.append((c.client_id, c.username, c.password, c.protocol, c.clean_start, c.peer))
        return c.username != "mallory"

    with memory_broker(on_connect=on_connect) as b:
        ok = client(module, b.port, "alice-1", user=("alice", "pw"))
        bad = client(module, b.port, "mallory-1", user=("mallory", "pw"))
        bad5 = client(module, b.port, "mallory-5", protocol=module.MQTTv5, user=("mallory", "pw"))
        assert wait_for(lambda: ok.rc and bad.rc and bad5.rc)
        assert ok.rc[0] == 0
        assert bad.rc[0] == 5            # 3.1.1: not authorised
        assert bad5.rc[0] == 0x87        # 5: Not authorized
        for c in (ok, bad, bad5):
            c.loop_stop()
    alice = [s for s in seen if s[0] == "alice-1"][0]
    assert alice[1:5] == ("alice", b"pw", 4, True) and alice[5].startswith("127.0.0.1:")


def test_on_connect_reason_codes():
    codes = {"u4": 4, "u86": 0x86, "u88": 0x88}
    with memory_broker(on_connect=lambda c: codes.get(c.username)) as b:
        c3 = client(paho, b.port, "a", user=("u4", "x"))
        c5 = client(paho, b.port, "b", protocol=paho.MQTTv5, user=("u86", "x"))
        c5b = client(paho, b.port, "c", protocol=paho.MQTTv5, user=("u88", "x"))
        fine = client(paho, b.port, "d", user=("other", "x"))
        assert wait_for(lambda: c3.rc and c5.rc and c5b.rc and fine.rc)
        assert (c3.rc[0], c5.rc[0], c5b.rc[0], fine.rc[0]) == (4, 0x86, 0x88, 0)
        for c in (c3, c5, c5b, fine):
            c.loop_stop()


def test_on_publish_discard_redirect_and_rewrite(topic):
    def on_publish(c, m):
        if m.topic.endswith("/secret"):
            return False
        if m.topic.endswith("/raw"):
            return m.topic[:-3] + "clean"
        if m.topic.endswith("/upper"):
            m.payload = m.payload.upper()
        if m.topic.endswith("/refused"):
            return 0x87
        return None

    with memory_broker(on_publish=on_publish) as b:
        got = []
        sub = client(paho, b.port, "sub", subscribe=topic + "/#", messages=got)
        assert wait_for(lambda: b.stats["subscriptions"] == 1)
        pub = client(paho, b.port, "pub", protocol=paho.MQTTv5)
        acks = {}
        pub.on_publish = lambda c, u, mid: acks.setdefault(mid, True)
        infos = [pub.publish(topic + t, b"x", qos=1) for t in ("/secret", "/raw", "/upper", "/refused", "/plain")]
        assert wait_for(lambda: len(got) == 3)
        time.sleep(0.2)
        assert sorted(got) == sorted([(topic + "/clean", b"x"), (topic + "/upper", b"X"), (topic + "/plain", b"x")])
        assert wait_for(lambda: all(i.mid in acks for i in infos))  # discarded and refused are acknowledged too
        close(pub)
        close(sub)


def test_on_subscribe_refuses_and_downgrades(topic):
    def on_subscribe(c, f, q):
        if f.startswith("forbidden"):
            return False
        return 0  # at most QoS 0

    with memory_broker(on_subscribe=on_subscribe, on_disconnect=lambda c, why: None) as b:
        granted = []
        c = client(paho, b.port, "s")
        c.on_subscribe = lambda cl, u, mid, g: granted.append(list(g))
        assert wait_for(lambda: c.rc)
        c.subscribe([("forbidden/x", 1), (topic, 2)])
        assert wait_for(lambda: granted)
        assert granted[0] == [0x80, 0]
        close(c)


def test_a_hook_that_raises_is_logged_and_the_broker_goes_on(topic, caplog):
    calls = []

    def on_publish(c, m):
        calls.append(m.topic)
        raise RuntimeError("hook failure %d" % len(calls))

    def on_connect(c):
        return "not a verdict"

    caplog.set_level(logging.ERROR, logger="tern.broker")
    with memory_broker(on_publish=on_publish, on_connect=on_connect) as b:
        got = []
        sub = client(paho, b.port, "sub", subscribe=topic, messages=got)
        assert wait_for(lambda: b.stats["subscriptions"] == 1)
        pub = client(paho, b.port, "pub")
        pub.publish(topic, b"1", qos=1)
        pub.publish(topic, b"2", qos=0)
        assert wait_for(lambda: len(got) == 2)  # the default verdict: routed
        assert sub.rc == [0]                     # the default verdict: accepted
        close(pub)
        close(sub)
    text = caplog.text
    assert "on_publish raised" in text and "hook failure 1" in text and "hook failure 2" in text
    assert "RuntimeError" in text  # with its traceback
    assert "on_connect returned a str" in text
    assert all(r.name == "tern.broker" for r in caplog.records)


def test_durable_session_survives_stop_and_start(tmp_path, topic):
    data = tmp_path / "data"
    b = tern.Broker(ANY_PORT, data_dir=data)
    b.start()
    got = []
    sub = client(paho, b.port, "durable-sub", clean=False, subscribe=topic, messages=got)
    assert wait_for(lambda: b.stats["subscriptions"] == 1)
    close(sub)
    assert wait_for(lambda: b.stats["clients_connected"] == 0)
    pub = client(paho, b.port, "pub")
    pub.publish(topic, b"queued while offline", qos=1).wait_for_publish()
    close(pub)
    b.stop()
    assert os.path.isdir(data)
    b.start()  # a new tern::Broker over the same store
    sub = client(paho, b.port, "durable-sub", clean=False, messages=got)
    assert wait_for(lambda: got)
    assert got == [(topic, b"queued while offline")]
    close(sub)
    b.stop()
    # And a second Broker object on the same directory (the first let it go).
    with tern.Broker(ANY_PORT, data_dir=data) as b2:
        assert b2.stats["clients_total"] == 1


def _external_publish(port, topic, n):
    """mosquitto_pub in a subprocess: n QoS 1 messages, one per line."""
    lines = "".join("m%d\n" % i for i in range(n))
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1", "-l"],
                   input=lines.encode(), env=env, check=True, timeout=60)


def _external_subscriber(port, topic, n):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", "1",
                             "-C", str(n), "-W", "60"], env=env, stdout=subprocess.PIPE)


@pytest.mark.skipif(not shutil.which("mosquitto_pub"), reason="mosquitto-clients is not installed")
def test_a_broker_without_hooks_never_takes_the_gil_to_route(topic):
    n = 1000
    with memory_broker() as b:
        sub = _external_subscriber(b.port, topic, n)
        assert wait_for(lambda: b.stats["subscriptions"] == 1)
        before = _tern._gil_acquisitions()
        _external_publish(b.port, topic, n)
        out, _ = sub.communicate(timeout=60)
        after = _tern._gil_acquisitions()
        assert len(out.splitlines()) == n
        assert b.stats["messages_received"] == n
    assert after == before
    # The counter does count: with an on_publish hook each message takes it.
    with memory_broker(on_publish=lambda c, m: None) as b:
        before = _tern._gil_acquisitions()
        _external_publish(b.port, topic, n)
        assert wait_for(lambda: b.stats["messages_received"] == n)
        assert _tern._gil_acquisitions() - before >= n


def test_configuration_errors_are_terns_own():
    with pytest.raises(ValueError, match=r"<config dict>:\d+: limits.maximum_qos"):
        tern.Broker({"limits": {"maximum_qos": 7}})
    with pytest.raises(ValueError, match=r"<config>:2: listeners\[0\].port"):
        tern.Broker("[[listeners]]\nport = \"ten\"\n")
    with pytest.raises(ValueError, match="did you mean"):
        tern.Broker({"limitz": {}})
    with pytest.raises(ValueError, match="storage"):
        tern.Broker(storage="paper")
    with pytest.raises(TypeError, match="config"):
        tern.Broker(42)
    with pytest.raises(TypeError, match="data_dir"):
        tern.Broker(data_dir=3)
    with pytest.raises(TypeError, match="hooks"):
        tern.Broker(on_publish="not callable")
    with pytest.raises(TypeError, match="config"):
        tern.Broker({"listeners": [{"port": object()}]})


def test_start_failures_raise_oserror_naming_what(tmp_path):
    with memory_broker() as b:
        taken = b.port
        other = tern.Broker({"listeners": [{"port": taken}]}, storage="memory")
        with pytest.raises(OSError, match="%d" % taken) as e:
            other.start()
        assert e.value.errno == errno.EADDRINUSE
        assert str(e.value).count("Address already in use") == 1, str(e.value)
        assert not other.running
    nofile = tern.Broker({"listeners": [{"port": 0}], "auth": {"password_file": str(tmp_path / "none")}},
                         storage="memory")
    with pytest.raises(OSError, match="password_file") as e:
        nofile.start()
    assert e.value.errno == errno.EINVAL, str(e.value)


def test_reload_and_ws_listener(tmp_path, topic):
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite %s/#\ntopic deny %s/b\n" % (topic, topic))
    cfg = {"listeners": [{"port": 0}, {"port": 0, "protocol": "ws"}], "auth": {"acl_file": str(acl)}}
    with tern.Broker(cfg, storage="memory") as b:
        assert len(b.ports) == 2
        got = []
        sub = paho.Client("ws-sub", transport="websockets")
        sub.on_message = lambda c, u, m: got.append((m.topic, m.payload))
        sub.on_connect = lambda c, u, f, rc: c.subscribe(topic + "/#", 1)
        sub.connect("127.0.0.1", b.ports[1])
        sub.loop_start()
        assert wait_for(lambda: b.stats["subscriptions"] == 1)
        pub = client(paho, b.ports[0], "pub")
        pub.publish(topic + "/b", b"1", qos=1)
        pub.publish(topic + "/a", b"2", qos=1).wait_for_publish()
        assert wait_for(lambda: got == [(topic + "/a", b"2")])
        acl.write_text("topic readwrite %s/#\n" % topic)
        assert b.reload()
        pub.publish(topic + "/b", b"3", qos=1).wait_for_publish()
        assert wait_for(lambda: got == [(topic + "/a", b"2"), (topic + "/b", b"3")])
        acl.write_text("topic sideways x\n")
        assert not b.reload()
        close(pub)
        close(sub)


@pytest.mark.parametrize("hooks", [False, True], ids=["no-hooks", "hooks"])
def test_interpreter_exits_with_a_running_broker(tmp_path, hooks):
    script = """
import sys, paho.mqtt.client as paho, tern
b = tern.Broker({"listeners": [{"port": 0}]}, data_dir=sys.argv[1],
                %s)
b.start()
c = paho.Client("c"); c.connect("127.0.0.1", b.port); c.loop_start()
c.subscribe("t", 1); c.publish("t", b"x", qos=1).wait_for_publish()
print(b.port, flush=True)
# exits without stopping the broker or the client
""" % ("on_publish=lambda c, m: None, on_connect=lambda c: True, on_disconnect=lambda c, why: None" if hooks else "")
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", script, str(tmp_path / "d")], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    assert time.monotonic() - t0 < 10
    assert p.stdout.strip().isdigit()


def test_interpreter_exits_while_a_hook_drops_another_broker():
    # At exit every broker is stopped; broker a's hook, still running then,
    # drops the last reference to broker b, whose destructor runs on a's io
    # thread. It hung before (the exit's stop held the list b leaves).
    script = """
import threading, time, tern, paho.mqtt.client as paho
other = [tern.Broker({"listeners": [{"port": 0}]}, storage="memory").start()]
started = threading.Event()
def on_publish(c, m):
    started.set()
    time.sleep(0.5)
    other.clear()
a = tern.Broker({"listeners": [{"port": 0}]}, storage="memory", on_publish=on_publish).start()
c = paho.Client("c"); c.connect("127.0.0.1", a.port); c.loop_start()
c.publish("t", b"x", qos=1)
assert started.wait(10)
print("exiting", flush=True)
"""
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.strip() == b"exiting"


def test_a_broker_collected_with_hooks_running(topic):
    # Created, started and dropped; its hooks hold the only reference to a
    # list; the broker goes when collected (not at exit).
    seen = []
    b = memory_broker(on_publish=lambda c, m: seen.append(m.topic))
    b.start()
    pub = client(paho, b.port, "p")
    pub.publish(topic, b"x", qos=1).wait_for_publish()
    close(pub)
    del b
    import gc
    gc.collect()
    assert seen == [topic]


def test_a_broker_dropped_inside_its_own_hook(topic):
    # The hook drops the last reference to its broker: the broker is
    # destroyed on a helper thread, not on the io thread running the hook.
    holder = []
    calls = []

    def on_publish(c, m):
        calls.append(m.topic)
        holder.clear()

    holder.append(memory_broker(on_publish=on_publish))
    port = holder[0].start().port
    pub = client(paho, port, "p")
    pub.publish(topic, b"x", qos=1)
    assert wait_for(lambda: calls == [topic])
    assert wait_for(lambda: pub.rc and not pub.is_connected(), timeout=10)  # the broker went away
    pub.loop_stop()


def test_on_disconnect_says_why():
    import socket
    events = []
    with memory_broker(on_disconnect=lambda c, why: events.append((c.client_id, why))) as b:
        c = client(paho, b.port, "polite")
        assert wait_for(lambda: c.rc == [0])
        close(c)
        s = socket.create_connection(("127.0.0.1", b.port))
        s.sendall(b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04rude")  # CONNECT, then gone
        assert s.recv(4) == b"\x20\x02\x00\x00"
        s.close()
        assert wait_for(lambda: len(events) == 2)
    assert events[0] == ("polite", "")
    assert events[1][0] == "rude" and events[1][1] != ""
