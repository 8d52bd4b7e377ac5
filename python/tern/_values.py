"""The values tern.Client takes and gives (tern/client.py): ConnAck, Will,
Message (a received message, its MQTT 5 properties as a dict), PublishHandle
(publish()'s flow to wait on); MQTT 5 properties both ways, as dicts named
after the spec in snake_case ({"content_type": "text/plain",
"user_property": [("k", "v")]}), through tern.paho's property codec; and the
argument checks, which raise TypeError/ValueError naming the argument."""
import ssl as _ssl
import sys
from collections.abc import Mapping
from typing import NamedTuple

from tern import _tern
from tern.errors import _OK, PublishError, _from_native
from tern.paho.mqtt import MQTTException
from tern.paho.mqtt.packettypes import PacketTypes
from tern.paho.mqtt.properties import Properties, _from_native as _props_from_native

# Received messages' properties are read by tern.paho's codec (the same
# factory tern.paho.mqtt.client sets).
_tern._set_properties_factory(_props_from_native)


class ConnAck(NamedTuple):
    """The broker's CONNACK: what connect() returns and on_connect receives."""
    session_present: bool
    reason_code: int
    properties: dict


class Will(NamedTuple):
    """The message the broker publishes when the connection ends without
    disconnect() (Client(will=Will("status/app-1", b"gone", qos=1)))."""
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    properties: "Mapping | None" = None


# MQTT 5 property names: "message_expiry_interval" <-> tern.paho's "MessageExpiryInterval".
_BY_SNAKE = {name.lower().replace(" ", "_"): name.replace(" ", "") for name in Properties.names}
_SNAKE = {compressed: snake for snake, compressed in _BY_SNAKE.items()}


def _props_dict(p):
    """A tern.paho Properties as {"content_type": ..., "user_property": [(k, v)]}."""
    if p is None:
        return {}
    return {_SNAKE[name]: value for _, name, value in p._present()}


def _props_body(props, packet_type, arg="properties"):
    """The raw MQTT 5 property block (tern._tern's form) for a dict,
    {"message_expiry_interval": 60, "user_property": [(k, v)] or a dict,
    ...}, or a tern.paho Properties."""
    if props is None:
        return b""
    if isinstance(props, Properties):
        return props._body()
    if not isinstance(props, Mapping):
        raise TypeError("%s: must be a dict of MQTT 5 properties, not %s" % (arg, type(props).__name__))
    p = Properties(packet_type)
    for key, value in props.items():
        name = _BY_SNAKE.get(key)
        if name is None:
            raise ValueError("%s: %r is not an MQTT 5 property (e.g. 'message_expiry_interval')" % (arg, key))
        if name == "UserProperty" and isinstance(value, Mapping):
            value = list(value.items())
        try:
            setattr(p, name, value)
        except MQTTException as e:
            raise ValueError("%s: %r: %s" % (arg, key, e)) from None
        except (TypeError, ValueError) as e:
            raise type(e)("%s: %r: %s" % (arg, key, e)) from None
    return p._body()


def _payload_bytes(payload, arg="payload"):
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    if payload is None:
        return b""
    raise TypeError("%s: must be bytes, bytearray, memoryview or str, not %s" % (arg, type(payload).__name__))


def _check_qos(qos, arg="qos"):
    if isinstance(qos, bool) or not isinstance(qos, int):
        raise TypeError("%s: must be an int 0, 1 or 2, not %s" % (arg, type(qos).__name__))
    if not 0 <= qos <= 2:
        raise ValueError("%s: must be 0, 1 or 2, not %d" % (arg, qos))
    return qos


def _check_topic(topic, arg="topic", wildcards=False):
    if not isinstance(topic, str):
        raise TypeError("%s: must be a str, not %s" % (arg, type(topic).__name__))
    if not topic:
        raise ValueError("%s: must not be empty" % arg)
    if not wildcards and ("+" in topic or "#" in topic):
        raise ValueError("%s: a topic to publish to has no wildcards: %r" % (arg, topic))
    return topic


