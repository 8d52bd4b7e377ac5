"""tern.paho.mqtt: paho-mqtt's modules (1.6 and 2.x APIs) on tern::Client.

A paho program runs unchanged but for `paho.mqtt` -> `tern.paho.mqtt` in its imports.
"""
__version__ = "2.1.0"


class MQTTException(Exception):
    pass
