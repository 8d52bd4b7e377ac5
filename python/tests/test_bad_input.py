"""Wrong argument types and values raise TypeError/ValueError naming the
argument, as paho does; nothing crashes the interpreter."""
import pytest

import tern.paho.mqtt.client as mqtt
from tern.paho.mqtt.packettypes import PacketTypes
from tern.paho.mqtt.properties import Properties
from tern.paho.mqtt import MQTTException


def test_constructor():
    with pytest.raises(ValueError, match="protocol"):
        mqtt.Client(protocol=7)
    with pytest.raises(ValueError, match="transport"):
        mqtt.Client(transport="udp")
    with pytest.raises(ValueError, match="client id"):
        mqtt.Client(clean_session=False)
    with pytest.raises(ValueError, match="Clean session"):
        mqtt.Client(clean_session=True, protocol=mqtt.MQTTv5)
    with pytest.raises(TypeError, match="client_id"):
        mqtt.Client(client_id=42)


def test_publish_arguments():
    c = mqtt.Client()
    with pytest.raises(ValueError, match="QoS"):
        c.publish("a/b", b"x", qos=3)
    with pytest.raises(TypeError, match="qos"):
        c.publish("a/b", b"x", qos="1")
    with pytest.raises(ValueError, match="wildcards"):
        c.publish("a/#", b"x")
    with pytest.raises(ValueError, match="topic"):
        c.publish("", b"x")
    with pytest.raises(TypeError, match="topic"):
        c.publish(5, b"x")
    with pytest.raises(TypeError, match="payload"):
        c.publish("a", object())
    with pytest.raises(TypeError, match="properties"):
        mqtt.Client(protocol=mqtt.MQTTv5).publish("a", b"x", properties={"x": 1})


def test_other_arguments():
    c = mqtt.Client()
    with pytest.raises(ValueError, match="host"):
        c.connect("")
    with pytest.raises(TypeError, match="port"):
        c.connect("localhost", "1883")
    with pytest.raises(ValueError, match="port"):
        c.connect("localhost", 70000)
    with pytest.raises(ValueError, match="Keepalive"):
        c.connect("localhost", 1883, -1)
    with pytest.raises(ValueError, match="topic"):
        c.will_set("")
    with pytest.raises(ValueError, match="QoS"):
        c.will_set("t", qos=5)
    with pytest.raises(ValueError, match="QoS"):
        c.subscribe("t", 3)
    with pytest.raises(ValueError, match="Empty topic list"):
        c.subscribe([])
    with pytest.raises(ValueError):
        c.subscribe(42)
    with pytest.raises(TypeError, match="username"):
        c.username_pw_set(5)
    with pytest.raises(ValueError, match="min_delay"):
        c.reconnect_delay_set(0, 1)
    with pytest.raises(ValueError, match="inflight"):
        c.max_inflight_messages_set(-1)
    with pytest.raises(ValueError, match="queue size"):
        c.max_queued_messages_set(-1)
    with pytest.raises(TypeError, match="on_message"):
        c.on_message = 5
    with pytest.raises(ValueError, match="SSL context"):
        c.tls_insecure_set(True)
    with pytest.raises(TypeError, match="timeout"):
        c.loop("soon")
    assert c.subscribe("t", 1) == (mqtt.MQTT_ERR_NO_CONN, None)
    assert c.disconnect() == mqtt.MQTT_ERR_NO_CONN


def test_properties():
    p = Properties(PacketTypes.PUBLISH)
    with pytest.raises(MQTTException):
        p.SessionExpiryInterval = 10  # not a PUBLISH property
    with pytest.raises(MQTTException):
        p.NoSuchThing = 1
    with pytest.raises(TypeError, match="MessageExpiryInterval"):
        p.MessageExpiryInterval = "10"
    with pytest.raises(ValueError, match="MessageExpiryInterval"):
        p.MessageExpiryInterval = -1
    p.MessageExpiryInterval = 10
    p.UserProperty = ("a", "b")
    q = Properties(PacketTypes.PUBLISH)
    q.unpack(p.pack())
    assert q.MessageExpiryInterval == 10 and q.UserProperty == [("a", "b")]
    assert str(q) == "[MessageExpiryInterval : 10, UserProperty : [('a', 'b')]]"