def _ca_pem(data):
    """ssl's cadata (PEM text, or DER bytes of one or more certificates) as PEM text."""
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("ca_data: must be PEM text (str) or DER bytes, not %s" % type(data).__name__)
    b, pos, out = bytes(data), 0, []
    while pos < len(b):
        if b[pos] != 0x30 or pos + 2 > len(b):
            raise ValueError("ca_data: not DER certificates")
        n, head = b[pos + 1], 2
        if n & 0x80:
            k = n & 0x7F
            if not 0 < k <= 4 or pos + 2 + k > len(b):
                raise ValueError("ca_data: not DER certificates")
            n, head = int.from_bytes(b[pos + 2:pos + 2 + k], "big"), 2 + k
        end = pos + head + n
        if end > len(b):
            raise ValueError("ca_data: a truncated DER certificate")
        out.append(_ssl.DER_cert_to_PEM_cert(b[pos:end]))
        pos = end
    return "".join(out)


def _tls_options(secure, check_hostname, tls_insecure, **files):
    """The native client's TLS options from tern.Client's and tern.AsyncClient's
    arguments (str or os.PathLike files, CA data as PEM text or DER bytes).
    `secure`: the uri is mqtts:// or wss:// (TLS options without one are
    refused); None: not known yet (AsyncClient's uri may come with connect())."""
    given = [k for k, v in files.items() if v is not None]
    if secure is False:
        if given or tls_insecure:
            raise ValueError("%s: needs an mqtts:// or wss:// uri" % (given[0] if given else "tls_insecure"))
        return {}
    tls = {"verify_host_name": bool(check_hostname), "insecure": bool(tls_insecure)}
    for key in given:
        value = files[key]
        if key == "ca_data":
            if isinstance(value, (bytes, bytearray, memoryview)):
                value = _ca_pem(value)  # DER certificates to PEM
            elif not isinstance(value, str):
                raise TypeError("ca_data: must be PEM text (str) or DER bytes, not %s" % type(value).__name__)
            tls["ca_pem"] = value
            continue
        if key != "server_name":
            value = str(value) if hasattr(value, "__fspath__") else value  # os.PathLike
        if not isinstance(value, str):
            raise TypeError("%s: must be a str, not %s" % (key, type(value).__name__))
        tls[key] = value
    return tls


def _header_pairs(headers, ws):
    """ws_headers (a dict or (name, value) pairs) as the native client takes
    them; `ws`: the uri is ws:// or wss://."""
    if not headers:
        return []
    if not ws:
        raise ValueError("ws_headers: needs a ws:// or wss:// uri")
    items = headers.items() if isinstance(headers, Mapping) else headers
    try:
        pairs = [(k, v) for k, v in items]
    except (TypeError, ValueError):
        raise TypeError("ws_headers: must be a dict or a list of (name, value) pairs") from None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise TypeError("ws_headers: names and values must be str")
    return pairs


def _will_tuple(will, protocol):
    """The native client's will: (topic, payload, qos, retain, properties)
    from a Will, a tuple of its fields, or any object with them; None."""
    if will is None:
        return None
    if isinstance(will, tuple) and not isinstance(will, Will):
        try:
            will = Will(*will)
        except TypeError:
            raise TypeError("will: must be a tern.Will or a tuple of its fields (topic, payload, qos, retain)") from None
    if not all(hasattr(will, f) for f in Will._fields):
        raise TypeError("will: must be a tern.Will, not %s" % type(will).__name__)
    body = _props_body(will.properties, PacketTypes.WILLMESSAGE, "will.properties") if protocol == 5 else b""
    return (_check_topic(will.topic, "will.topic"), _payload_bytes(will.payload, "will.payload"),
            _check_qos(will.qos, "will.qos"), bool(will.retain), body)


def _connect_options(client_id, protocol, clean_start, keep_alive, username, password, will, session_expiry,
                     properties):
    """The CONNECT the native client sends (its connect options), from the
    arguments tern.Client and tern.AsyncClient take; TypeError/ValueError
    naming the argument."""
    if not isinstance(client_id, str):
        raise TypeError("client_id: must be a str, not %s" % type(client_id).__name__)
    if protocol not in (3, 4, 5) or isinstance(protocol, bool):
        raise ValueError("protocol: must be 5 (MQTT 5.0), 4 (3.1.1) or 3 (3.1), not %r" % (protocol,))
    if isinstance(keep_alive, bool) or not isinstance(keep_alive, int):
        raise TypeError("keep_alive: must be an int of seconds, not %s" % type(keep_alive).__name__)
    if not 0 <= keep_alive <= 65535:
        raise ValueError("keep_alive: must be an int of seconds, 0..65535")
    if session_expiry is not None:
        if protocol != 5:
            raise ValueError("session_expiry: MQTT 5 only (3.x: clean_start=False keeps the session)")
        if not isinstance(session_expiry, int) or isinstance(session_expiry, bool) or \
                not 0 <= session_expiry <= 0xFFFFFFFF:
            raise ValueError("session_expiry: must be an int of seconds, 0..4294967295")
    if username is not None and not isinstance(username, str):
        raise TypeError("username: must be a str or None, not %s" % type(username).__name__)
    if password is not None and not isinstance(password, (str, bytes)):
        raise TypeError("password: must be a str, bytes or None, not %s" % type(password).__name__)
    if protocol == 5:
        props = _props_body(properties, PacketTypes.CONNECT)
    elif properties is not None:
        raise ValueError("properties: MQTT 5 only")
    else:
        props = b""
    return {"version": protocol, "client_id": client_id, "clean_start": bool(clean_start), "keep_alive": keep_alive,
            "username": username, "password": password, "will": _will_tuple(will, protocol),
            "session_expiry": session_expiry, "props": props}


