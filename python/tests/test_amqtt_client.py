"""tern.amqtt.client.MQTTClient (amqtt's API) against ternd and mosquitto:
QoS 0/1/2 through deliver_message and its publish_packet, pipelined
publishes, the config keys, refused and unreachable brokers
(ConnectException), deliver_message's timeout, wills, reconnect with
resubscription, retained, ping, ws:// and wss:// with cafile, and amqtt's own
example (python/examples/amqtt_client.py)."""
import asyncio
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import free_port
from tern.amqtt.client import ClientException, ConnectException, MQTTClient
from tern.amqtt.errors import ClientError, ConnectError
from tern.amqtt.mqtt.constants import QOS_0, QOS_1, QOS_2
from tern.amqtt.session import IncomingApplicationMessage, OutgoingApplicationMessage
from test_aio import run
from test_paho_client import closed_mosquitto  # noqa: F401 (a fixture)
from test_tls import tls_broker  # noqa: F401 (a fixture)
from test_ws import ws_ternd  # noqa: F401 (a fixture)

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "amqtt_client.py")


def uri(broker):
    return "mqtt://127.0.0.1:%d/" % broker.port


def test_amqtt_names():
    assert ClientException is ClientError and ConnectException is ConnectError
    assert issubclass(ConnectException, ClientException)
    assert (QOS_0, QOS_1, QOS_2) == (0, 1, 2)
    from tern.amqtt.errors import AMQTTException, MQTTException  # noqa: F401 (amqtt 0.10's names)


def test_round_trip_all_qos(broker, topic):
    async def main():
        sub = MQTTClient(client_id="amqtt-sub")
        assert await sub.connect(uri(broker)) == 0
        assert await sub.subscribe([(topic + "/#", QOS_2), (topic, QOS_1)]) == [2, 1]
        pub = MQTTClient()
        assert pub.client_id.startswith("amqtt/")
        await pub.connect(uri(broker))
        for qos in (QOS_0, QOS_1, QOS_2):
            sent = await pub.publish(topic + "/q", b"qos %d" % qos, qos=qos)
            assert isinstance(sent, OutgoingApplicationMessage)
            assert (sent.topic, sent.qos, sent.data) == (topic + "/q", qos, b"qos %d" % qos)
            assert sent.publish_packet.variable_header.topic_name == topic + "/q"
        for qos in (QOS_0, QOS_1, QOS_2):
            m = await sub.deliver_message(timeout=5)
            assert isinstance(m, IncomingApplicationMessage)
            packet = m.publish_packet
            assert packet.variable_header.topic_name == topic + "/q" == m.topic
            assert packet.payload.data == bytearray(b"qos %d" % qos) == m.data
            assert str(packet.payload.data) == "bytearray(b'qos %d')" % qos  # as amqtt reads it off the wire
            assert m.qos == packet.qos == qos and not m.retain
            assert (packet.packet_id is None) == (qos == 0)
        await sub.unsubscribe([topic + "/#", topic])
        await pub.publish(topic + "/q", b"after", qos=QOS_1)
        with pytest.raises(asyncio.TimeoutError):
            await sub.deliver_message(timeout=0.3)
        await sub.ping()
        await pub.disconnect()
        await sub.disconnect()
    run(main())


def test_pipelined_qos1(broker, topic):
    n = 500

    async def main():
        sub = MQTTClient(client_id="amqtt-pipe-sub")
        await sub.connect(uri(broker))
        await sub.subscribe([(topic, QOS_1)])
        pub = MQTTClient(client_id="amqtt-pipe-pub")
        await pub.connect(uri(broker))
        sent = await asyncio.gather(*(pub.publish(topic, b"%d" % i, qos=QOS_1) for i in range(n)))
        assert [int(s.data) for s in sent] == list(range(n))
        got = [int((await sub.deliver_message(timeout=5)).data) for _ in range(n)]
        assert got == list(range(n))
        await pub.disconnect()
        await sub.disconnect()
    run(main(), 60)


