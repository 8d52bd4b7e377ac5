"""amqtt.mqtt for tern.amqtt: QoS constants (constants), CONNACK return codes
(connack), packet type codes and the fixed header (packet), and the PUBLISH
packet a delivered message carries (publish)."""
