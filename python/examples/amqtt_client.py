"""amqtt's own client examples (its docs, "MQTTClient API": the Subscriber's
uptime_coro and the Publisher's test_coro and test_coro2) run on tern: only
the imports changed (`amqtt.` -> `tern.amqtt.`). What else differs from the
docs: the broker is a URI given on the command line instead of
test.mosquitto.org, the subscriber listens to the publishers' topic a/b for
the six messages they send instead of 99 $SYS messages, and __main__ runs the
subscriber beside the publishers. test_amqtt_client.py runs it against ternd.

    python3 amqtt_client.py mqtt://127.0.0.1:1883/
"""
import logging
import asyncio
import sys

from tern.amqtt.client import MQTTClient, ClientException, ConnectException
from tern.amqtt.mqtt.constants import QOS_0, QOS_1, QOS_2

BROKER = sys.argv[1] if len(sys.argv) > 1 else 'mqtt://test.mosquitto.org/'

logger = logging.getLogger(__name__)


async def uptime_coro(subscribed):
    C = MQTTClient()
    await C.connect(BROKER)
    # Subscribe to 'a/b' with QOS=2
    await C.subscribe([
            ('a/b', QOS_2),
         ])
    subscribed.set()
    try:
        for i in range(1, 7):
            message = await C.deliver_message()
            packet = message.publish_packet
            print("%d:  %s => %s" % (i, packet.variable_header.topic_name, str(packet.payload.data)))
        await C.unsubscribe(['a/b'])
        await C.disconnect()
    except ClientException as ce:
        logger.error("Client exception: %s" % ce)


async def test_coro():
    C = MQTTClient()
    await C.connect(BROKER)
    tasks = [
        asyncio.ensure_future(C.publish('a/b', b'TEST MESSAGE WITH QOS_0')),
        asyncio.ensure_future(C.publish('a/b', b'TEST MESSAGE WITH QOS_1', qos=QOS_1)),
        asyncio.ensure_future(C.publish('a/b', b'TEST MESSAGE WITH QOS_2', qos=QOS_2)),
    ]
    await asyncio.wait(tasks)
    logger.info("messages published")
    await C.disconnect()


async def test_coro2():
    try:
        C = MQTTClient()
        ret = await C.connect(BROKER)
        message = await C.publish('a/b', b'TEST MESSAGE WITH QOS_0', qos=QOS_0)
        message = await C.publish('a/b', b'TEST MESSAGE WITH QOS_1', qos=QOS_1)
        message = await C.publish('a/b', b'TEST MESSAGE WITH QOS_2', qos=QOS_2)
        #print(message)
        logger.info("messages published")
        await C.disconnect()
    except ConnectException as ce:
        logger.error("Connection failed: %s" % ce)
        asyncio.get_event_loop().stop()


async def main():
    subscribed = asyncio.Event()
    subscriber = asyncio.ensure_future(uptime_coro(subscribed))
    await subscribed.wait()
    await test_coro()
    await test_coro2()
    await subscriber


if __name__ == '__main__':
    formatter = "[%(asctime)s] %(name)s {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"
    logging.basicConfig(level=logging.DEBUG, format=formatter)
    asyncio.run(main())
