"""tern.AsyncClient against ternd and mosquitto: QoS 0/1/2 round trips,
pipelined publishes, MQTT 5 properties, retained, wills, reconnect with
resubscription, refused and unreachable brokers, ws:// and wss://, bad
arguments."""
import asyncio
import gc

import pytest

import tern
from tern.aio import AsyncClient, ConnAck, ConnectError, Message, MQTTError, MQTTv311, MQTTv5, Will
from test_paho_client import closed_mosquitto  # noqa: F401 (a fixture)
from test_tls import tls_broker  # noqa: F401 (a fixture)
from test_ws import ws_ternd  # noqa: F401 (a fixture)


def run(coro, timeout=30):
    """Runs `coro` in a new event loop, for at most `timeout` seconds."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def uri(broker):
    return "mqtt://127.0.0.1:%d" % broker.port


async def until(pred, timeout=15.0):
    end = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def test_exported_by_the_package():
    assert tern.AsyncClient is AsyncClient


@pytest.mark.parametrize("protocol", [MQTTv311, MQTTv5])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_round_trip(broker, topic, qos, protocol):
    async def main():
        async with AsyncClient(uri(broker), client_id="rt-%d" % qos, protocol=protocol) as c:
            assert c.connected
            assert await c.subscribe([(topic, 2)]) == [2]
            assert await c.publish(topic, b"payload %d" % qos, qos=qos) in (0, 16)
            async for m in c.messages():
                assert isinstance(m, Message)
                assert (m.topic, m.payload, m.qos, m.retain) == (topic, b"payload %d" % qos, qos, False)
                assert m.properties == {}
                break
            assert await c.unsubscribe(topic) in ([0], [17], [])
        assert not c.connected
    run(main())


def test_ping(broker):
    async def main():
        c = AsyncClient(uri(broker), client_id="ping")
        with pytest.raises(MQTTError, match="not connected"):
            await c.ping()
        async with c:
            for _ in range(3):
                await c.ping(timeout=5)
    run(main())


def test_pipelined_qos1(broker, topic):
    n = 2000

    async def main():
        async with AsyncClient(uri(broker), client_id="pipe-sub") as sub, \
                AsyncClient(uri(broker), client_id="pipe-pub") as pub:
            await sub.subscribe(topic, qos=1)
            codes = await asyncio.gather(*(pub.publish(topic, b"%d" % i, qos=1) for i in range(n)))
            assert set(codes) == {0}
            got = []
            async for m in sub.messages():
                got.append(int(m.payload))
                if len(got) == n:
                    break
            assert got == list(range(n))  # in order, exactly once
    run(main(), 60)


def test_qos2_exactly_once(broker, topic):
    async def main():
        async with AsyncClient(uri(broker), client_id="q2") as c:
            await c.subscribe(topic, qos=2)
            await asyncio.gather(*(c.publish(topic, b"%d" % i, qos=2) for i in range(200)))
            got = [int((await c.receive(5)).payload) for _ in range(200)]
            assert got == list(range(200))
            with pytest.raises(asyncio.TimeoutError):
                await c.receive(0.3)
    run(main())


def test_mqtt5_properties(broker, topic):
    async def main():
        async with AsyncClient(uri(broker), client_id="props", properties={"receive_maximum": 100}) as c:
            assert isinstance(c.connack, ConnAck) and c.connack.reason_code == 0
            assert isinstance(c.connack.properties, dict)
            await c.subscribe(topic, qos=1, properties={"subscription_identifier": 7})
            await c.publish(topic, "text", qos=1, properties={
                "content_type": "text/plain", "response_topic": topic + "/reply", "correlation_data": b"\x01\x02",
                "message_expiry_interval": 60, "user_property": [("site", "north"), ("k", "v")],
                "payload_format_indicator": 1})
            m = await c.receive(5)
            p = m.properties
            assert m.payload == b"text"
            assert p["content_type"] == "text/plain"
            assert p["response_topic"] == topic + "/reply"
            assert p["correlation_data"] == b"\x01\x02"
            assert 0 < p["message_expiry_interval"] <= 60
            assert p["user_property"] == [("site", "north"), ("k", "v")]
            assert p["payload_format_indicator"] == 1
            assert p["subscription_identifier"] == [7]
            # no_local: our own messages do not come back.
            await c.subscribe(topic + "/nl", qos=1, no_local=True)
            await c.publish(topic + "/nl", b"mine", qos=1)
            with pytest.raises(asyncio.TimeoutError):
                await c.receive(0.3)
            await c.disconnect(0, {"user_property": {"bye": "now"}})
    run(main())


def test_no_matching_subscribers_reason_code(broker, topic):
    async def main():
        async with AsyncClient(uri(broker), client_id="nms") as c:
            code = await c.publish(topic + "/nobody", b"x", qos=1)
            assert code in (0, 16)  # 16 (0x10): the broker says so; 0: it need not
    run(main())


def test_retained(broker, topic):
    async def main():
        async with AsyncClient(uri(broker), client_id="ret-pub") as pub:
            await pub.publish(topic, b"kept", qos=1, retain=True)
        async with AsyncClient(uri(broker), client_id="ret-sub") as sub:
            await sub.subscribe(topic, qos=1)
            m = await sub.receive(5)
            assert (m.payload, m.retain) == (b"kept", True)
            await sub.publish(topic, b"", qos=1, retain=True)  # clear it
    run(main())


def test_will_on_abrupt_loss(broker, topic):
    async def main():
        async with AsyncClient(uri(broker), client_id="will-sub") as sub:
            await sub.subscribe(topic + "/will", qos=1)
            dying = AsyncClient(uri(broker), client_id="will-dying",
                                will=Will(topic + "/will", b"gone", qos=1, properties={"content_type": "x"}))
            await dying.connect()
            del dying  # collected: closed without DISCONNECT, so the broker sends the will
            gc.collect()
            m = await sub.receive(10)
            assert (m.topic, m.payload) == (topic + "/will", b"gone")
    run(main())


def test_reconnect_resubscribes(broker, topic):
    async def main():
        c = AsyncClient(uri(broker), client_id="resub-" + broker.name, reconnect_min_delay=0.1,
                        reconnect_max_delay=0.5)
        await c.connect()
        await c.subscribe(topic, qos=1)
        lost = asyncio.ensure_future(c.wait_disconnected())
        await asyncio.get_running_loop().run_in_executor(None, broker.restart)
        assert isinstance(await lost, MQTTError)
        await until(lambda: c.connected)
        await asyncio.sleep(0.3)  # the SUBSCRIBE sent again on reconnect
        async with AsyncClient(uri(broker), client_id="resub-pub") as pub:
            await pub.publish(topic, b"after", qos=1)
        m = await c.receive(10)
        assert m.payload == b"after"
        await c.disconnect()
    run(main(), 40)


def test_publish_while_reconnecting_is_queued(broker, topic):
    async def main():
        async with AsyncClient(uri(broker), client_id="q-sub", reconnect_min_delay=0.1,
                               reconnect_max_delay=0.5) as c:
            await c.subscribe(topic, qos=1)
            await asyncio.get_running_loop().run_in_executor(None, broker.stop)
            await until(lambda: not c.connected)
            flow = asyncio.ensure_future(c.publish(topic, b"queued", qos=1))
            await asyncio.sleep(0.2)
            assert not flow.done()
            await asyncio.get_running_loop().run_in_executor(None, broker.start)
            await flow
            assert (await c.receive(10)).payload == b"queued"
    run(main(), 40)


def test_lost_without_reconnect_ends_messages(broker, topic):
    async def main():
        c = AsyncClient(uri(broker), client_id="noreco", reconnect=False)
        await c.connect()
        await c.subscribe(topic)
        await asyncio.get_running_loop().run_in_executor(None, broker.restart)
        with pytest.raises(MQTTError):
            async for _ in c.messages():
                pass
        assert not c.connected
        await c.connect()  # again, by hand
        assert c.connected
        await c.disconnect()
    run(main(), 40)


@pytest.mark.parametrize("protocol,code", [(MQTTv311, 5), (MQTTv5, 135)])
def test_refused_connect(closed_mosquitto, protocol, code):  # noqa: F811
    async def main():
        c = AsyncClient("mqtt://127.0.0.1:%d" % closed_mosquitto, client_id="refused", protocol=protocol)
        with pytest.raises(ConnectError) as e:
            await c.connect()
        assert e.value.reason_code == code
        assert not c.connected
    run(main())


def test_unreachable():
    from conftest import free_port

    async def main():
        c = AsyncClient("mqtt://127.0.0.1:%d" % free_port())
        with pytest.raises(ConnectError) as e:
            await c.connect()
        assert e.value.reason_code is None
        assert isinstance(e.value.__cause__, ConnectionRefusedError)
    run(main())


def test_credentials_in_uri(ternd, topic):
    async def main():
        async with AsyncClient("mqtt://user:p%%40ss@127.0.0.1:%d/" % ternd.port, client_id="cred") as c:
            await c.publish(topic, b"x", qos=1)
    run(main())


def test_ws(ws_ternd, topic):  # noqa: F811
    ws, _, _ = ws_ternd

    async def main():
        async with AsyncClient("ws://127.0.0.1:%d/mqtt" % ws, client_id="ws",
                               ws_headers={"X-Tern-Test": "1"}) as c:
            await c.subscribe(topic, qos=1)
            await c.publish(topic, b"over ws", qos=1)
            assert (await c.receive(5)).payload == b"over ws"
    run(main())


def test_wss_verified(ws_ternd, topic):  # noqa: F811
    _, wss, d = ws_ternd

    async def main():
        async with AsyncClient("wss://127.0.0.1:%d/mqtt" % wss, client_id="wss", ca_file=str(d / "ca.pem")) as c:
            await c.subscribe(topic, qos=1)
            await c.publish(topic, b"over wss", qos=2)
            assert (await c.receive(5)).payload == b"over wss"
        # The CA as data: PEM text, and DER bytes.
        import ssl
        pem = (d / "ca.pem").read_text()
        for ca in (pem, ssl.PEM_cert_to_DER_cert(pem)):
            async with AsyncClient("wss://localhost:%d/mqtt" % wss, ca_data=ca) as c:
                await c.publish(topic, b"x", qos=1)
        # Unknown CA: refused by us (the system's CAs do not know it).
        c = AsyncClient("wss://127.0.0.1:%d/mqtt" % wss)
        with pytest.raises(ConnectError) as e:
            await c.connect()
        assert e.value.reason_code is None
        async with AsyncClient("wss://127.0.0.1:%d/mqtt" % wss, tls_insecure=True) as c:
            await c.publish(topic, b"x", qos=1)
    run(main())


def test_mqtts(tls_broker, topic):  # noqa: F811
    port, d = tls_broker

    async def main():
        async with AsyncClient("mqtts://127.0.0.1:%d" % port, client_id="tls", ca_file=str(d / "ca.pem")) as c:
            await c.subscribe(topic, qos=1)
            await c.publish(topic, b"over tls", qos=1)
            assert (await c.receive(5)).payload == b"over tls"
        c = AsyncClient("mqtts://127.0.0.1:%d" % port, ca_file=str(d / "other.pem"))
        with pytest.raises(ConnectError, match="certificate verify failed"):
            await c.connect()
    run(main())


def test_many_messages_in_flight_both_ways(ternd, topic):
    async def main():
        async with AsyncClient(uri(ternd), client_id="both") as c:
            await c.subscribe(topic + "/#", qos=1)
            n = 500

            async def consume():
                seen = set()
                async for m in c.messages():
                    seen.add(m.payload)
                    if len(seen) == 2 * n:
                        return seen

            consumer = asyncio.ensure_future(consume())
            await asyncio.gather(*(c.publish("%s/%d" % (topic, i % 2), b"%d" % i, qos=1 + i % 2)
                                   for i in range(2 * n)))
            assert len(await consumer) == 2 * n
    run(main())


def test_cancelled_receive_loses_nothing(ternd, topic):
    async def main():
        async with AsyncClient(uri(ternd), client_id="cancel") as c:
            await c.subscribe(topic, qos=1)
            for i in range(50):
                waiter = asyncio.ensure_future(c.receive())
                await asyncio.sleep(0)
                await c.publish(topic, b"%d" % i, qos=1)
                waiter.cancel()
                try:
                    m = await waiter
                    assert m.payload == b"%d" % i
                except asyncio.CancelledError:
                    assert (await c.receive(5)).payload == b"%d" % i
    run(main())


def test_bad_arguments(ternd):
    with pytest.raises(TypeError, match="client_id"):
        AsyncClient(uri(ternd), client_id=5)
    with pytest.raises(ValueError, match="uri"):
        AsyncClient("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="keep_alive"):
        AsyncClient(uri(ternd), keep_alive=70000)
    with pytest.raises(ValueError, match="properties"):
        AsyncClient(uri(ternd), properties={"no_such_property": 1})
    with pytest.raises(TypeError, match="will"):
        AsyncClient(uri(ternd), will=5)
    with pytest.raises(TypeError, match="will.topic"):
        AsyncClient(uri(ternd), will=Will(5))
    with pytest.raises(TypeError, match="ca_data"):
        AsyncClient(uri(ternd), ca_data=5)

    async def main():
        c = AsyncClient(uri(ternd))
        with pytest.raises(MQTTError, match="not connected"):
            await c.publish("a", b"x", qos=1)  # before connect(): no loop would ever send it
        await c.connect()
        await c.disconnect()
        with pytest.raises(MQTTError, match="not connected"):
            await c.subscribe("a")
        async with AsyncClient(uri(ternd)) as c:
            with pytest.raises(TypeError, match="topic"):
                await c.publish(5, b"x")
            with pytest.raises(ValueError, match="topic"):
                await c.publish("a/#", b"x")
            with pytest.raises(TypeError, match="payload"):
                await c.publish("a", 1.5)
            with pytest.raises(ValueError, match="qos"):
                await c.publish("a", b"x", qos=3)
            with pytest.raises(TypeError, match="qos"):
                await c.publish("a", b"x", qos="1")
            with pytest.raises(ValueError, match="properties"):
                await c.publish("a", b"x", properties={"session_expiry_interval": 5})  # not for PUBLISH
            with pytest.raises(TypeError, match="message_expiry_interval|MessageExpiryInterval"):
                await c.publish("a", b"x", properties={"message_expiry_interval": "soon"})
            with pytest.raises(TypeError, match="topics"):
                await c.subscribe(5)
            with pytest.raises(ValueError, match="qos"):
                await c.subscribe([("a", 7)])
            with pytest.raises(MQTTError, match="already connected"):
                await c.connect()
    run(main())
