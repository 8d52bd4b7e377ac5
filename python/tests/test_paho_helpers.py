"""tern.paho.mqtt.publish and .subscribe (paho's one-call helpers)."""
import threading
import time

import pytest

import tern.paho.mqtt.client as mqtt
import tern.paho.mqtt.publish as publish
import tern.paho.mqtt.subscribe as subscribe


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_single_then_simple_retained(broker, topic, protocol):
    publish.single(topic, "retained one", qos=1, retain=True, hostname="127.0.0.1", port=broker.port,
                   protocol=protocol)
    m = subscribe.simple(topic, qos=1, hostname="127.0.0.1", port=broker.port, protocol=protocol)
    assert (m.topic, m.payload, m.retain) == (topic, b"retained one", True)
    publish.single(topic, None, qos=1, retain=True, hostname="127.0.0.1", port=broker.port)


def test_multiple_and_simple_count(broker, topic):
    result = {}

    def receive():
        result["msgs"] = subscribe.simple(topic + "/#", qos=1, msg_count=3, hostname="127.0.0.1",
                                          port=broker.port)

    t = threading.Thread(target=receive)
    t.start()
    time.sleep(0.5)
    publish.multiple([{"topic": topic + "/a", "payload": "1", "qos": 1},
                      (topic + "/b", "2", 1, False),
                      {"topic": topic + "/c", "payload": b"3"}],
                     hostname="127.0.0.1", port=broker.port)
    t.join(10)
    assert not t.is_alive()
    assert [(m.topic, m.payload) for m in result["msgs"]] == [
        (topic + "/a", b"1"), (topic + "/b", b"2"), (topic + "/c", b"3")]


def test_callback_helper(broker, topic):
    got = []

    def on_message(client, userdata, message):
        got.append((userdata, message.payload))
        client.disconnect()  # ends subscribe.callback

    def publisher():
        time.sleep(0.5)
        publish.single(topic, b"cb", hostname="127.0.0.1", port=broker.port)

    threading.Thread(target=publisher).start()
    subscribe.callback(on_message, [topic], userdata="u", hostname="127.0.0.1", port=broker.port)
    assert got == [("u", b"cb")]


def test_bad_arguments():
    with pytest.raises(TypeError, match="msgs"):
        publish.multiple(5)
    with pytest.raises(ValueError, match="msg_count"):
        subscribe.simple("t", msg_count=0)
