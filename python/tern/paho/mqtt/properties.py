"""MQTT 5 properties, as paho.mqtt.properties presents them: attributes named
after the spec without spaces (props.MessageExpiryInterval = 30,
props.UserProperty = [("k", "v")]), checked against the packet type."""
import struct

from . import MQTTException
from .packettypes import PacketTypes

_P = PacketTypes
_BYTE, _TWO, _FOUR, _VBI, _BIN, _UTF8, _PAIR = range(7)
_ALL = [_P.CONNECT, _P.CONNACK, _P.PUBLISH, _P.PUBACK, _P.PUBREC, _P.PUBREL, _P.PUBCOMP, _P.SUBSCRIBE,
        _P.SUBACK, _P.UNSUBSCRIBE, _P.UNSUBACK, _P.DISCONNECT, _P.AUTH, _P.WILLMESSAGE]
_MSG = [_P.PUBLISH, _P.WILLMESSAGE]

# id: (name, type, packet types) (MQTT 5.0, 2.2.2.2)
_TABLE = {
    1: ("Payload Format Indicator", _BYTE, _MSG),
    2: ("Message Expiry Interval", _FOUR, _MSG),
    3: ("Content Type", _UTF8, _MSG),
    8: ("Response Topic", _UTF8, _MSG),
    9: ("Correlation Data", _BIN, _MSG),
    11: ("Subscription Identifier", _VBI, [_P.PUBLISH, _P.SUBSCRIBE]),
    17: ("Session Expiry Interval", _FOUR, [_P.CONNECT, _P.CONNACK, _P.DISCONNECT]),
    18: ("Assigned Client Identifier", _UTF8, [_P.CONNACK]),
    19: ("Server Keep Alive", _TWO, [_P.CONNACK]),
    21: ("Authentication Method", _UTF8, [_P.CONNECT, _P.CONNACK, _P.AUTH]),
    22: ("Authentication Data", _BIN, [_P.CONNECT, _P.CONNACK, _P.AUTH]),
    23: ("Request Problem Information", _BYTE, [_P.CONNECT]),
    24: ("Will Delay Interval", _FOUR, [_P.WILLMESSAGE]),
    25: ("Request Response Information", _BYTE, [_P.CONNECT]),
    26: ("Response Information", _UTF8, [_P.CONNACK]),
    28: ("Server Reference", _UTF8, [_P.CONNACK, _P.DISCONNECT]),
    31: ("Reason String", _UTF8, [_P.CONNACK, _P.PUBACK, _P.PUBREC, _P.PUBREL, _P.PUBCOMP, _P.SUBACK,
                               _P.UNSUBACK, _P.DISCONNECT, _P.AUTH]),
    33: ("Receive Maximum", _TWO, [_P.CONNECT, _P.CONNACK]),
    34: ("Topic Alias Maximum", _TWO, [_P.CONNECT, _P.CONNACK]),
    35: ("Topic Alias", _TWO, [_P.PUBLISH]),
    36: ("Maximum QoS", _BYTE, [_P.CONNACK]),
    37: ("Retain Available", _BYTE, [_P.CONNACK]),
    38: ("User Property", _PAIR, _ALL),
    39: ("Maximum Packet Size", _FOUR, [_P.CONNECT, _P.CONNACK]),
    40: ("Wildcard Subscription Available", _BYTE, [_P.CONNACK]),
    41: ("Subscription Identifier Available", _BYTE, [_P.CONNACK]),
    42: ("Shared Subscription Available", _BYTE, [_P.CONNACK]),
}
_BY_COMPRESSED = {name.replace(" ", ""): ident for ident, (name, _, _) in _TABLE.items()}
_MULTIPLE = (11, 38)
_LIMITS = {_BYTE: 0xFF, _TWO: 0xFFFF, _FOUR: 0xFFFFFFFF, _VBI: 268435455}


