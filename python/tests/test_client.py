"""tern.Client against ternd and mosquitto: every function, callbacks in order
and calling the client, a raising callback, refusals, TLS and WebSocket; and
against a ternd on RocksDB that is killed: QoS 2 exactly once across the
broker's restarts, and the client's persistence across a killed process."""
import collections
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import tern
from tern.client import ConnAck, Will
from conftest import free_port, wait_for
from test_paho_client import closed_mosquitto  # noqa: F401 (a fixture)
from test_threads import run_script
from test_tls import tls_broker  # noqa: F401 (a fixture)
from test_ws import ws_ternd  # noqa: F401 (a fixture)


def uri(broker):
    return "mqtt://127.0.0.1:%d" % broker.port


# ---------------------------------------------------------------------- the connection

def test_with_connects_and_closes(broker):
    seen = []
    c = tern.Client(uri(broker), client_id="with-" + broker.name, on_disconnect=lambda cl, e: seen.append(e))
    assert not c.connected and c.connack is None and c.client_id == ""
    with c as entered:
        assert entered is c
        assert c.connected
        assert c.client_id == "with-" + broker.name
        assert isinstance(c.connack, ConnAck)
        assert c.connack.reason_code == 0 and c.connack.session_present is False
    assert not c.connected
    assert wait_for(lambda: seen == [None])


def test_ping(broker):
    with tern.Client(uri(broker), client_id="ping-" + broker.name) as c:
        for _ in range(3):
            c.ping(timeout=5)
    with pytest.raises(tern.MQTTError):
        c.ping(timeout=5)  # closed: not connected


def test_connect_disconnect_connect_again(broker):
    c = tern.Client(uri(broker), client_id="again-" + broker.name, clean_start=False, session_expiry=60)
    a = c.connect()
    assert a.session_present is False
    c.disconnect()
    assert not c.connected
    b = c.connect()  # the session the broker kept
    assert b.session_present is True and c.connected
    with pytest.raises(tern.ConnectError, match="already connected"):
        c.connect()
    c.close()


def test_server_assigned_client_id(broker):
    with tern.Client(uri(broker)) as c:
        assert c.client_id != ""


def test_unreachable_broker_raises_connect_error():
    c = tern.Client("mqtt://127.0.0.1:%d" % free_port())
    with pytest.raises(tern.ConnectError) as e:
        c.connect()
    assert e.value.reason_code is None
    assert isinstance(e.value.__cause__, ConnectionRefusedError)


@pytest.mark.parametrize("protocol", [5, 4])
def test_refused_connect_raises_connect_error(closed_mosquitto, protocol):  # noqa: F811
    c = tern.Client("mqtt://127.0.0.1:%d" % closed_mosquitto, protocol=protocol)
    with pytest.raises(tern.ConnectError) as e:
        with c:
            pass
    assert e.value.reason_code == (0x87 if protocol == 5 else 5)  # Not authorized (3.1.1: return code 5)
    assert "Not authorized" in str(e.value)
    assert isinstance(e.value, tern.MQTTError)
    assert not c.connected


def test_reconnects_after_the_broker_restarts(durable_ternd, topic):
    """(A ternd of the test's own: the shared brokers are not restarted.)"""
    broker = durable_ternd
    connects, losses = [], []

    def on_connect(client, connack):
        connects.append(connack)
        client.subscribe(topic, 1)  # from a callback: does not wait, returns []

    c = tern.Client(uri(broker), client_id="reco-" + broker.name, reconnect_min_delay=0.1, reconnect_max_delay=0.5,
                    on_connect=on_connect, on_disconnect=lambda cl, e: losses.append(e))
    with c:
        assert wait_for(lambda: len(connects) == 1)
        broker.restart()
        assert wait_for(lambda: len(connects) == 2, 15)
        assert len(losses) == 1 and isinstance(losses[0], tern.ConnectionLost)
        time.sleep(0.3)
        with tern.Client(uri(broker)) as pub:
            pub.publish(topic, b"after", 1).wait(5)
        m = c.get_message(5)
        assert m is not None and m.payload == b"after"


# ---------------------------------------------------------------------- messages

