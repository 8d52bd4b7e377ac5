"""An embedded broker written against amqtt's API (amqtt.broker.Broker, in the
shape of amqtt's documentation: a config dict, `await broker.start()`, serve
until Ctrl-C, `await broker.shutdown()`), running on tern with one change: the
import below was `from amqtt.broker import Broker`.

    MQTT_PORT=1883 python3 amqtt_broker.py         # Ctrl-C stops it

test_amqtt_broker.py runs it, connects a client, and stops it with SIGINT.
"""
import asyncio
import logging
import os
from asyncio import CancelledError

from tern.amqtt.broker import Broker

logger = logging.getLogger(__name__)

config = {
    "listeners": {
        "default": {
            "type": "tcp",
            "bind": "127.0.0.1:%s" % os.environ.get("MQTT_PORT", "1883"),
            "max-connections": 100,
        },
    },
    "sys_interval": 10,
    "auth": {
        "allow-anonymous": True,
        "plugins": ["auth_anonymous"],
    },
}


async def run_server():
    broker = Broker(config)
    try:
        await broker.start()
        logger.info("broker started")
        while True:
            await asyncio.sleep(1)
    except CancelledError:
        await broker.shutdown()
        logger.info("broker stopped")


if __name__ == "__main__":
    formatter = "[%(asctime)s] :: %(levelname)s :: %(name)s :: %(message)s"
    logging.basicConfig(level=logging.INFO, format=formatter)
    try:
        asyncio.run(run_server())
    except KeyboardInterrupt:
        print("Server exiting...")
