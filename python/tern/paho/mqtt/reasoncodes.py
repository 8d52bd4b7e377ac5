"""MQTT 5 reason codes, as paho.mqtt.reasoncodes presents them (ReasonCodes in
paho 1.6, ReasonCode in 2.x: the same class here)."""
import functools

from .packettypes import PacketTypes

_P = PacketTypes
_CONNACK, _PUBACK, _PUBREC, _PUBREL, _PUBCOMP = _P.CONNACK, _P.PUBACK, _P.PUBREC, _P.PUBREL, _P.PUBCOMP
_SUBACK, _UNSUBACK, _DISCONNECT, _AUTH = _P.SUBACK, _P.UNSUBACK, _P.DISCONNECT, _P.AUTH
_ERRS = [_CONNACK, _PUBACK, _PUBREC, _SUBACK, _UNSUBACK, _DISCONNECT]

# value -> {name: [packet types where the value has that name]} (MQTT 5.0, 2.4)
_NAMES = {
    0: {"Success": [_CONNACK, _PUBACK, _PUBREC, _PUBREL, _PUBCOMP, _UNSUBACK, _AUTH],
        "Normal disconnection": [_DISCONNECT], "Granted QoS 0": [_SUBACK]},
    1: {"Granted QoS 1": [_SUBACK]},
    2: {"Granted QoS 2": [_SUBACK]},
    4: {"Disconnect with will message": [_DISCONNECT]},
    16: {"No matching subscribers": [_PUBACK, _PUBREC]},
    17: {"No subscription found": [_UNSUBACK]},
    24: {"Continue authentication": [_AUTH]},
    25: {"Re-authenticate": [_AUTH]},
    128: {"Unspecified error": _ERRS},
    129: {"Malformed packet": [_CONNACK, _DISCONNECT]},
    130: {"Protocol error": [_CONNACK, _DISCONNECT]},
    131: {"Implementation specific error": _ERRS},
    132: {"Unsupported protocol version": [_CONNACK]},
    133: {"Client identifier not valid": [_CONNACK]},
    134: {"Bad user name or password": [_CONNACK]},
    135: {"Not authorized": _ERRS},
    136: {"Server unavailable": [_CONNACK]},
    137: {"Server busy": [_CONNACK, _DISCONNECT]},
    138: {"Banned": [_CONNACK]},
    139: {"Server shutting down": [_DISCONNECT]},
    140: {"Bad authentication method": [_CONNACK, _DISCONNECT]},
    141: {"Keep alive timeout": [_DISCONNECT]},
    142: {"Session taken over": [_DISCONNECT]},
    143: {"Topic filter invalid": [_SUBACK, _UNSUBACK, _DISCONNECT]},
    144: {"Topic name invalid": [_CONNACK, _PUBACK, _PUBREC, _DISCONNECT]},
    145: {"Packet identifier in use": [_PUBACK, _PUBREC, _SUBACK, _UNSUBACK]},
    146: {"Packet identifier not found": [_PUBREL, _PUBCOMP]},
    147: {"Receive maximum exceeded": [_DISCONNECT]},
    148: {"Topic alias invalid": [_DISCONNECT]},
    149: {"Packet too large": [_CONNACK, _DISCONNECT]},
    150: {"Message rate too high": [_DISCONNECT]},
    151: {"Quota exceeded": [_CONNACK, _PUBACK, _PUBREC, _SUBACK, _DISCONNECT]},
    152: {"Administrative action": [_DISCONNECT]},
    153: {"Payload format invalid": [_PUBACK, _PUBREC, _DISCONNECT]},
    154: {"Retain not supported": [_CONNACK, _DISCONNECT]},
    155: {"QoS not supported": [_CONNACK, _DISCONNECT]},
    156: {"Use another server": [_CONNACK, _DISCONNECT]},
    157: {"Server moved": [_CONNACK, _DISCONNECT]},
    158: {"Shared subscription not supported": [_SUBACK, _DISCONNECT]},
    159: {"Connection rate exceeded": [_CONNACK, _DISCONNECT]},
    160: {"Maximum connect time": [_DISCONNECT]},
    161: {"Subscription identifiers not supported": [_SUBACK, _DISCONNECT]},
    162: {"Wildcard subscription not supported": [_SUBACK, _DISCONNECT]},
}


@functools.total_ordering
class ReasonCode:
    """One MQTT 5 reason code: `value` (int) and getName(). Compares equal
    to its int value and to its name."""

    def __init__(self, packetType, aName="Success", identifier=-1):
        if packetType not in PacketTypes.indexes:
            raise ValueError("packetType: not a packet type")
        self.packetType = packetType
        self.names = _NAMES
        if identifier == -1:
            if packetType == PacketTypes.DISCONNECT and aName == "Success":
                aName = "Normal disconnection"
            self.set(aName)
        else:
            self.value = identifier
            self.getName()  # checks it

    def __getName__(self, packetType, identifier):
        if identifier not in _NAMES:
            raise KeyError(identifier)
        names = _NAMES[identifier]
        for name, types in names.items():
            if packetType in types:
                return name
        return next(iter(names))

    def getId(self, name):
        for value, names in _NAMES.items():
            if name in names and self.packetType in names[name]:
                return value
        raise KeyError("Reason code name not found: %s" % name)

    def set(self, name):
        self.value = self.getId(name)

    def unpack(self, buffer):
        c = buffer[0]
        self.value = c
        self.getName()
        return 1

    def getName(self):
        return self.__getName__(self.packetType, self.value)

    def __eq__(self, other):
        if isinstance(other, int):
            return self.value == other
        if isinstance(other, str):
            return other == str(self)
        if isinstance(other, ReasonCode):
            return self.value == other.value
        return False

    def __lt__(self, other):
        if isinstance(other, int):
            return self.value < other
        if isinstance(other, ReasonCode):
            return self.value < other.value
        return NotImplemented

    def __hash__(self):
        return hash(self.value)

    def __int__(self):
        return self.value

    def __repr__(self):
        try:
            name = self.getName()
        except KeyError:
            name = "?"
        return "ReasonCode(%s, %r)" % (PacketTypes.Names[self.packetType], name)

    def __str__(self):
        return self.getName()

    def json(self):
        return self.getName()

    def pack(self):
        return bytearray([self.value])

    @property
    def is_failure(self):
        return self.value >= 0x80


ReasonCodes = ReasonCode  # paho 1.6's name