@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_and_messages(broker, topic, qos):
    with tern.Client(uri(broker)) as sub, tern.Client(uri(broker)) as pub:
        assert sub.subscribe(topic, qos) == [qos]
        handles = [pub.publish(topic, b"m%d" % i, qos) for i in range(50)]
        for h in handles:
            assert h.wait(5) is True
            assert h.is_published()
            assert h.reason_code in (0, 0x10)
        assert [h.mid for h in handles] == sorted(h.mid for h in handles)
        got = [(m.topic, m.payload, m.qos) for m in sub.messages(timeout=1)]
        assert got == [(topic, b"m%d" % i, qos) for i in range(50)]  # in order, exactly once


def test_payload_types(broker, topic):
    with tern.Client(uri(broker)) as c:
        c.subscribe(topic, 1)
        for p in ("text é", b"bytes", bytearray(b"array"), memoryview(b"view"), None):
            c.publish(topic, p, 1)
        got = [m.payload for m in c.messages(timeout=1)]
    assert got == ["text é".encode(), b"bytes", b"array", b"view", b""]


def test_subscribe_forms_and_unsubscribe(broker, topic):
    with tern.Client(uri(broker)) as c:
        assert c.subscribe(topic + "/a", 1) == [1]
        assert c.subscribe((topic + "/b", 2)) == [2]
        assert c.subscribe([topic + "/c", topic + "/d"], qos=1) == [1, 1]
        assert c.subscribe([(topic + "/e", 0), (topic + "/f", 2)]) == [0, 2]
        assert c.unsubscribe(topic + "/a") == [0]
        assert c.unsubscribe([topic + "/b", topic + "/nothing"]) == [0, 0x11]  # No subscription existed
        c.publish(topic + "/a", b"gone", 1).wait(5)
        c.publish(topic + "/c", b"kept", 1).wait(5)
        assert [m.payload for m in c.messages(timeout=0.5)] == [b"kept"]


def test_mqtt311(broker, topic):
    with tern.Client(uri(broker), protocol=4, clean_start=True) as c:
        assert c.subscribe(topic, 2) == [2]
        c.publish(topic, b"3.1.1", 2).wait(5)
        m = c.get_message(5)
        assert (m.payload, m.qos, m.properties) == (b"3.1.1", 2, {})
        assert c.unsubscribe([topic, topic + "/x"]) == [0, 0]  # its UNSUBACK has no codes: success each


def test_no_local_subscription(broker, topic):
    with tern.Client(uri(broker)) as c:
        c.subscribe(topic, 1, no_local=True)
        c.publish(topic, b"mine", 1).wait(5)
        assert c.get_message(0.3) is None


def test_retained(broker, topic):
    with tern.Client(uri(broker)) as c:
        c.publish(topic, b"kept", 1, retain=True).wait(5)
    with tern.Client(uri(broker)) as c:
        c.subscribe(topic, 1)
        m = c.get_message(5)
        assert (m.payload, m.retain) == (b"kept", True)
        c.publish(topic, b"", 1, retain=True).wait(5)  # clear it


def test_will(broker, topic):
    with tern.Client(uri(broker)) as watcher:
        watcher.subscribe(topic + "/will", 1)
        dying = tern.Client(uri(broker), client_id="dying-" + broker.name,
                            will=Will(topic + "/will", b"gone", qos=1))
        dying.connect()
        dying.disconnect(reason_code=0x04)  # Disconnect with Will Message
        m = watcher.get_message(5)
        assert m is not None and m.payload == b"gone"


def test_will_of_tern_aio(broker, topic):
    """tern.aio.Will serves too (any object with Will's fields)."""
    from tern.aio import Will as AioWill
    with tern.Client(uri(broker)) as watcher:
        watcher.subscribe(topic, 1)
        dying = tern.Client(uri(broker), will=AioWill(topic, b"aio will", qos=1))
        dying.connect()
        dying.disconnect(reason_code=0x04)
        assert watcher.get_message(5).payload == b"aio will"


def test_mqtt5_properties(broker, topic):
    with tern.Client(uri(broker), properties={"user_property": {"app": "test"}}) as c:
        assert c.connack.properties.get("receive_maximum", 1) >= 1
        c.subscribe(topic, 1)
        c.publish(topic, "with props", 1, properties={
            "content_type": "text/plain", "response_topic": topic + "/reply", "correlation_data": b"\x01\x02",
            "message_expiry_interval": 60, "user_property": [("site", "north"), ("k", "v")],
            "payload_format_indicator": 1}).wait(5)
        m = c.get_message(5)
    p = m.properties
    assert p["content_type"] == "text/plain"
    assert p["response_topic"] == topic + "/reply"
    assert p["correlation_data"] == b"\x01\x02"
    assert 0 < p["message_expiry_interval"] <= 60
    assert p["user_property"] == [("site", "north"), ("k", "v")]
    assert p["payload_format_indicator"] == 1