def test_publish_is_a_builtin_with_paho_arguments():
    """Once connected, publish is a C builtin (no Python frame per call): it
    takes paho's arguments by position and by keyword, and refuses the rest."""
    c = mqtt.Client()
    c.connect_async("127.0.0.1", 1, 30)  # never reached: publishes queue
    i = c.publish(topic="a/b", payload=b"x", qos=1, retain=False, properties=None)
    assert i.rc == mqtt.MQTT_ERR_NO_CONN and i.mid > 0
    assert c.publish("a/b", b"x", 0, True, None).mid == i.mid + 1
    with pytest.raises(TypeError, match="topic"):
        c.publish()
    with pytest.raises(TypeError, match="at most 5"):
        c.publish("a", b"x", 0, False, None, 1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'qoss'"):
        c.publish("a", qoss=1)
    with pytest.raises(TypeError, match="multiple values for argument 'payload'"):
        c.publish("a", b"x", payload=b"y")
    with pytest.raises(ValueError, match="QoS"):
        c.publish("a", qos=2 ** 80)


def test_message_info_is_paho_s():
    i = mqtt.MQTTMessageInfo(7)
    assert (i.mid, i.rc) == (7, 0)
    assert tuple(i) == (0, 7) and i[0] == 0 and i[1] == 7 and str(i) == "(0, 7)"
    rc, mid = i
    assert (rc, mid) == (0, 7)
    with pytest.raises(IndexError):
        i[2]
    assert not i.is_published()  # no publish behind it
    i.wait_for_publish()  # returns at once
    i.wait_for_publish(timeout=0.1)
    with pytest.raises(TypeError, match="timeout"):
        i.wait_for_publish("soon")
    i.rc = mqtt.MQTT_ERR_QUEUE_SIZE
    with pytest.raises(ValueError, match="ERR_QUEUE_SIZE"):
        i.wait_for_publish()
    with pytest.raises(TypeError, match="mid"):
        mqtt.MQTTMessageInfo()

    class Mine(mqtt.MQTTMessageInfo):  # a subclass with a __dict__ (a GC type)
        pass

    m = Mine(3)
    m.me = [m]  # a cycle only the collector frees
    assert tuple(m) == (0, 3)
    del m
    import gc
    gc.collect()


# ---------------------------------------------------------------- found by test_argument_sweep.py

def test_paho_text_arguments_name_themselves():
    import tern.paho.mqtt.publish as publish
    with pytest.raises(ValueError, match="client_id"):
        mqtt.Client(client_id=b"\xff\xff")  # was accepted, then UnicodeDecodeError at connect
    c = mqtt.Client()
    with pytest.raises(ValueError, match="topic"):
        c.subscribe(b"\xff\xff")
    with pytest.raises(ValueError, match="sub"):
        c.message_callback_add(b"\xff", lambda *a: None)
    with pytest.raises(TypeError, match="sub"):
        mqtt.topic_matches_sub(None, "a")  # was AttributeError
    for host in ("\x00", "a/b", "user@host", "a b"):  # "\x00" connected to 127.0.0.1
        with pytest.raises(ValueError, match="host"):
            c.connect(host, 1)
    with pytest.raises(TypeError, match="bind_address"):
        c.connect("127.0.0.1", 1, 60, None)
    with pytest.raises(TypeError, match="bind_port"):
        c.connect("127.0.0.1", 1, 60, "", None)
    with pytest.raises(TypeError, match="logger"):
        c.enable_logger(object())  # its calls raised in every callback
    with pytest.raises(TypeError, match="logger"):
        c.logger = 5
    with pytest.raises(TypeError, match="auth"):
        publish.single("a", b"x", port=1, auth=True)  # was AttributeError


def test_string_properties_fit_two_bytes_of_length():
    p = Properties(PacketTypes.PUBLISH)
    with pytest.raises(ValueError, match="ContentType"):
        p.ContentType = "a" * 70000  # was struct.error when packed
    with pytest.raises(ValueError, match="UserProperty"):
        p.UserProperty = ("k", "v" * 65536)
    with pytest.raises(ValueError, match="ResponseTopic"):
        p.ResponseTopic = "\ud800"
    import tern
    c = tern.Client("mqtt://127.0.0.1:1")
    with pytest.raises(ValueError, match="content_type"):
        c.publish("a", b"x", properties={"content_type": "a" * 70000})


def test_tern_client_counts_and_timeouts():
    import tern
    with pytest.raises(ValueError, match="queue_size"):
        tern.Client("mqtt://127.0.0.1:1", queue_size=2 ** 64)  # was OverflowError
    with pytest.raises(ValueError, match="max_inflight"):
        tern.Client("mqtt://127.0.0.1:1", max_inflight=70000)
    c = tern.Client("mqtt://127.0.0.1:1")
    with pytest.raises(ValueError, match="timeout"):
        c.get_message(float("nan"))
    assert c.get_message(0) is None


def test_native_options_name_the_key():
    """tern._tern.Client's option dicts: pybind11's casts said RuntimeError
    ("Unable to cast Python instance..."), a missing key KeyError, a short
    will tuple IndexError."""
    from tern import _tern

    class Owner:
        pass

    owner = Owner()
    with pytest.raises(TypeError, match="ca_file"):
        _tern.Client(owner, tls={"ca_file": None})
    with pytest.raises(TypeError, match="insecure"):
        _tern.Client(owner, tls={"insecure": "yes"})
    n = _tern.Client(owner)
    opts = {"version": 4, "client_id": "", "clean_start": True, "keep_alive": 30, "username": None,
            "password": None, "will": None, "session_expiry": None, "props": b""}
    uri = "mqtt://127.0.0.1:1"
    with pytest.raises(ValueError, match="version"):
        n.connect(uri, {})
    for key, value, exc in (("version", None, TypeError), ("keep_alive", 2 ** 64, ValueError),
                            ("client_id", 5, TypeError), ("username", 5, TypeError),
                            ("session_expiry", -1, ValueError), ("props", "x", TypeError),
                            ("will", ("t",), TypeError), ("will", ("t", b"", None, False, b""), TypeError),
                            ("will", ("t", b"", 2 ** 64, False, b""), ValueError)):
        with pytest.raises(exc, match=key.replace("_", "")[:4] if key != "props" else "props"):
            n.connect(uri, dict(opts, **{key: value}))
    with pytest.raises(TypeError, match="callable"):
        n.call_later(0.0, None)  # was a TypeError on the loop, unraisable


def test_asyncio_nan_timeouts_and_amqtt_values():
    import asyncio

    import tern
    from tern.amqtt.broker import Broker as AmqttBroker, BrokerException
    from tern.amqtt.client import ClientError, MQTTClient

    async def main():
        a = tern.AsyncClient("mqtt://127.0.0.1:1")
        with pytest.raises(ValueError, match="timeout"):
            await asyncio.wait_for(a.receive(float("nan")), 5)  # waited for ever
        m = MQTTClient(config={"auto_reconnect": False})
        m._client = object()  # as after a connect
        with pytest.raises(ValueError, match="timeout"):
            await asyncio.wait_for(m.deliver_message(float("nan")), 5)  # waited for ever
        m = MQTTClient(config={"keep_alive": float("inf"), "auto_reconnect": False})
        with pytest.raises(ValueError, match="keep_alive"):
            await m.connect("mqtt://127.0.0.1:1")  # was OverflowError
        with pytest.raises(ClientError):
            await asyncio.wait_for(MQTTClient().reconnect(), 1)  # retried for 6 s
        b = AmqttBroker({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:0"}}, "sys_interval": float("inf"),
                         "tern": {"storage": "memory"}})
        with pytest.raises(BrokerException, match="sys_interval"):
            await b.start()  # was OverflowError

    asyncio.run(main())


def test_broker_logs_a_hook_s_non_utf8_topic(caplog):
    """A hook setting message.topic to bytes that are not UTF-8: the refusal
    (which quotes them) is logged; it was lost as an unraisable
    UnicodeDecodeError."""
    import logging
    import sys

    import tern
    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(u.exc_value)

    def on_publish(client, message):
        message.topic = b"\xff\xfe"

    try:
        with caplog.at_level(logging.ERROR, logger="tern.broker"):
            with tern.Broker({"listeners": [{"port": 0}]}, storage="memory", on_publish=on_publish) as b:
                with tern.Client("mqtt://127.0.0.1:%d" % b.port) as c:
                    assert c.publish("a", b"x", 1).wait(5)
    finally:
        sys.unraisablehook = old
    assert not seen
    assert any("\\xff" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_message_info_ints_out_of_range_are_value_errors():
    """MessageInfo's mid and rc are C ints: out of range was OverflowError
    (PyArg's "i" and T_INT), now ValueError naming them."""
    with pytest.raises(ValueError, match="mid"):
        mqtt.MQTTMessageInfo(2 ** 64)
    i = mqtt.MQTTMessageInfo(1)
    with pytest.raises(ValueError, match="rc"):
        i.rc = -2 ** 63
    with pytest.raises(TypeError, match="mid"):
        i.mid = "1"
    with pytest.raises(TypeError, match="mid"):
        del i.mid
    i.mid, i.rc = 65535, 4
    assert tuple(i) == (4, 65535)


def test_nan_timeouts_are_value_errors():
    """A NaN timeout meant "do not wait" (paho's select() refuses it)."""
    c = mqtt.Client()
    c.connect_async("127.0.0.1", 1)
    with pytest.raises(ValueError, match="timeout"):
        c.loop(float("nan"))
    i = c.publish("a", b"x", 1)
    with pytest.raises(ValueError, match="timeout"):
        i.wait_for_publish(float("nan"))
    i.wait_for_publish(0.01)
