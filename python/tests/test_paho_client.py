"""tern.paho.mqtt.client against ternd and mosquitto: paho-mqtt's API and
callbacks, on tern::Client."""
import gc
import threading
import time

import pytest

import tern.paho.mqtt.client as mqtt
from tern.paho.mqtt.enums import CallbackAPIVersion
from tern.paho.mqtt.packettypes import PacketTypes
from tern.paho.mqtt.properties import Properties
from tern.paho.mqtt.reasoncodes import ReasonCodes
from tern.paho.mqtt.subscribeoptions import SubscribeOptions

from conftest import wait_for


def connected_client(broker, protocol=mqtt.MQTTv311, **kw):
    c = mqtt.Client(protocol=protocol, **kw)
    c.connect("127.0.0.1", broker.port, 30)
    c.loop_start()
    return c


def close(c):
    c.disconnect()
    c.loop_stop()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_callbacks_in_order(broker, topic, protocol):
    events = []
    c = mqtt.Client(client_id="order-%d" % protocol, protocol=protocol, userdata="ud")

    def on_connect(client, userdata, flags, rc, properties=None):
        assert client is c and userdata == "ud"
        events.append(("connect", flags["session present"], int(rc) if not isinstance(rc, int) else rc))
        client.subscribe(topic, 1)

    def on_subscribe(client, userdata, mid, granted, properties=None):
        events.append(("subscribe", mid, [int(g) for g in granted]))
        client.publish(topic, b"hello", qos=1)

    def on_message(client, userdata, msg):
        events.append(("message", msg.topic, msg.payload, msg.qos, msg.retain))

    def on_publish(client, userdata, mid):
        events.append(("publish", mid))

    def on_unsubscribe(client, userdata, mid, *rest):
        events.append(("unsubscribe", mid))
        client.disconnect()

    def on_disconnect(client, userdata, rc, properties=None):
        events.append(("disconnect", rc))

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    c.on_publish, c.on_unsubscribe, c.on_disconnect = on_publish, on_unsubscribe, on_disconnect
    assert c.connect("127.0.0.1", broker.port, 30) == mqtt.MQTT_ERR_SUCCESS
    assert events == []  # as in paho: on_connect comes from the loop
    c.loop_start()
    assert wait_for(lambda: any(e[0] == "message" for e in events))
    rc, mid = c.unsubscribe(topic)
    assert rc == mqtt.MQTT_ERR_SUCCESS
    assert wait_for(lambda: any(e[0] == "disconnect" for e in events))
    c.loop_stop()
    kinds = [e[0] for e in events]
    assert kinds[0] == "connect" and events[0][1:] == (0, 0)
    assert kinds[1] == "subscribe" and events[1][2] == [1]
    assert set(kinds[2:4]) == {"publish", "message"}
    assert events[kinds.index("message")][1:] == (topic, b"hello", 1, False)
    assert kinds[4:] == ["unsubscribe", "disconnect"]
    assert events[-1][1] == 0
    assert not c.is_connected()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_qos_round_trip(broker, topic, qos):
    got = []
    sub = connected_client(broker)
    sub.on_message = lambda c, u, m: got.append((m.payload, m.qos))
    sub.subscribe(topic, qos)
    time.sleep(0.2)
    pub = connected_client(broker)
    infos = [pub.publish(topic, "m%d" % i, qos) for i in range(50)]
    for info in infos:
        info.wait_for_publish(5)
        assert info.is_published()
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
    assert [i.mid for i in infos] == sorted(i.mid for i in infos)
    assert wait_for(lambda: len(got) == 50), got
    time.sleep(0.1)
    assert got == [(b"m%d" % i, qos) for i in range(50)]  # in order, exactly once
    close(pub)
    close(sub)


def test_max_inflight(broker, topic):
    got = []
    sub = connected_client(broker)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.subscribe(topic, 2)
    time.sleep(0.2)
    pub = mqtt.Client()
    pub.max_inflight_messages_set(1)
    pub.connect("127.0.0.1", broker.port, 30)
    pub.loop_start()
    infos = [pub.publish(topic, b"%d" % i, 2) for i in range(30)]
    for i in infos:
        i.wait_for_publish(5)
    assert wait_for(lambda: len(got) == 30)
    assert got == [b"%d" % i for i in range(30)]
    close(pub)
    close(sub)