def test_messages_ends_at_disconnect(broker, topic):
    c = tern.Client(uri(broker))
    c.connect()
    c.subscribe(topic, 0)
    got = []
    t = threading.Thread(target=lambda: got.extend(c.messages()))  # no timeout: until disconnect()
    t.start()
    c.publish(topic, b"one")
    assert wait_for(lambda: got)
    c.disconnect()
    t.join(5)
    assert not t.is_alive()
    assert [m.payload for m in got] == [b"one"]
    c.close()


def test_queue_size_drops_the_oldest(broker, topic):
    with tern.Client(uri(broker), queue_size=3) as c:
        c.subscribe(topic, 1)
        for i in range(6):
            c.publish(topic, b"%d" % i, 1).wait(5)
        assert wait_for(lambda: c.dropped == 3)
        assert [m.payload for m in c.messages(timeout=0.3)] == [b"3", b"4", b"5"]


# ---------------------------------------------------------------------- callbacks

def test_callbacks_in_order(broker, topic):
    events = []
    done = threading.Event()

    def on_connect(client, connack):
        events.append(("connect", connack.session_present, connack.reason_code))
        assert client.subscribe(topic, 1) == []  # the codes come to on_subscribe

    def on_subscribe(client, mid, codes):
        events.append(("subscribe", codes))
        client.publish(topic, b"hello", 1)

    def on_message(client, m):
        events.append(("message", m.topic, m.payload, m.qos))

    def on_publish(client, mid, reason_code):
        events.append(("publish", reason_code))
        if len([e for e in events if e[0] in ("publish", "message")]) == 2:
            client.unsubscribe(topic)

    def on_unsubscribe(client, mid, codes):
        events.append(("unsubscribe", codes))
        client.disconnect()

    def on_disconnect(client, error):
        events.append(("disconnect", error))
        done.set()

    c = tern.Client(uri(broker), on_connect=on_connect, on_subscribe=on_subscribe, on_message=on_message,
                    on_unsubscribe=on_unsubscribe, on_disconnect=on_disconnect)
    c.on_publish = on_publish  # set as an attribute too
    c.connect()
    assert done.wait(10)
    c.close()
    kinds = [e[0] for e in events]
    assert events[0] == ("connect", False, 0)
    assert events[1] == ("subscribe", [1])
    assert set(kinds[2:4]) == {"publish", "message"}
    assert events[kinds.index("message")] == ("message", topic, b"hello", 1)
    assert events[4:] == [("unsubscribe", [0]), ("disconnect", None)]


def test_raising_callback_is_logged_and_the_loop_goes_on(broker, topic, caplog):
    got = []

    def on_message(client, m):
        got.append(m.payload)
        raise RuntimeError("boom %s" % m.payload.decode())

    with caplog.at_level("ERROR", logger="tern"):
        with tern.Client(uri(broker), on_message=on_message) as c:
            c.subscribe(topic, 1)
            c.publish(topic, b"a", 1)
            c.publish(topic, b"b", 1)
            assert wait_for(lambda: len(got) == 2)
            assert c.connected
    assert got == [b"a", b"b"]
    assert "exception in on_message" in caplog.text
    assert "boom a" in caplog.text and "boom b" in caplog.text


def test_callback_may_call_the_client(broker, topic):
    """publish(), wait(), subscribe() and disconnect() inside callbacks: no deadlock."""
    got = []
    done = threading.Event()

    def on_message(client, m):
        got.append(m.payload)
        if len(got) < 20:
            h = client.publish(topic, b"%d" % len(got), 1)
            assert h.wait(1) is False or h.is_published()  # returns at once on the loop
        else:
            client.disconnect()

    c = tern.Client(uri(broker), on_message=on_message, on_disconnect=lambda cl, e: done.set())
    c.on_connect = lambda client, connack: client.subscribe(topic, 1)
    c.on_subscribe = lambda client, mid, codes: client.publish(topic, b"0", 1)
    t0 = time.monotonic()
    c.connect()
    assert done.wait(10)
    assert time.monotonic() - t0 < 10
    assert got == [b"%d" % i for i in range(20)]
    c.close()


