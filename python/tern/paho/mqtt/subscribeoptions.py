"""MQTT 5 subscription options, as paho.mqtt.subscribeoptions presents them."""
from . import MQTTException


class SubscribeOptions:
    """The options of one subscription: QoS, noLocal, retainAsPublished, retainHandling."""

    RETAIN_SEND_ON_SUBSCRIBE, RETAIN_SEND_IF_NEW_SUB, RETAIN_DO_NOT_SEND = range(0, 3)

    def __init__(self, qos=0, noLocal=False, retainAsPublished=False, retainHandling=RETAIN_SEND_ON_SUBSCRIBE):
        self.names = ["QoS", "noLocal", "retainAsPublished", "retainHandling"]
        self.Qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
        if self.retainHandling not in (0, 1, 2):
            raise AssertionError("Retain handling should be 0, 1 or 2")
        if self.QoS not in (0, 1, 2):
            raise AssertionError("QoS should be 0, 1 or 2")

    def __setattr__(self, name, value):
        if name == "Qos":
            name = "QoS"
        if name not in ("names", "QoS", "noLocal", "retainAsPublished", "retainHandling"):
            raise MQTTException(name + " Attribute name must be one of " + str(self.names))
        object.__setattr__(self, name, value)

    def pack(self):
        if self.retainHandling not in (0, 1, 2):
            raise AssertionError("Retain handling should be 0, 1 or 2")
        if self.QoS not in (0, 1, 2):
            raise AssertionError("QoS should be 0, 1 or 2")
        return bytes([(self.retainHandling << 4) | (int(bool(self.retainAsPublished)) << 3)
                      | (int(bool(self.noLocal)) << 2) | self.QoS])

    def unpack(self, buffer):
        b0 = buffer[0]
        self.retainHandling = (b0 >> 4) & 0x03
        self.retainAsPublished = bool((b0 >> 3) & 0x01)
        self.noLocal = bool((b0 >> 2) & 0x01)
        self.QoS = b0 & 0x03
        return 1

    def __repr__(self):
        return str(self)

    def __str__(self):
        return ("{QoS=" + str(self.QoS) + ", noLocal=" + str(self.noLocal) + ", retainAsPublished="
                + str(self.retainAsPublished) + ", retainHandling=" + str(self.retainHandling) + "}")

    def json(self):
        return {"QoS": self.QoS, "noLocal": self.noLocal, "retainAsPublished": self.retainAsPublished,
                "retainHandling": self.retainHandling}
