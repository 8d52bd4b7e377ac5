"""tern.amqtt.mqtt.constants: amqtt's QoS levels."""
from typing import Final

QOS_0: Final = 0x00
QOS_1: Final = 0x01
QOS_2: Final = 0x02