def test_waits_inside_a_callback_return_at_once(broker, topic):
    """The loop runs the callback, so it cannot complete what the callback
    waits for: wait() and subscribe() return at once there (they spun until
    their timeout before)."""
    spent = []

    def on_message(client, m):
        t0 = time.monotonic()
        assert client.publish(topic + "/x", b"y", 1).wait(5) is False
        assert client.subscribe(topic + "/z", 1, timeout=5) == []
        spent.append(time.monotonic() - t0)

    with tern.Client(uri(broker), on_message=on_message) as c:
        c.subscribe(topic, 1)
        c.publish(topic, b"go", 1)
        assert wait_for(lambda: spent, 15)
    assert spent[0] < 1.0


def test_on_message_takes_over_from_the_queue(broker, topic):
    seen = []
    with tern.Client(uri(broker)) as c:
        c.subscribe(topic, 1)
        c.publish(topic, b"queued", 1).wait(5)
        assert c.get_message(5).payload == b"queued"
        c.on_message = lambda client, m: seen.append(m.payload)
        c.publish(topic, b"called", 1).wait(5)
        assert wait_for(lambda: seen == [b"called"])
        assert c.get_message(0.2) is None


def test_ctrl_c_interrupts_messages(ternd):
    rc, out, err = run_script("""
        import tern
        with tern.Client("mqtt://127.0.0.1:%d" % PORT) as c:
            print("looping", flush=True)
            try:
                for m in c.messages():
                    pass
            except KeyboardInterrupt:
                print("interrupted", flush=True)
    """, ternd.port, sigint_after=0.5)
    assert rc == 0, err
    assert "interrupted" in out


