"""tern.amqtt.session: what MQTTClient.publish() returns (OutgoingApplicationMessage), what
deliver_message() returns (IncomingApplicationMessage) and what connect() connects with (Session)."""
import os
from typing import ClassVar, Final

from .mqtt.publish import PublishPacket

OUTGOING: Final = 0
INCOMING: Final = 1

class ApplicationMessage:
    """A message of a publish flow; the acknowledgements stay in tern's C++ session (None here)."""
    packet_id: int | None
    topic: str
    qos: int
    data: bytes | bytearray | memoryview
    retain: bool
    publish_packet: PublishPacket | None
    puback_packet: None
    pubrec_packet: None
    pubrel_packet: None
    pubcomp_packet: None
    def __init__(self, packet_id: int | None, topic: str, qos: int, data: bytes | bytearray | memoryview,
                 retain: bool) -> None: ...
    def build_publish_packet(self, dup: bool = False) -> PublishPacket: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

class IncomingApplicationMessage(ApplicationMessage):
    """What deliver_message() returns."""
    direction: int
    data: bytearray                # as amqtt reads it off the wire
    publish_packet: PublishPacket  # set by deliver_message()

class OutgoingApplicationMessage(ApplicationMessage):
    """What publish() returns."""
    direction: int
    publish_packet: PublishPacket  # set by publish()

class Session:
    """What MQTTClient.connect() connects with (amqtt's Session without its state machine and queues)."""
    remote_address: str | None
    remote_port: int | None
    client_id: str | None
    clean_session: bool | None
    will_flag: bool
    will_message: bytes | None
    will_qos: int | None
    will_retain: bool | None
    will_topic: str | None
    keep_alive: int
    broker_uri: str | None
    username: str | None
    password: str | None
    cafile: str | os.PathLike[str] | None
    capath: str | os.PathLike[str] | None
    cadata: str | bytes | None
    def __init__(self) -> None: ...
