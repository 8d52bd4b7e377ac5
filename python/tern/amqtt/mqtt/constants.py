"""amqtt.mqtt.constants: the QoS levels."""
QOS_0 = 0x00
QOS_1 = 0x01
QOS_2 = 0x02