# ---------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, exc, text", [
    (lambda: tern.Client(42), TypeError, "uri"),
    (lambda: tern.Client("http://x"), ValueError, "uri"),
    (lambda: tern.Client("mqtt://h", protocol=6), ValueError, "protocol"),
    (lambda: tern.Client("mqtt://h", client_id=1), TypeError, "client_id"),
    (lambda: tern.Client("mqtt://h", keep_alive=-1), ValueError, "keep_alive"),
    (lambda: tern.Client("mqtt://h", protocol=4, session_expiry=10), ValueError, "session_expiry"),
    (lambda: tern.Client("mqtt://h", persistence_dir="/tmp/x"), ValueError, "persistence_dir"),
    (lambda: tern.Client("mqtt://h", ca_file="x"), ValueError, "ca_file"),
    (lambda: tern.Client("ws://h/mqtt", tls_insecure=True), ValueError, "tls_insecure"),
    (lambda: tern.Client("mqtts://h", cert_file=3), TypeError, "cert_file"),
    (lambda: tern.Client("mqtts://h", ca_data=3), TypeError, "ca_data"),
    (lambda: tern.Client("mqtt://h", ws_headers={"a": "b"}), ValueError, "ws_headers"),
    (lambda: tern.Client("ws://h/mqtt", ws_headers={"a": 1}), TypeError, "ws_headers"),
    (lambda: tern.Client("mqtt://h", reconnect_min_delay=2, reconnect_max_delay=1), ValueError, "reconnect"),
    (lambda: tern.Client("mqtt://h", reconnect_min_delay="1"), TypeError, "reconnect_min_delay"),
    (lambda: tern.Client("mqtt://h", will=Will("a/#")), ValueError, "will.topic"),
    (lambda: tern.Client("mqtt://h", properties={"no_such": 1}), ValueError, "no_such"),
    (lambda: tern.Client("mqtt://h", properties={"receive_maximum": "x"}), TypeError, "receive_maximum"),
    (lambda: tern.Client("mqtt://h", protocol=4, properties={"receive_maximum": 1}), ValueError, "properties"),
    (lambda: tern.Client("mqtt://h", on_message=3), TypeError, "on_message"),
])
def test_bad_arguments_name_the_argument(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_bad_call_arguments_name_the_argument():
    c = tern.Client("mqtt://127.0.0.1:1")
    for call, exc, text in [
        (lambda: c.publish(1, b""), TypeError, "topic"),
        (lambda: c.publish("a/+", b""), ValueError, "topic"),
        (lambda: c.publish("", b""), ValueError, "topic"),
        (lambda: c.publish("a", 3.5), TypeError, "payload"),
        (lambda: c.publish("a", b"", qos=3), ValueError, "qos"),
        (lambda: c.publish("a", b"", qos="1"), TypeError, "qos"),
        (lambda: c.publish("a", b"", properties={"session_expiry_interval": 5}), ValueError, "properties"),
        (lambda: c.publish("a", b"", properties=[1]), TypeError, "properties"),
        (lambda: c.subscribe(3), TypeError, "topic"),
        (lambda: c.subscribe("a", 7), ValueError, "qos"),
        (lambda: c.subscribe("a", retain_handling=5), ValueError, "retain_handling"),
        (lambda: c.unsubscribe(5), TypeError, "topic"),
        (lambda: c.get_message(timeout="x"), TypeError, "timeout"),
        (lambda: c.disconnect(reason_code=300), ValueError, "reason_code"),
    ]:
        with pytest.raises(exc, match=text):
            call()
    with pytest.raises(tern.SubscribeError):
        c.subscribe("a", 1)  # not connected


# ---------------------------------------------------------------------- transports

@pytest.mark.parametrize("ca", ["ca_file", "ca_data"])
def test_mqtts(tls_broker, topic, ca):  # noqa: F811
    port, d = tls_broker[0], tls_broker[1]
    arg = {"ca_file": d / "ca.pem"} if ca == "ca_file" else {"ca_data": (d / "ca.pem").read_text()}
    with tern.Client("mqtts://127.0.0.1:%d" % port, **arg) as c:
        c.subscribe(topic, 1)
        c.publish(topic, b"secret", 1).wait(5)
        assert c.get_message(5).payload == b"secret"


def test_mqtts_untrusted_server_raises_connect_error(tls_broker):  # noqa: F811
    port, d = tls_broker[0], tls_broker[1]
    with pytest.raises(tern.ConnectError) as e:
        tern.Client("mqtts://127.0.0.1:%d" % port, ca_file=d / "other.pem").connect()
    assert e.value.__cause__ is not None


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_websocket(ws_ternd, topic, scheme):  # noqa: F811
    ws, wss, d = ws_ternd
    port = ws if scheme == "ws" else wss
    tls = {"ca_file": d / "ca.pem"} if scheme == "wss" else {}
    with tern.Client("%s://127.0.0.1:%d/mqtt" % (scheme, port), ws_headers={"X-Tern-Test": "1"}, **tls) as c:
        assert c.subscribe(topic, 2) == [2]
        c.publish(topic, b"over " + scheme.encode(), 2).wait(5)
        assert c.get_message(5).payload == b"over " + scheme.encode()


# ---------------------------------------------------------------------- durability

def test_qos2_exactly_once_across_broker_kills(durable_ternd, topic):
    """ternd (RocksDB) is killed three times while QoS 2 flows are under way
    both ways (after 150, 400 and 650 of 1000 completed); after each restart
    both clients resume their sessions: every message reaches the subscriber
    exactly once."""
    b, n = durable_ternd, 1000
    got = collections.Counter()
    lock = threading.Lock()
    completed = [0]
    sub_losses, pub_losses = [], []

    def on_message(client, m):
        with lock:
            got[m.payload] += 1

    kills = [150, 400, 650]  # after this many completed flows: the broker is killed right there
    cut = []

    def on_publish(client, mid, reason_code):
        completed[0] += 1
        if kills and completed[0] == kills[0]:
            # Killed and started again on the publisher's loop, so the kill comes
            # in the middle of the flows whatever the machine's speed (from the
            # test's thread, all 1000 could complete between two looks).
            kills.pop(0)
            assert wait_for(lambda: sub.connected, 10)  # back since the last kill: it loses this one too
            b.stop()
            cut.append(completed[0])
            b.start()

    session = dict(clean_start=False, session_expiry=3600, reconnect_min_delay=0.05, reconnect_max_delay=0.2)
    sub = tern.Client(uri(b), client_id="eo-sub", on_message=on_message,
                      on_disconnect=lambda c, e: sub_losses.append(e), **session)
    sub.connect()
    assert sub.subscribe(topic, 2) == [2]
    pub = tern.Client(uri(b), client_id="eo-pub", max_inflight=10, on_publish=on_publish,
                      on_disconnect=lambda c, e: pub_losses.append(e), **session)
    pub.connect()
    handles = [pub.publish(topic, b"%d" % i, 2) for i in range(n)]
    assert wait_for(lambda: len(cut) == 3, 60), (completed[0], cut)
    assert wait_for(lambda: pub.connected and sub.connected, 10)
    # A PUBREL resent after a restart whose PUBCOMP the kill lost is answered
    # PUBCOMP 0x92, "not an error during recovery" (MQTT 5.0, 4.3.3): the
    # publish completes as delivered (it failed with 0x92 before).
    for h in handles:
        assert h.wait(30), "publish %d did not complete" % h.mid
    assert wait_for(lambda: len(got) == n, 30), "%d of %d received" % (len(got), n)
    time.sleep(0.5)  # time for a duplicate to show
    assert {k: v for k, v in got.items() if v != 1} == {}
    assert set(got) == {b"%d" % i for i in range(n)}
    assert cut == [150, 400, 650], cut  # each kill came in the middle of the flows
    assert len(pub_losses) == 3 and len(sub_losses) == 3
    assert all(isinstance(e, tern.ConnectionLost) for e in pub_losses + sub_losses)
    pub.close()
    sub.close()


_PERSIST_SCRIPT = """
import sys, time
import tern
c = tern.Client(sys.argv[1], client_id="persist-pub", clean_start=False, session_expiry=3600,
                persistence_dir=sys.argv[2], reconnect_min_delay=0.05, reconnect_max_delay=0.3)
c.connect()
print("connected", flush=True)
if sys.argv[3] == "publish":
    sys.stdin.readline()  # the broker is down now
    for i in range(int(sys.argv[4])):
        c.publish(sys.argv[5], b"q1-%d" % i, qos=1)
        c.publish(sys.argv[5], b"q2-%d" % i, qos=2)
    time.sleep(0.5)  # the store is written at the end of the loop's turn
    print("published", flush=True)
    time.sleep(60)  # killed here
else:
    sys.stdin.readline()  # the subscriber has them all
    c.close()
"""


def _script(*args):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(_PERSIST_SCRIPT)] + [str(a) for a in args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ.copy())


