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
