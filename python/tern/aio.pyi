from types import TracebackType
from typing import Any, AsyncIterator, Iterable, Mapping, NamedTuple, Sequence, Union

from tern.paho.mqtt.properties import Properties

MQTTv31: int
MQTTv311: int
MQTTv5: int

# MQTT 5 properties: the spec's names in snake case, e.g.
# {"message_expiry_interval": 60, "user_property": [("k", "v")], "correlation_data": b"id"}
PropertiesLike = Union[Mapping[str, Any], Properties, None]
Payload = Union[bytes, bytearray, memoryview, str]
TopicFilters = Union[str, Sequence[Union[str, tuple[str, int]]]]

class MQTTError(Exception):
    reason_code: int | None
    def __init__(self, message: str, reason_code: int | None = ...) -> None: ...

class ConnectError(MQTTError): ...

class ConnAck(NamedTuple):
    session_present: bool
    reason_code: int
    properties: dict[str, Any]

class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: PropertiesLike
    def __init__(self, topic: str, payload: Payload | None = ..., qos: int = ..., retain: bool = ...,
                 properties: PropertiesLike = ...) -> None: ...

class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: int
    def __init__(self, topic: str, payload: bytes = ..., qos: int = ..., retain: bool = ...,
                 properties: dict[str, Any] | None = ..., *, dup: bool = ..., mid: int = ...) -> None: ...
    @property
    def properties(self) -> dict[str, Any]: ...

class AsyncClient:
    def __init__(self, uri: str | None = ..., *, client_id: str = ..., protocol: int = ..., clean_start: bool = ...,
                 keep_alive: int = ..., username: str | None = ..., password: str | bytes | None = ...,
                 will: Will | None = ..., session_expiry: int | None = ..., properties: PropertiesLike = ...,
                 ca_file: str | None = ..., ca_path: str | None = ..., ca_data: str | bytes | None = ...,
                 cert_file: str | None = ..., key_file: str | None = ..., check_hostname: bool = ...,
                 tls_insecure: bool = ..., server_name: str | None = ...,
                 ws_headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = ...,
                 reconnect: bool = ..., reconnect_min_delay: float = ..., reconnect_max_delay: float = ...,
                 resubscribe: bool = ..., max_inflight: int = ..., max_queued: int = ...,
                 persistence_dir: str = ...) -> None: ...
    @property
    def connected(self) -> bool: ...
    @property
    def client_id(self) -> str: ...
    @property
    def connack(self) -> ConnAck | None: ...
    async def __aenter__(self) -> AsyncClient: ...
    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...
    async def connect(self, uri: str | None = ...) -> ConnAck: ...
    async def disconnect(self, reason_code: int = ..., properties: PropertiesLike = ...) -> None: ...
    async def wait_disconnected(self) -> MQTTError | None: ...
    async def publish(self, topic: str, payload: Payload | None = ..., qos: int = ..., retain: bool = ...,
                      properties: PropertiesLike = ...) -> int: ...
    async def subscribe(self, topics: TopicFilters, qos: int = ..., *, no_local: bool = ...,
                        retain_as_published: bool = ..., retain_handling: int = ...,
                        properties: PropertiesLike = ...) -> list[int]: ...
    async def unsubscribe(self, topics: str | Sequence[str], properties: PropertiesLike = ...) -> list[int]: ...
    async def ping(self, timeout: float | None = ...) -> None: ...
    def messages(self) -> AsyncIterator[Message]: ...
    async def receive(self, timeout: float | None = ...) -> Message: ...
