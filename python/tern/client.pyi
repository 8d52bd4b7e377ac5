"""tern.Client: tern's own threaded MQTT client, MQTT 5 first (see client.py)."""
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from tern.errors import ConnectError as ConnectError
from tern.errors import ConnectionLost as ConnectionLost
from tern.errors import PublishError as PublishError
from tern.errors import SubscribeError as SubscribeError

__all__ = ["Client", "Message", "PublishHandle", "ConnAck", "Will"]

QoS = Literal[0, 1, 2]
# MQTT 5 properties by the spec's names in snake_case: "payload_format_indicator",
# "message_expiry_interval", "content_type", "response_topic", "correlation_data",
# "subscription_identifier", "user_property" ([(name, value)] or a dict), ...
Properties = Mapping[str, Any]
Payload = bytes | bytearray | memoryview | str

class ConnAck(NamedTuple):
    """The broker's CONNACK: what connect() returns and on_connect receives."""
    session_present: bool
    reason_code: int
    properties: dict[str, Any]

class Will(NamedTuple):
    """The message the broker publishes when the connection ends without disconnect()."""
    topic: str
    payload: Payload = b""
    qos: QoS = 0
    retain: bool = False
    properties: Properties | None = None

class Message:
    """A received message."""
    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def qos(self) -> int: ...
    @property
    def retain(self) -> bool: ...
    @property
    def dup(self) -> bool: ...
    @property
    def mid(self) -> int: ...
    @property
    def properties(self) -> dict[str, Any]:
        """MQTT 5: {"content_type": "text/plain", "user_property": [("k", "v")], ...}; {} when none."""

class PublishHandle:
    """What publish() returns: the message's QoS flow."""
    @property
    def mid(self) -> int: ...
    def wait(self, timeout: float | None = None) -> bool:
        """True once the flow completed (QoS 1: PUBACK, 2: PUBCOMP), False on timeout; PublishError if it failed."""
    def is_published(self) -> bool: ...
    @property
    def reason_code(self) -> int | None: ...

class Client:
    """tern's threaded MQTT client.

        with tern.Client("mqtt://127.0.0.1:1883", client_id="app-1") as c:
            c.subscribe("sensors/#", qos=1)
            c.publish("sensors/t1", b"21.5", qos=1).wait(5)
            for m in c.messages(timeout=10):
                print(m.topic, m.payload)
    """
    on_connect: Callable[[Client, ConnAck], object] | None
    on_message: Callable[[Client, Message], object] | None
    on_publish: Callable[[Client, int, int], object] | None            # (client, mid, reason_code)
    on_subscribe: Callable[[Client, int, list[int]], object] | None    # (client, mid, codes)
    on_unsubscribe: Callable[[Client, int, list[int]], object] | None  # (client, mid, codes)
    on_disconnect: Callable[[Client, ConnectionLost | None], object] | None  # None: after disconnect()

    def __init__(
        self,
        uri: str = "mqtt://127.0.0.1:1883",
        *,
        client_id: str = "",
        protocol: Literal[3, 4, 5] = 5,
        clean_start: bool = True,
        session_expiry: int | None = None,
        keep_alive: int = 60,
        username: str | None = None,
        password: str | bytes | None = None,
        will: Will | None = None,
        properties: Properties | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        ca_path: str | os.PathLike[str] | None = None,
        ca_data: str | bytes | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        check_hostname: bool = True,
        tls_insecure: bool = False,
        server_name: str | None = None,
        ws_headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        persistence_dir: str | os.PathLike[str] | None = None,
        reconnect: bool = True,
        reconnect_min_delay: float = 0.5,
        reconnect_max_delay: float = 30.0,
        max_inflight: int = 0,
        max_queued: int = 0,
        queue_size: int = 10000,
        on_connect: Callable[[Client, ConnAck], object] | None = None,
        on_message: Callable[[Client, Message], object] | None = None,
        on_publish: Callable[[Client, int, int], object] | None = None,
        on_subscribe: Callable[[Client, int, list[int]], object] | None = None,
        on_unsubscribe: Callable[[Client, int, list[int]], object] | None = None,
        on_disconnect: Callable[[Client, ConnectionLost | None], object] | None = None,
    ) -> None:
        """uri: mqtt://, mqtts://, ws:// or wss://host[:port][/path]. protocol: 5 (MQTT 5.0), 4 (3.1.1), 3 (3.1).
        session_expiry: seconds the broker keeps the session (MQTT 5). TLS (mqtts://, wss://; the names of
        tern.AsyncClient's): ca_file, ca_path, ca_data (PEM text or DER bytes; default: the system's CAs),
        cert_file / key_file (a client certificate), check_hostname, tls_insecure (no verification: tests only),
        server_name. ws_headers: extra headers of the WebSocket upgrade. persistence_dir: this side of the
        session on disk (needs client_id). reconnect_min_delay / reconnect_max_delay: the backoff after a lost
        connection. max_inflight: QoS 1/2 publishes in flight at once (0: as the broker allows). max_queued:
        publishes held while disconnected (0: no limit). queue_size: received messages kept for messages()
        when on_message is not set (0: no limit; past it the oldest go)."""
    def connect(self) -> ConnAck:
        """Connects, waits for the CONNACK, starts the network thread; ConnectError when refused or unreachable."""
    def disconnect(self, reason_code: int = 0, properties: Properties | None = None,
                   timeout: float | None = 5.0) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Client: ...
    def __exit__(self, *exc: object) -> Literal[False]: ...
    @property
    def connected(self) -> bool: ...
    @property
    def client_id(self) -> str: ...
    @property
    def connack(self) -> ConnAck | None: ...
    @property
    def dropped(self) -> int: ...
    def publish(self, topic: str, payload: Payload | None = b"", qos: QoS = 0, retain: bool = False,
                properties: Properties | None = None) -> PublishHandle: ...
    def subscribe(self, topic: str | tuple[str, QoS] | list[str] | list[tuple[str, QoS]], qos: QoS = 0, *,
                  no_local: bool = False, retain_as_published: bool = False, retain_handling: Literal[0, 1, 2] = 0,
                  properties: Properties | None = None, timeout: float | None = 10.0) -> list[int]:
        """The SUBACK's codes, one per filter: the granted QoS, or >= 0x80 when refused."""
    def unsubscribe(self, topic: str | list[str], properties: Properties | None = None,
                    timeout: float | None = 10.0) -> list[int]: ...
    def ping(self, timeout: float | None = 10.0) -> None:
        """A PINGREQ, waiting for its PINGRESP."""
    def get_message(self, timeout: float | None = None) -> Message | None: ...
    def messages(self, timeout: float | None = None) -> Iterator[Message]: ...
