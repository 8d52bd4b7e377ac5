"""A small paho-mqtt program in the style of paho's documentation, unchanged
but for its import: test_paho_example.py runs it with Debian's paho-mqtt and
with `import tern.paho.mqtt.client as mqtt`, and compares the output.

    python3 paho_sensor.py PORT
"""
import sys

import paho.mqtt.client as mqtt

received = []


def on_connect(client, userdata, flags, rc):
    print("Connected with result code " + str(rc))
    client.subscribe("example/sensors/#", qos=1)


def on_subscribe(client, userdata, mid, granted_qos):
    print("Subscribed, granted QoS " + str(granted_qos[0]))
    for i in range(5):
        info = client.publish("example/sensors/t%d" % i, "%.1f" % (20 + i / 2), qos=1)
        print("queued mid %d rc %d" % (info.mid, info.rc))


def on_message(client, userdata, msg):
    print(msg.topic + " " + msg.payload.decode() + " qos " + str(msg.qos))
    received.append(msg.payload)
    if len(received) == 5:
        client.unsubscribe("example/sensors/#")


def on_unsubscribe(client, userdata, mid):
    print("Unsubscribed")
    client.disconnect()


def on_disconnect(client, userdata, rc):
    print("Disconnected with result code " + str(rc))


client = mqtt.Client(client_id="sensor-example", userdata={"site": "north"})
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.on_unsubscribe = on_unsubscribe
client.on_disconnect = on_disconnect

client.connect("127.0.0.1", int(sys.argv[1]), 60)
client.loop_forever()
print("done, %d messages" % len(received))
