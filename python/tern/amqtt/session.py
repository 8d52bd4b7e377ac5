"""amqtt.session's message and session objects for tern.amqtt: what
MQTTClient.publish() returns (OutgoingApplicationMessage) and what
deliver_message() returns (IncomingApplicationMessage), with the PUBLISH
packet amqtt's own example reads (`message.publish_packet.variable_header.topic_name`,
`message.publish_packet.payload.data`)."""
from .mqtt.publish import PublishPacket

OUTGOING = 0
INCOMING = 1


class ApplicationMessage:
    """A message of a publish flow: topic, data, qos, retain, packet_id and the
    packets of the flow (publish_packet; the acknowledgements stay in tern's
    C++ session and are None here)."""
    __slots__ = ("packet_id", "topic", "qos", "data", "retain", "publish_packet", "puback_packet",
                 "pubrec_packet", "pubrel_packet", "pubcomp_packet")

    def __init__(self, packet_id, topic, qos, data, retain):
        self.packet_id = packet_id
        self.topic = topic
        self.qos = qos
        self.data = data
        self.retain = retain
        self.publish_packet = None
        self.puback_packet = None
        self.pubrec_packet = None
        self.pubrel_packet = None
        self.pubcomp_packet = None

    def build_publish_packet(self, dup=False):
        return PublishPacket.build(self.topic, bytes(self.data), self.packet_id, dup, self.qos, self.retain)

    def __eq__(self, other):
        return isinstance(other, ApplicationMessage) and self.packet_id == other.packet_id

    __hash__ = None


class IncomingApplicationMessage(ApplicationMessage):
    __slots__ = ("direction",)

    def __init__(self, packet_id, topic, qos, data, retain):
        super().__init__(packet_id, topic, qos, data, retain)
        self.direction = INCOMING


class OutgoingApplicationMessage(ApplicationMessage):
    __slots__ = ("direction",)

    def __init__(self, packet_id, topic, qos, data, retain):
        super().__init__(packet_id, topic, qos, data, retain)
        self.direction = OUTGOING


class Session:
    """What MQTTClient.connect() connects with (amqtt's Session, without its
    state machine and queues: tern's C++ session keeps those)."""

    def __init__(self):
        self.remote_address = None
        self.remote_port = None
        self.client_id = None
        self.clean_session = None
        self.will_flag = False
        self.will_message = None
        self.will_qos = None
        self.will_retain = None
        self.will_topic = None
        self.keep_alive = 0
        self.broker_uri = None
        self.username = None
        self.password = None
        self.cafile = None
        self.capath = None
        self.cadata = None

    def __repr__(self):
        return "Session(clientId=%s)" % self.client_id