def test_config_defaults_and_topics(broker, topic):
    async def main():
        sub = MQTTClient(config={"auto_reconnect": False})
        await sub.connect(uri(broker))
        await sub.subscribe([(topic + "/#", QOS_2)])
        pub = MQTTClient(config={"default_qos": QOS_1, "keep_alive": 30, "ping_delay": 5,
                                 "topics": {topic + "/two": {"qos": QOS_2, "retain": True}}})
        await pub.connect(uri(broker))
        assert (await pub.publish(topic + "/one", b"1")).qos == QOS_1
        assert (await pub.publish(topic + "/two", b"2")).qos == QOS_2
        assert (await pub.publish(topic + "/zero", b"0", qos=QOS_0)).qos == QOS_0
        got = {}
        for _ in range(3):
            m = await sub.deliver_message(timeout=5)
            got[m.topic] = (m.qos, m.retain)
        assert got == {topic + "/one": (1, False), topic + "/two": (2, False), topic + "/zero": (0, False)}
        await pub.publish(topic + "/two", b"", qos=QOS_1, retain=True)  # clear the retained one
        await pub.disconnect()
        await sub.disconnect()
    run(main())


def test_retained(broker, topic):
    async def main():
        pub = MQTTClient()
        await pub.connect(uri(broker))
        await pub.publish(topic, b"kept", qos=QOS_1, retain=True)
        await pub.disconnect()
        sub = MQTTClient()
        await sub.connect(uri(broker))
        await sub.subscribe([(topic, QOS_1)])
        m = await sub.deliver_message(timeout=5)
        assert (m.data, m.retain, m.publish_packet.retain_flag) == (b"kept", True, True)
        await sub.publish(topic, b"", qos=QOS_1, retain=True)
        await sub.disconnect()
    run(main())


def test_refused_connect_raises_connect_exception(closed_mosquitto):  # noqa: F811
    async def main():
        c = MQTTClient(config={"auto_reconnect": False})
        with pytest.raises(ConnectException) as e:
            await c.connect("mqtt://127.0.0.1:%d" % closed_mosquitto)
        assert e.value.return_code == 5  # not authorised
        # auto_reconnect (amqtt's default): reconnect()'s attempts first, then the exception.
        c = MQTTClient(config={"reconnect_max_interval": 0.1, "reconnect_retries": 1})
        with pytest.raises(ConnectException, match="Too many failed attempts") as e:
            await c.connect("mqtt://127.0.0.1:%d" % closed_mosquitto)
        assert e.value.__cause__.return_code == 5
    run(main())


def test_unreachable_raises_connect_exception():
    async def main():
        c = MQTTClient(config={"auto_reconnect": False})
        with pytest.raises(ConnectException) as e:
            await c.connect("mqtt://127.0.0.1:%d" % free_port())
        assert e.value.return_code is None
        assert isinstance(e.value.__cause__, ConnectionRefusedError)
    run(main())


def test_deliver_message_timeout(ternd, topic):
    async def main():
        c = MQTTClient()
        await c.connect(uri(ternd))
        await c.subscribe([(topic, QOS_1)])
        with pytest.raises(asyncio.TimeoutError):
            await c.deliver_message(timeout=0.2)
        with pytest.raises(asyncio.TimeoutError):
            await c.deliver_message(timeout_duration=0.2)  # amqtt 0.11's name
        # A message that came meanwhile is delivered by the next call.
        await c.publish(topic, b"late", qos=QOS_1)
        assert (await c.deliver_message(timeout=5)).data == b"late"
        await c.disconnect()
    run(main())


