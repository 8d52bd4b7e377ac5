"""amqtt.mqtt.publish's PublishPacket, as a delivered message carries it:
`packet.variable_header.topic_name`, `packet.payload.data`, `packet.qos`,
`packet.retain_flag`, `packet.dup_flag`, `packet.packet_id`. tern encodes and
decodes packets in C++; these only hold what one carried."""
from .packet import PUBLISH, MQTTFixedHeader


class PublishVariableHeader:
    __slots__ = ("topic_name", "packet_id")

    def __init__(self, topic_name, packet_id=None):
        self.topic_name = topic_name
        self.packet_id = packet_id

    def __repr__(self):
        return "PublishVariableHeader(topic=%s, packet_id=%s)" % (self.topic_name, self.packet_id)


class PublishPayload:
    __slots__ = ("data",)

    def __init__(self, data=None):
        self.data = data

    def __repr__(self):
        return "PublishPayload(data=%r)" % repr(self.data)


class PublishPacket:
    DUP_FLAG = 0x08
    RETAIN_FLAG = 0x01
    QOS_FLAG = 0x06

    def __init__(self, fixed=None, variable_header=None, payload=None):
        self.fixed_header = fixed if fixed is not None else MQTTFixedHeader(PUBLISH, 0x00)
        self.variable_header = variable_header
        self.payload = payload

    def _flag(self, mask, value):
        if value:
            self.fixed_header.flags |= mask
        else:
            self.fixed_header.flags &= ~mask

    @property
    def dup_flag(self):
        return bool(self.fixed_header.flags & self.DUP_FLAG)

    @dup_flag.setter
    def dup_flag(self, value):
        self._flag(self.DUP_FLAG, value)

    @property
    def retain_flag(self):
        return bool(self.fixed_header.flags & self.RETAIN_FLAG)

    @retain_flag.setter
    def retain_flag(self, value):
        self._flag(self.RETAIN_FLAG, value)

    @property
    def qos(self):
        return (self.fixed_header.flags & self.QOS_FLAG) >> 1

    @qos.setter
    def qos(self, value):
        self.fixed_header.flags = (self.fixed_header.flags & 0xF9) | (value << 1)

    @property
    def packet_id(self):
        return self.variable_header.packet_id

    @property
    def topic_name(self):
        return self.variable_header.topic_name

    @property
    def data(self):
        return self.payload.data

    @classmethod
    def build(cls, topic_name, message, packet_id, dup_flag, qos, retain):
        packet = cls(variable_header=PublishVariableHeader(topic_name, packet_id), payload=PublishPayload(message))
        packet.dup_flag = dup_flag
        packet.retain_flag = retain
        packet.qos = qos
        return packet

    def __repr__(self):
        return "PublishPacket(fixed=%r, variable=%r, payload=%r)" % (self.fixed_header, self.variable_header,
                                                                    self.payload)