def _expect(p, line):
    got = p.stdout.readline()
    assert got.strip() == line.encode(), (got, p.stderr.read() if p.poll() is not None else b"")


def test_persistence_across_a_killed_process(durable_ternd, topic, tmp_path):
    """A process publishes QoS 1 and 2 while the broker is down and is killed
    (SIGKILL); the broker comes back; a second process on the same store and
    client id sends them: QoS 2 once each, QoS 1 at least once."""
    b, n = durable_ternd, 30
    store = tmp_path / "client-store"
    got = collections.Counter()
    lock = threading.Lock()

    def on_message(client, m):
        with lock:
            got[m.payload] += 1

    sub = tern.Client(uri(b), client_id="persist-sub", clean_start=False, session_expiry=3600,
                      reconnect_min_delay=0.05, reconnect_max_delay=0.3, on_message=on_message)
    sub.connect()
    assert sub.subscribe(topic, 2) == [2]
    first = _script(uri(b), store, "publish", n, topic)
    try:
        _expect(first, "connected")
        b.stop()
        first.stdin.write(b"go\n")
        first.stdin.flush()
        _expect(first, "published")
        first.kill()  # SIGKILL
        first.wait()
        assert not got
        b.start()
        second = _script(uri(b), store, "resume")
        try:
            _expect(second, "connected")
            want = {b"q1-%d" % i for i in range(n)} | {b"q2-%d" % i for i in range(n)}
            assert wait_for(lambda: set(got) == want, 20), sorted(want - set(got))
            time.sleep(0.5)  # time for a duplicate to show
            second.stdin.write(b"done\n")
            second.stdin.flush()
            assert second.wait(10) == 0, second.stderr.read()
        finally:
            if second.poll() is None:
                second.kill()
    finally:
        if first.poll() is None:
            first.kill()
    assert {k: v for k, v in got.items() if k.startswith(b"q2-") and v != 1} == {}
    assert all(got[b"q1-%d" % i] >= 1 for i in range(n))
    sub.close()
