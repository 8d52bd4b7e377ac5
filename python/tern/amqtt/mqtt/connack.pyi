"""tern.amqtt.mqtt.connack: amqtt's CONNACK return codes (MQTT 3.1.1)."""
from typing import Final

CONNECTION_ACCEPTED: Final = 0x00
UNACCEPTABLE_PROTOCOL_VERSION: Final = 0x01
IDENTIFIER_REJECTED: Final = 0x02
SERVER_UNAVAILABLE: Final = 0x03
BAD_USERNAME_PASSWORD: Final = 0x04
NOT_AUTHORIZED: Final = 0x05
