"""tern.amqtt.mqtt.packet: amqtt's packet type codes and fixed header."""
from typing import Final

RESERVED_0: Final = 0x00
CONNECT: Final = 0x01
CONNACK: Final = 0x02
PUBLISH: Final = 0x03
PUBACK: Final = 0x04
PUBREC: Final = 0x05
PUBREL: Final = 0x06
PUBCOMP: Final = 0x07
SUBSCRIBE: Final = 0x08
SUBACK: Final = 0x09
UNSUBSCRIBE: Final = 0x0A
UNSUBACK: Final = 0x0B
PINGREQ: Final = 0x0C
PINGRESP: Final = 0x0D
DISCONNECT: Final = 0x0E
RESERVED_15: Final = 0x0F

class MQTTFixedHeader:
    packet_type: int
    remaining_length: int
    flags: int
    def __init__(self, packet_type: int, flags: int = 0, length: int = 0) -> None: ...
