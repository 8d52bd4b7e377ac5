"""tern.amqtt.client: amqtt's MQTTClient (asyncio) on tern.AsyncClient (see client.py).

    c = MQTTClient(config={"keep_alive": 30})
    await c.connect("mqtt://127.0.0.1:1883/")
    await c.subscribe([("a/#", QOS_1)])
    message = await c.deliver_message(timeout=5)
    print(message.publish_packet.variable_header.topic_name, message.publish_packet.payload.data)
"""
import asyncio
import logging
import os
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from .errors import ClientError as ClientError
from .errors import ClientException as ClientException
from .errors import ConnectError as ConnectError
from .errors import ConnectException as ConnectException
from .session import IncomingApplicationMessage, OutgoingApplicationMessage, Session

__all__ = ["MQTTClient", "ClientException", "ConnectException", "ClientError", "ConnectError"]

# The WebSocket upgrade's extra headers (ws://, wss://).
_Headers = Mapping[str, str] | Iterable[tuple[str, str]]
_F = TypeVar("_F", bound=Callable[..., Coroutine[Any, Any, Any]])

base_logger: logging.Logger

def gen_client_id() -> str:
    """A random client id: "amqtt/" and 16 characters."""
def mqtt_connected(func: _F) -> _F:
    """Waits until the client is connected before running `func`; ClientError when it will not connect again."""

class MQTTClient:
    """amqtt's MQTT client (MQTT 3.1.1). config: amqtt's keys (keep_alive, ping_delay, default_qos,
    default_retain, topics, auto_reconnect, reconnect_max_interval, reconnect_retries, cleansession,
    connect_timeout, will, broker, certfile, keyfile, check_hostname); `loop` is accepted, not used."""
    logger: logging.Logger
    config: dict[str, Any]
    client_id: str
    session: Session | None
    additional_headers: _Headers
    client_tasks: deque[asyncio.Future[Any]]

    def __init__(self, client_id: str | None = None, config: dict[str, Any] | None = None,
                 loop: asyncio.AbstractEventLoop | None = None) -> None: ...
    @property
    def extra_headers(self) -> _Headers:
        """amqtt 0.10's name of additional_headers."""
    @extra_headers.setter
    def extra_headers(self, value: _Headers) -> None: ...
    async def connect(self, uri: str | None = None, cleansession: bool | None = None,
                      cafile: str | os.PathLike[str] | None = None, capath: str | os.PathLike[str] | None = None,
                      cadata: str | bytes | None = None, additional_headers: _Headers | None = None,
                      extra_headers: _Headers | None = None) -> int:
        """uri: mqtt://, mqtts://, ws:// or wss:// (default: config["broker"]["uri"]). The CONNACK's return
        code (0); ConnectError (ConnectException) when refused (its return_code) or unreachable."""
    async def disconnect(self) -> None: ...
    async def cancel_tasks(self) -> None:
        """Cancels the pending deliver_message() calls."""
    async def reconnect(self, cleansession: bool | None = None) -> int:
        """Connects again with the last connect()'s settings (reconnect_retries more times); the CONNACK's
        return code; ConnectError after the last failed attempt."""
    async def handle_connection_close(self) -> None: ...
    async def ping(self) -> None:
        """A PINGREQ, waiting for its PINGRESP."""
    async def publish(self, topic: str, message: bytes | bytearray | memoryview, qos: int | None = None,
                      retain: bool | None = None, ack_timeout: float | None = None) -> OutgoingApplicationMessage:
        """Waits for the flow of its QoS (default: config's default_qos or topics), at most ack_timeout seconds
        (asyncio.TimeoutError)."""
    async def subscribe(self, topics: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> list[int]:
        """[(filter, qos), ...]; the SUBACK's return codes, one per filter (the granted QoS, or 0x80)."""
    async def unsubscribe(self, topics: list[str] | tuple[str, ...]) -> None: ...
    async def deliver_message(self, timeout: float | None = None, *,
                              timeout_duration: float | None = None) -> IncomingApplicationMessage:
        """The next received message, waiting at most `timeout` seconds (amqtt 0.11: timeout_duration):
        asyncio.TimeoutError then."""
