"""tern.amqtt.mqtt.publish: the PUBLISH packet a message carries
(message.publish_packet.variable_header.topic_name, .payload.data)."""
from typing import ClassVar, Self

from .packet import MQTTFixedHeader

class PublishVariableHeader:
    topic_name: str
    packet_id: int | None
    def __init__(self, topic_name: str, packet_id: int | None = None) -> None: ...

class PublishPayload:
    data: bytes | bytearray | None  # a delivered message's: a bytearray, as amqtt reads it off the wire
    def __init__(self, data: bytes | bytearray | None = None) -> None: ...

class PublishPacket:
    DUP_FLAG: ClassVar[int]
    RETAIN_FLAG: ClassVar[int]
    QOS_FLAG: ClassVar[int]
    fixed_header: MQTTFixedHeader
    # Set on every packet a message carries (build()); amqtt 0.11 types them `| None`.
    variable_header: PublishVariableHeader
    payload: PublishPayload
    def __init__(self, fixed: MQTTFixedHeader | None = None, variable_header: PublishVariableHeader | None = None,
                 payload: PublishPayload | None = None) -> None: ...
    @property
    def dup_flag(self) -> bool: ...
    @dup_flag.setter
    def dup_flag(self, value: bool) -> None: ...
    @property
    def retain_flag(self) -> bool: ...
    @retain_flag.setter
    def retain_flag(self, value: bool) -> None: ...
    @property
    def qos(self) -> int: ...
    @qos.setter
    def qos(self, value: int) -> None: ...
    @property
    def packet_id(self) -> int | None: ...
    @property
    def topic_name(self) -> str: ...
    @property
    def data(self) -> bytes | bytearray | None: ...
    @classmethod
    def build(cls, topic_name: str, message: bytes | bytearray, packet_id: int | None, dup_flag: bool, qos: int,
              retain: bool) -> Self: ...