def test_payload_types(ternd, topic):
    got = []
    c = connected_client(ternd)
    c.on_message = lambda cl, u, m: got.append(m.payload)
    c.subscribe(topic, 1)
    time.sleep(0.2)
    for p in ("text é", b"bytes", bytearray(b"array"), memoryview(b"view"), 42, 2.5, None):
        c.publish(topic, p, 1).wait_for_publish(5)
    assert wait_for(lambda: len(got) == 7)
    assert got == ["text é".encode(), b"bytes", b"array", b"view", b"42", b"2.5", b""]
    close(c)


def test_retained(broker, topic):
    pub = connected_client(broker)
    pub.publish(topic, b"kept", 1, retain=True).wait_for_publish(5)
    close(pub)
    got = []
    sub = connected_client(broker)
    sub.on_message = lambda c, u, m: got.append((m.payload, m.retain))
    sub.subscribe(topic, 1)
    assert wait_for(lambda: got)
    assert got[0] == (b"kept", True)
    sub.publish(topic, b"", 1, retain=True).wait_for_publish(5)  # clear it
    close(sub)


def test_will(broker, topic):
    got = []
    sub = connected_client(broker)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.subscribe(topic + "/will", 1)
    time.sleep(0.2)
    dying = mqtt.Client(client_id="dying-" + broker.name)
    dying.will_set(topic + "/will", "gone", qos=1)
    dying.connect("127.0.0.1", broker.port, 30)
    dying.loop_start()
    time.sleep(0.2)
    dying.loop_stop()
    del dying  # closed without DISCONNECT: the broker sends the will
    gc.collect()
    assert wait_for(lambda: got == [b"gone"])
    close(sub)