def _vbi(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_vbi(buf, pos):
    mult, value = 1, 0
    for _ in range(4):
        b = buf[pos]
        pos += 1
        value += (b & 0x7F) * mult
        if not b & 0x80:
            return value, pos
        mult *= 128
    raise MQTTException("malformed variable byte integer")


def _check_length(name, s):
    """A string or binary property's value fits its two-byte length and is UTF-8."""
    try:
        n = len(s.encode("utf-8")) if isinstance(s, str) else len(s)
    except UnicodeEncodeError:
        raise ValueError("%s: not encodable as UTF-8: %r" % (name, s)) from None
    if n > 65535:
        raise ValueError("%s: %d bytes, more than MQTT's 65535" % (name, n))


def _utf8(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


class Properties:
    """The properties of one packet type (PacketTypes.PUBLISH, ...)."""

    types = ["Byte", "Two Byte Integer", "Four Byte Integer", "Variable Byte Integer", "Binary Data",
             "UTF-8 Encoded String", "UTF-8 String Pair"]
    names = {name: ident for ident, (name, _, _) in _TABLE.items()}
    properties = {ident: (t, packets) for ident, (_, t, packets) in _TABLE.items()}

    def __init__(self, packetType):
        object.__setattr__(self, "packetType", packetType)

    def allowsMultiple(self, compressedName):
        return self.getIdentFromName(compressedName) in _MULTIPLE

    def getIdentFromName(self, compressedName):
        try:
            return _BY_COMPRESSED[compressedName]
        except KeyError:
            raise MQTTException("Property name not found: %s" % compressedName) from None

    def getNameFromIdent(self, identifier):
        entry = _TABLE.get(identifier)
        return entry[0].replace(" ", "") if entry else None

    def __setattr__(self, name, value):
        if name == "packetType" or name.startswith("_"):
            return object.__setattr__(self, name, value)
        ident = self.getIdentFromName(name)
        _, kind, packets = _TABLE[ident]
        if self.packetType not in packets:
            raise MQTTException("Property %s does not apply to packet type %s"
                                % (name, PacketTypes.Names[self.packetType] if self.packetType < 16 else "Will"))
        if ident in _MULTIPLE:
            values = value if isinstance(value, list) else [value]
            for v in values:
                self._check(name, kind, v)
            value = (object.__getattribute__(self, name) if name in self.__dict__ else []) + values
        else:
            self._check(name, kind, value)
        object.__setattr__(self, name, value)

    @staticmethod
    def _check(name, kind, value):
        if kind in _LIMITS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("%s: must be an int, not %s" % (name, type(value).__name__))
            if not 0 <= value <= _LIMITS[kind] or (kind == _VBI and value == 0 and name == "SubscriptionIdentifier"):
                raise ValueError("%s: %d out of range" % (name, value))
        elif kind == _UTF8:
            if not isinstance(value, str):
                raise TypeError("%s: must be a str, not %s" % (name, type(value).__name__))
            _check_length(name, value)
        elif kind == _BIN:
            if not isinstance(value, (bytes, bytearray, str)):
                raise TypeError("%s: must be bytes, not %s" % (name, type(value).__name__))
            _check_length(name, value)
        elif kind == _PAIR:
            if (not isinstance(value, (tuple, list)) or len(value) != 2
                    or not all(isinstance(v, str) for v in value)):
                raise TypeError("%s: must be a (str, str) pair" % name)
            _check_length(name, value[0])
            _check_length(name, value[1])

    def _present(self):
        """[(ident, name, value)] in identifier order."""
        return [(ident, name.replace(" ", ""), self.__dict__[name.replace(" ", "")])
                for ident, (name, _, _) in sorted(_TABLE.items()) if name.replace(" ", "") in self.__dict__]

    def __str__(self):
        return "[" + ", ".join("%s : %s" % (n, v) for _, n, v in self._present()) + "]"

    __repr__ = __str__

    def json(self):
        data = {}
        for _, name, value in self._present():
            data[name] = value.hex() if isinstance(value, (bytes, bytearray)) else value
        return data

    def isEmpty(self):
        return not self._present()

    def clear(self):
        for _, name, _v in self._present():
            del self.__dict__[name]

    def _body(self):
        """The encoded block without its length (what tern._tern takes)."""
        out = bytearray()
        for ident, name, value in self._present():
            kind = _TABLE[ident][1]
            for v in (value if ident in _MULTIPLE else [value]):
                out += _vbi(ident)
                if kind == _BYTE:
                    out.append(v)
                elif kind == _TWO:
                    out += struct.pack("!H", v)
                elif kind == _FOUR:
                    out += struct.pack("!L", v)
                elif kind == _VBI:
                    out += _vbi(v)
                elif kind == _BIN:
                    b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
                    out += struct.pack("!H", len(b)) + b
                elif kind == _UTF8:
                    out += _utf8(v)
                else:
                    out += _utf8(v[0]) + _utf8(v[1])
        return bytes(out)

    def pack(self):
        body = self._body()
        return _vbi(len(body)) + body

    def _load(self, body):
        """Reads an encoded block without its length (from tern._tern)."""
        pos, end = 0, len(body)
        while pos < end:
            ident, pos = _read_vbi(body, pos)
            if ident not in _TABLE:
                raise MQTTException("unknown property %d" % ident)
            name, kind, _ = _TABLE[ident]
            name = name.replace(" ", "")
            if kind == _BYTE:
                v, pos = body[pos], pos + 1
            elif kind == _TWO:
                v, pos = struct.unpack_from("!H", body, pos)[0], pos + 2
            elif kind == _FOUR:
                v, pos = struct.unpack_from("!L", body, pos)[0], pos + 4
            elif kind == _VBI:
                v, pos = _read_vbi(body, pos)
            else:
                n = struct.unpack_from("!H", body, pos)[0]
                raw, pos = bytes(body[pos + 2:pos + 2 + n]), pos + 2 + n
                if kind == _BIN:
                    v = raw
                elif kind == _UTF8:
                    v = raw.decode("utf-8")
                else:
                    n2 = struct.unpack_from("!H", body, pos)[0]
                    v = (raw.decode("utf-8"), bytes(body[pos + 2:pos + 2 + n2]).decode("utf-8"))
                    pos += 2 + n2
            if ident in _MULTIPLE:
                self.__dict__.setdefault(name, []).append(v)
            else:
                self.__dict__[name] = v
        return self

    def unpack(self, buffer):
        """Reads a block with its length prefix; returns (self, bytes read)."""
        buffer = bytes(buffer)
        length, pos = _read_vbi(buffer, 0)
        self._load(buffer[pos:pos + length])
        return self, pos + length


def _from_native(packet_type, body):
    p = Properties(packet_type)
    if body:
        p._load(body)
    return p