def test_will_on_abrupt_loss(broker, topic):
    dying = textwrap.dedent("""
        import asyncio, os, sys
        from tern.amqtt.client import MQTTClient
        async def main():
            c = MQTTClient(client_id="amqtt-dying", config={
                "will": {"topic": sys.argv[2], "message": "client ABC has disconnected", "qos": 1,
                         "retain": False}})
            await c.connect(sys.argv[1])
            print("connected", flush=True)
            os._exit(0)  # no DISCONNECT
        asyncio.run(main())
        """)

    async def main():
        sub = MQTTClient()
        await sub.connect(uri(broker))
        await sub.subscribe([(topic + "/will", QOS_1)])
        p = await asyncio.create_subprocess_exec(sys.executable, "-c", dying, uri(broker), topic + "/will",
                                                 stdout=asyncio.subprocess.PIPE)
        out, _ = await p.communicate()
        assert out == b"connected\n"
        m = await sub.deliver_message(timeout=10)
        assert (m.topic, m.data, m.qos) == (topic + "/will", b"client ABC has disconnected", 1)
        await sub.disconnect()
    run(main())


def test_auto_reconnect_resubscribes(broker, topic):
    async def main():
        config = {"auto_reconnect": True, "reconnect_max_interval": 0.2, "reconnect_retries": -1}
        c = MQTTClient(client_id="amqtt-resub-" + broker.name, config=config)
        await c.connect(uri(broker))
        await c.subscribe([(topic, QOS_1)])
        waiting = asyncio.ensure_future(c.deliver_message(timeout=20))  # waits across the reconnect
        await asyncio.get_running_loop().run_in_executor(None, broker.restart)
        await asyncio.wait_for(c._connected_state.wait(), 15)
        await asyncio.sleep(0.3)  # the SUBSCRIBE sent again
        pub = MQTTClient(config=config)
        await pub.connect(uri(broker))
        await pub.publish(topic, b"after restart", qos=QOS_1)
        assert (await waiting).data == b"after restart"
        # Publishing while the broker is away waits for the reconnection (mqtt_connected).
        await asyncio.get_running_loop().run_in_executor(None, broker.stop)
        await asyncio.sleep(0.3)
        flow = asyncio.ensure_future(pub.publish(topic, b"waited", qos=QOS_1))
        await asyncio.sleep(0.3)
        assert not flow.done()
        await asyncio.get_running_loop().run_in_executor(None, broker.start)
        await asyncio.wait_for(flow, 15)
        # (c may have subscribed again after "waited" went out: it is not awaited here.)
        await asyncio.wait_for(c._connected_state.wait(), 15)
        await asyncio.sleep(0.3)
        await pub.publish(topic, b"again", qos=QOS_1)
        while (await c.deliver_message(timeout=10)).data != b"again":
            pass
        await pub.disconnect()
        await c.disconnect()
    run(main(), 60)


def test_reconnect_by_hand(broker, topic):
    async def main():
        c = MQTTClient(config={"auto_reconnect": False})
        await c.connect(uri(broker))
        assert await c.reconnect() == 0  # connected already
        await asyncio.get_running_loop().run_in_executor(None, broker.restart)
        await asyncio.sleep(0.5)
        with pytest.raises(ClientException, match="Will not reconnect"):
            await c.publish(topic, b"x", qos=QOS_1)
        assert await c.reconnect(cleansession=True) == 0
        await c.subscribe([(topic, QOS_1)])
        await c.publish(topic, b"again", qos=QOS_1)
        assert (await c.deliver_message(timeout=5)).data == b"again"
        await c.disconnect()
    run(main(), 40)


def test_lost_connection_ends_deliver_message(broker, topic):
    async def main():
        c = MQTTClient(config={"auto_reconnect": False})
        await c.connect(uri(broker))
        await c.subscribe([(topic, QOS_1)])
        waiting = asyncio.ensure_future(c.deliver_message())
        await asyncio.sleep(0.1)
        await asyncio.get_running_loop().run_in_executor(None, broker.restart)
        with pytest.raises(asyncio.CancelledError):  # as amqtt: its pending tasks are cancelled
            await asyncio.wait_for(waiting, 10)
    run(main(), 40)