def test_mqtt5_properties(broker, topic):
    got = []
    connacks = []
    sub = mqtt.Client(protocol=mqtt.MQTTv5)
    sub.on_connect = lambda c, u, flags, rc, props: connacks.append((rc, props))
    sub.on_message = lambda c, u, m: got.append(m)
    sub.connect("127.0.0.1", broker.port, 30)
    sub.loop_start()
    sub.subscribe(topic, options=SubscribeOptions(qos=1, noLocal=True))
    time.sleep(0.2)
    pub = connected_client(broker, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("site", "north")
    props.UserProperty = [("k", "v")]
    props.ContentType = "text/plain"
    props.ResponseTopic = topic + "/reply"
    props.CorrelationData = b"\x01\x02"
    props.MessageExpiryInterval = 60
    pub.publish(topic, "with props", 1, properties=props).wait_for_publish(5)
    assert wait_for(lambda: got)
    m = got[0]
    assert m.properties.UserProperty == [("site", "north"), ("k", "v")]
    assert m.properties.ContentType == "text/plain"
    assert m.properties.ResponseTopic == topic + "/reply"
    assert m.properties.CorrelationData == b"\x01\x02"
    assert 0 < m.properties.MessageExpiryInterval <= 60
    rc, cprops = connacks[0]
    assert isinstance(rc, ReasonCodes) and rc == 0 and str(rc) == "Success"
    assert isinstance(cprops, Properties)
    close(pub)
    close(sub)


def test_reconnect_resubscribes(broker, topic):
    got, connects, disconnects = [], [], []
    c = mqtt.Client(client_id="resub-" + broker.name)
    c.reconnect_delay_set(0.1, 0.5)

    def on_connect(client, userdata, flags, rc):
        connects.append(rc)
        client.subscribe(topic, 1)

    c.on_connect = on_connect
    c.on_disconnect = lambda client, u, rc: disconnects.append(rc)
    c.on_message = lambda client, u, m: got.append(m.payload)
    c.connect("127.0.0.1", broker.port, 30)
    c.loop_start()
    assert wait_for(lambda: connects == [0])
    broker.restart()
    assert wait_for(lambda: len(connects) == 2, 15)
    assert disconnects == [mqtt.MQTT_ERR_CONN_LOST]
    time.sleep(0.3)
    pub = connected_client(broker)
    pub.publish(topic, b"after", 1).wait_for_publish(5)
    assert wait_for(lambda: got == [b"after"])
    close(pub)
    close(c)


def test_callback_may_call_the_client(broker, topic):
    """publish() and disconnect() from inside callbacks: no deadlock."""
    got = []
    c = mqtt.Client()

    def on_message(client, userdata, m):
        got.append(m.payload)
        if len(got) < 20:
            client.publish(topic, b"%d" % len(got), 1).wait_for_publish(0)  # returns at once here
        else:
            client.disconnect()

    c.on_connect = lambda client, u, f, rc: client.subscribe(topic, 1)
    c.on_subscribe = lambda client, u, mid, q: client.publish(topic, b"0", 1)
    c.on_message = on_message
    c.connect("127.0.0.1", broker.port, 30)
    t0 = time.monotonic()
    assert c.loop_forever() == mqtt.MQTT_ERR_SUCCESS
    assert time.monotonic() - t0 < 10
    assert len(got) == 20


def test_raising_callback_is_logged_and_loop_goes_on(broker, topic, caplog):
    got = []
    c = connected_client(broker)
    c.enable_logger()

    def on_message(client, userdata, m):
        got.append(m.payload)
        raise RuntimeError("boom %s" % m.payload.decode())

    c.on_message = on_message
    c.subscribe(topic, 0)
    time.sleep(0.2)
    with caplog.at_level("ERROR"):
        c.publish(topic, b"a")
        c.publish(topic, b"b")
        assert wait_for(lambda: len(got) == 2)
        time.sleep(0.05)
    assert "Caught exception in on_message: boom a" in caplog.text
    assert "Caught exception in on_message: boom b" in caplog.text
    close(c)


def test_message_callback_add(broker, topic):
    general, special = [], []
    c = connected_client(broker)
    c.on_message = lambda cl, u, m: general.append(m.topic)
    c.message_callback_add(topic + "/special/#", lambda cl, u, m: special.append(m.topic))
    c.subscribe(topic + "/#", 0)
    time.sleep(0.2)
    c.publish(topic + "/plain", b"1")
    c.publish(topic + "/special/x", b"2")
    assert wait_for(lambda: general and special)
    c.message_callback_remove(topic + "/special/#")
    c.publish(topic + "/special/y", b"3")
    assert wait_for(lambda: len(general) == 2)
    assert general == [topic + "/plain", topic + "/special/y"]
    assert special == [topic + "/special/x"]
    close(c)


def test_loop_in_caller_thread(broker, topic):
    got = []
    c = mqtt.Client()
    c.on_message = lambda cl, u, m: got.append(m.payload)
    c.connect("127.0.0.1", broker.port, 30)
    c.subscribe(topic, 1)
    c.publish(topic, b"x", 1)
    end = time.monotonic() + 5
    while not got and time.monotonic() < end:
        assert c.loop(0.1) == mqtt.MQTT_ERR_SUCCESS
    assert got == [b"x"]
    c.disconnect()


def test_version2_callbacks(broker, topic):
    events = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="v2-" + broker.name)
    c.on_connect = lambda cl, u, flags, rc, props: events.append(("connect", flags.session_present, rc.value))
    c.on_subscribe = lambda cl, u, mid, rcs, props: events.append(("subscribe", [r.value for r in rcs]))
    c.on_publish = lambda cl, u, mid, rc, props: events.append(("publish", mid))
    c.on_disconnect = lambda cl, u, flags, rc, props: events.append(
        ("disconnect", flags.is_disconnect_packet_from_server, rc.value))
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert wait_for(lambda: events)
    c.subscribe(topic, 2)
    assert wait_for(lambda: len(events) == 2)
    mid = c.publish(topic, b"v2", 1).mid
    assert wait_for(lambda: len(events) == 3)
    c.disconnect()
    assert wait_for(lambda: len(events) == 4)
    c.loop_stop()
    assert events == [("connect", False, 0), ("subscribe", [2]), ("publish", mid), ("disconnect", False, 0)]


def test_connect_refused_by_os(broker):
    from conftest import free_port
    c = mqtt.Client()
    with pytest.raises(ConnectionRefusedError):
        c.connect("127.0.0.1", free_port(), 30)