def _native_options(client_id, persistence_dir, reconnect_min_delay, reconnect_max_delay, **counts):
    """The checks of the native client's own options: persistence_dir (a str
    or os.PathLike; it needs a client id of the program's own), the reconnect
    delays, and counts >= 0 (max_inflight, max_queued...). Gives the
    persistence dir as a str ("" for none)."""
    if persistence_dir:
        persistence_dir = str(persistence_dir)  # os.PathLike too
        if not client_id:
            raise ValueError("persistence_dir: needs a client_id of your own (the store is keyed by it)")
    for name, value in (("reconnect_min_delay", reconnect_min_delay), ("reconnect_max_delay", reconnect_max_delay)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("%s: must be a number of seconds" % name)
    if not 0 < reconnect_min_delay <= reconnect_max_delay:
        raise ValueError("reconnect_min_delay: must be > 0 and <= reconnect_max_delay")
    for name, value in counts.items():
        limit = 65535 if name == "max_inflight" else sys.maxsize
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
            raise ValueError("%s: must be an int, 0..%d" % (name, limit))
    return persistence_dir or ""


def _seconds(value, arg):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s: must be a number of seconds or None, not %s" % (arg, type(value).__name__))
    if not value >= 0:  # NaN too
        raise ValueError("%s: must be >= 0, not %r" % (arg, value))
    return float(value)


class Message:
    """A received message: topic (str), payload (bytes), qos, retain, dup,
    mid, properties (MQTT 5, a dict: {"content_type": "text/plain",
    "user_property": [("k", "v")], ...}; read when first asked for)."""
    __slots__ = ("_m", "_props")

    def __init__(self, native):
        self._m = native
        self._props = None

    @property
    def topic(self):
        return self._m.topic

    @property
    def payload(self):
        return self._m.payload

    @property
    def qos(self):
        return self._m.qos

    @property
    def retain(self):
        return self._m.retain

    @property
    def dup(self):
        return self._m.dup

    @property
    def mid(self):
        """Its packet identifier (0 for QoS 0)."""
        return self._m.mid

    @property
    def properties(self):
        if self._props is None:
            self._props = _props_dict(self._m.properties)
        return self._props

    def __repr__(self):
        return "Message(topic=%r, payload=%r, qos=%d, retain=%r)" % (self.topic, self.payload, self.qos, self.retain)


class PublishHandle:
    """What publish() returns: the message's QoS flow, to wait on."""
    __slots__ = ("_t",)

    def __init__(self, token):
        self._t = token

    @property
    def mid(self):
        """The request's number (1, 2, 3... per client): on_publish's mid."""
        return self._t.mid

    def wait(self, timeout=None):
        """Waits until the flow completes (QoS 0: written; 1: PUBACK; 2:
        PUBCOMP) or `timeout` seconds pass (None: no limit). True when it
        completed, False on timeout; raises PublishError when it failed.
        From a callback it does not wait (the loop runs there)."""
        if not self._t.wait(_seconds(timeout, "timeout")):
            return False
        err = self._t.error()
        if err[0] != _OK:
            raise _from_native(err, PublishError, "publish failed")
        return True

    def is_published(self):
        """True once the flow completed without error."""
        return self._t.is_complete() and self._t.error()[0] == _OK

    @property
    def reason_code(self):
        """The broker's PUBACK/PUBREC reason code once complete (0 for QoS 0;
        0x10 no matching subscribers...), else None."""
        if not self._t.is_complete():
            return None
        codes = self._t.reason_codes()
        return codes[0] if codes else None

    def __repr__(self):
        return "PublishHandle(mid=%d, published=%r)" % (self.mid, self.is_published())
