"""MQTT packet types, as paho.mqtt.packettypes names them."""


class PacketTypes:
    """Packet type constants (PacketTypes.PUBLISH) and their names (PacketTypes.Names[t])."""

    indexes = range(1, 16)
    (CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK,
     UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH) = indexes
    # Not a packet: the will's properties (Will Delay Interval applies only there).
    WILLMESSAGE = 99
    Names = ["reserved", "Connect", "Connack", "Publish", "Puback", "Pubrec", "Pubrel", "Pubcomp",
             "Subscribe", "Suback", "Unsubscribe", "Unsuback", "Pingreq", "Pingresp", "Disconnect", "Auth"]