def test_persistence_dir(broker, topic, tmp_path):
    c = mqtt.Client(client_id="persist-" + broker.name, clean_session=False, persistence_dir=str(tmp_path))
    c.connect("127.0.0.1", broker.port, 30)
    c.loop_start()
    info = c.publish(topic, b"durable", 2)
    info.wait_for_publish(5)
    assert info.is_published()
    close(c)
    assert any(tmp_path.iterdir())


def test_many_threads_publish(broker, topic):
    got = []
    sub = connected_client(broker)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.subscribe(topic, 1)
    time.sleep(0.2)
    pub = connected_client(broker)

    def work(n):
        for i in range(50):
            pub.publish(topic, b"%d-%d" % (n, i), 1)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wait_for(lambda: len(got) == 400, 10)
    close(pub)
    close(sub)


@pytest.fixture(scope="module")
def closed_mosquitto(tmp_path_factory):
    """A mosquitto that refuses every client (allow_anonymous false, no users)."""
    import os
    import shutil
    import subprocess
    from conftest import free_port, wait_port
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        pytest.skip("mosquitto is not installed")
    d = tmp_path_factory.mktemp("closed")
    os.chmod(d, 0o755)
    port = free_port()
    conf = d / "m.conf"
    conf.write_text("listener %d 127.0.0.1\nallow_anonymous false\n" % port)
    os.chmod(conf, 0o644)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    p = subprocess.Popen([exe, "-c", str(conf)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, p)
    yield port
    p.kill()
    p.wait()


@pytest.mark.parametrize("api", [None, CallbackAPIVersion.VERSION2])
@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_refused_connect_gives_paho_codes(closed_mosquitto, protocol, api):
    got = []
    c = mqtt.Client(api, protocol=protocol) if api else mqtt.Client(protocol=protocol)
    c.on_connect = lambda cl, u, flags, rc, *props: got.append(rc)
    assert c.connect("127.0.0.1", closed_mosquitto, 30) == mqtt.MQTT_ERR_SUCCESS  # as paho: rc in on_connect
    assert c.loop_forever() == mqtt.MQTT_ERR_CONN_REFUSED
    assert len(got) == 1
    if protocol == mqtt.MQTTv311 and api is None:
        assert got[0] == mqtt.CONNACK_REFUSED_NOT_AUTHORIZED and type(got[0]) is int
    else:
        assert isinstance(got[0], ReasonCodes) and got[0] == 135 and str(got[0]) == "Not authorized"


def test_a_burst_of_publishes_all_complete(broker, topic):
    """5,000 QoS 1 then 20,000 QoS 0 publishes as fast as Python makes them:
    every MessageInfo completes, on_publish reports each mid once, and a
    subscriber (Debian's paho-mqtt, which keeps up by reading no faster than
    its callback) gets the QoS 1 ones all, in order, and QoS 0 ones in order
    (the broker may drop QoS 0 for a slow subscriber, and order holds within
    one QoS only: MQTT 4.6)."""
    import paho.mqtt.client as paho
    got = []
    sub = paho.Client()
    sub.on_message = lambda c, u, m: got.append(int(m.payload))
    sub.connect("127.0.0.1", broker.port, 30)
    sub.loop_start()
    sub.subscribe(topic, 1)
    time.sleep(0.3)
    pub = connected_client(broker)
    published = []
    pub.on_publish = lambda c, u, mid: published.append(mid)
    publish = pub.publish
    infos = [publish(topic, b"%d" % i, 1) for i in range(5000)]
    infos += [publish(topic, b"%d" % i, 0) for i in range(5000, 25000)]
    for i in infos:
        i.wait_for_publish(30)
        assert i.is_published()
    assert wait_for(lambda: len(published) == len(infos), 10)
    assert sorted(published) == sorted(i.mid for i in infos)
    assert wait_for(lambda: len([g for g in got if g < 5000]) == 5000, 30), len(got)
    assert [g for g in got if g < 5000] == list(range(5000))
    qos0 = [g for g in got if g >= 5000]
    assert qos0 == sorted(set(qos0))  # in order, no duplicates
    close(pub)
    sub.disconnect()
    sub.loop_stop()
