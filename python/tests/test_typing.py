"""Type checkers see tern's Python API: a paho program moved to tern.paho,
the amqtt examples and a program on tern's own API check clean with mypy
(Debian's python3-mypy) against the package as installed; and paho's module
constants, written out so that checkers see them, agree with 2.x's enums and
with Debian's paho-mqtt 1.6."""
import os
import shutil
import subprocess
import sys
import textwrap

import paho.mqtt.client as debian_paho
import pytest

import tern.paho.mqtt.client as mqtt
from tern.paho.mqtt.enums import ConnackCode, LogLevel, MessageType, MQTTErrorCode

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)  # python/: tern as a type checker finds it installed
EXAMPLES = os.path.join(PACKAGE, "examples")


def test_paho_constants_agree_with_the_enums_and_with_paho():
    for enum in (MessageType, LogLevel, ConnackCode, MQTTErrorCode):
        for m in enum:
            value = getattr(mqtt, m.name)
            assert type(value) is int and value == int(m.value), m.name
            if hasattr(debian_paho, m.name):
                assert value == getattr(debian_paho, m.name), m.name


# The paho API as programs use it: module constants, every on_* property and
# decorator, the methods and helpers, MQTT 5 properties and options.
PAHO_PROGRAM = '''
import tern.paho.mqtt.client as mqtt
import tern.paho.mqtt.publish as publish
import tern.paho.mqtt.subscribe as subscribe
from tern.paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from tern.paho.mqtt.packettypes import PacketTypes
from tern.paho.mqtt.properties import Properties
from tern.paho.mqtt.reasoncodes import ReasonCodes
from tern.paho.mqtt.subscribeoptions import SubscribeOptions


def on_connect(client: mqtt.Client, userdata: object, flags: dict, rc: int) -> None:
    if rc == mqtt.CONNACK_ACCEPTED and rc != mqtt.MQTT_ERR_NO_CONN:
        client.subscribe("a/b", 1)
        client.subscribe([("a/c", 0), ("a/d", 2)])
    print(mqtt.connack_string(rc), mqtt.error_string(mqtt.MQTT_ERR_QUEUE_SIZE), mqtt.PUBLISH)


def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
    print(msg.topic, msg.payload.decode(), msg.qos, msg.retain, msg.mid, msg.properties)


def on_log(client: mqtt.Client, userdata: object, level: int, buf: str) -> None:
    if level in (mqtt.MQTT_LOG_DEBUG, mqtt.MQTT_LOG_ERR):
        print(buf)


c = mqtt.Client(client_id="probe", clean_session=True, userdata=None, protocol=mqtt.MQTTv311, transport="tcp")
c.on_connect = on_connect
c.on_connect_fail = lambda client, userdata: None
c.on_message = on_message
c.on_log = on_log
c.on_publish = lambda client, userdata, mid: None
c.on_subscribe = lambda client, userdata, mid, granted: None
c.on_unsubscribe = lambda client, userdata, mid: None
c.on_disconnect = None
c.message_callback_add("a/#", on_message)
c.username_pw_set("u", "p")
c.will_set("w", "bye", 1, True)
c.reconnect_delay_set(1, 30)
c.max_inflight_messages_set(100)
c.enable_logger()
c.user_data_set({"k": 1})
c.connect("127.0.0.1", 1883, 60)
c.loop_start()
info = c.publish("a/b", b"x", qos=1, retain=False)
info.wait_for_publish(5)
print(info.rc, info.mid, info.is_published())
result, mid = c.subscribe("a/b")
c.unsubscribe("a/b")
c.disconnect()
c.loop_stop()


@c.message_callback()
def later(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
    pass


v5 = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="v5", protocol=mqtt.MQTTv5)
props = Properties(PacketTypes.PUBLISH)
props.MessageExpiryInterval = 30
v5.publish("t", "x", 1, properties=props)
v5.subscribe("t", options=SubscribeOptions(qos=1, noLocal=True))
print(ReasonCodes(PacketTypes.CONNACK, "Success"), MQTTErrorCode.MQTT_ERR_SUCCESS)
publish.single("a/b", "x", hostname="127.0.0.1")
m = subscribe.simple("a/b", hostname="127.0.0.1")
print(mqtt.topic_matches_sub("a/+", "a/b"))
'''

TERN_PROGRAM = '''
# docs/python.md's examples of tern's own API.
import asyncio
import tern
from tern.broker import BrokerClient, BrokerMessage


def on_connect(client: tern.Client, connack: tern.client.ConnAck) -> None:
    print("connected, session present:", connack.session_present)


try:
    with tern.Client("mqtt://127.0.0.1:1883", client_id="app-1", on_connect=on_connect) as c:
        print(c.subscribe("sensors/#", qos=1))
        h = c.publish("sensors/t1", b"21.5", qos=1, properties={"content_type": "text/plain"})
        h.wait(5)
        for m in c.messages(timeout=10):
            print(m.topic, m.payload, m.qos, m.properties)
except tern.ConnectError as e:
    print("no connection:", e)


async def main() -> None:
    async with tern.AsyncClient("mqtt://127.0.0.1:1883", client_id="app-1") as a:
        print(await a.subscribe([("sensors/#", 1)]))
        await a.publish("sensors/t1", b"21.5", qos=1, properties={"message_expiry_interval": 60})
        async for m in a.messages():
            print(m.topic, m.payload, m.qos, m.retain, m.properties)
            break

asyncio.run(main())


def on_publish(client: BrokerClient, message: BrokerMessage) -> bool | str:
    return "clean/" + message.topic if message.topic.startswith("raw/") else message.topic != "drop"


with tern.Broker({"listeners": [{"port": 0}]}, storage="memory", on_publish=on_publish) as b:
    print(b.port, b.stats["messages_received"] if "messages_received" in b.stats else 0)
'''


def test_programs_moved_to_tern_type_check(tmp_path):
    if subprocess.run([sys.executable, "-m", "mypy", "--version"], capture_output=True).returncode != 0:
        pytest.skip("mypy is not installed (python3-mypy: scripts/install-deps)")
    with open(os.path.join(EXAMPLES, "paho_sensor.py")) as f:
        sensor = f.read()
    assert "import paho.mqtt.client as mqtt" in sensor
    files = {
        "paho_sensor_on_tern.py": sensor.replace("import paho.mqtt.client as mqtt", "import tern.paho.mqtt.client as mqtt"),
        "paho_program.py": PAHO_PROGRAM,
        "tern_program.py": TERN_PROGRAM,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    for name in ("amqtt_client.py", "amqtt_broker.py"):
        shutil.copy(os.path.join(EXAMPLES, name), tmp_path / name)
    env = dict(os.environ, PYTHONPATH=PACKAGE)  # the package found as installed: its own code is not checked
    env.pop("MYPYPATH", None)
    p = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                        "--no-error-summary", "--hide-error-context", *sorted(os.listdir(tmp_path))],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