def test_ws_and_wss(ws_ternd, topic):  # noqa: F811
    ws, wss, d = ws_ternd

    async def main():
        c = MQTTClient()
        await c.connect("ws://127.0.0.1:%d/mqtt" % ws, additional_headers={"X-Tern-Test": "1"})
        await c.subscribe([(topic, QOS_1)])
        await c.publish(topic, b"over ws", qos=QOS_1)
        assert (await c.deliver_message(timeout=5)).data == b"over ws"
        await c.disconnect()
        s = MQTTClient(config={"auto_reconnect": False})
        await s.connect("wss://127.0.0.1:%d/mqtt" % wss, cafile=str(d / "ca.pem"))
        await s.subscribe([(topic, QOS_2)])
        await s.publish(topic, b"over wss", qos=QOS_2)
        assert (await s.deliver_message(timeout=5)).data == b"over wss"
        await s.disconnect()
        # cadata, and the broker's settings from config["broker"].
        b = MQTTClient(config={"broker": {"uri": "wss://localhost:%d/mqtt" % wss,
                                          "cadata": (d / "ca.pem").read_text()}})
        assert await b.connect() == 0
        await b.disconnect()
        # No CA that knows the broker's certificate: refused.
        u = MQTTClient(config={"auto_reconnect": False})
        with pytest.raises(ConnectException):
            await u.connect("wss://127.0.0.1:%d/mqtt" % wss)
    run(main())


def test_mqtts_with_cafile(tls_broker, topic):  # noqa: F811
    port, d = tls_broker

    async def main():
        c = MQTTClient(config={"auto_reconnect": False})
        assert await c.connect("mqtts://127.0.0.1:%d/" % port, cafile=str(d / "ca.pem")) == 0
        await c.subscribe([(topic, QOS_1)])
        await c.publish(topic, b"over tls", qos=QOS_1)
        assert (await c.deliver_message(timeout=5)).data == b"over tls"
        await c.disconnect()
        c = MQTTClient(config={"auto_reconnect": False, "check_hostname": False})
        with pytest.raises(ConnectException):
            await c.connect("mqtts://127.0.0.1:%d/" % port, cafile=str(d / "other.pem"))
    run(main())


def test_bad_input(ternd, topic):
    with pytest.raises(TypeError, match="config"):
        MQTTClient(config=[("keep_alive", 5)])
    with pytest.raises(TypeError, match="client_id"):
        MQTTClient(client_id=5)

    async def main():
        c = MQTTClient(config={"auto_reconnect": False})
        with pytest.raises(ClientException, match="incorrect scheme"):
            await c.connect("http://127.0.0.1:%d" % ternd.port)
        await c.connect(uri(ternd))
        with pytest.raises(ClientException, match="QOS"):
            await c.publish(topic, b"x", qos=3)
        with pytest.raises(TypeError, match="message"):
            await c.publish(topic, "not bytes")
        with pytest.raises(TypeError, match="topic"):
            await c.publish(5, b"x")
        with pytest.raises(TypeError, match="topics"):
            await c.subscribe("a/b")
        await c.disconnect()
    run(main())


def test_amqtt_example_runs_unchanged_but_for_imports(ternd):
    with open(EXAMPLE) as f:
        source = f.read()
    assert "from tern.amqtt.client import" in source and "import amqtt" not in source
    p = subprocess.run([sys.executable, EXAMPLE, uri(ternd)], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    lines = p.stdout.decode().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["1", "2", "3", "4", "5", "6"]
    assert sorted(line.split(":", 1)[1] for line in lines) == sorted(
        "  a/b => bytearray(b'TEST MESSAGE WITH QOS_%d')" % q for q in (0, 1, 2, 0, 1, 2))
    assert b"messages published" in p.stderr
