"""A subscriber whose on_message is slower than the network loses nothing:
tern's client stops reading from the broker while its receive queue is full
(it dropped the oldest, QoS 1 included, before: 1,161 of 3,000 arrived)."""
import time

import paho.mqtt.client as paho  # Debian's paho-mqtt: the publisher

import tern.paho.mqtt.client as mqtt
from conftest import wait_for


def test_a_slow_on_message_gets_every_qos1_message(broker, topic):
    got = []

    def on_message(c, u, m):
        time.sleep(0.0005)
        got.append(int(m.payload))

    sub = mqtt.Client(client_id="slow-sub")
    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port, 60)
    sub.loop_start()
    sub.subscribe(topic, 1)
    assert wait_for(lambda: sub.is_connected())
    time.sleep(0.3)
    pub = paho.Client(client_id="slow-pub")
    pub.connect("127.0.0.1", broker.port, 60)
    pub.loop_start()
    n = 3000
    infos = [pub.publish(topic, str(i), 1) for i in range(n)]
    for i in infos:
        i.wait_for_publish(10)
    assert wait_for(lambda: len(got) == n, timeout=30), len(got)
    assert got == list(range(n))
    pub.disconnect()
    pub.loop_stop()
    sub.disconnect()
    sub.loop_stop()
