"""paho-mqtt's Client on tern::Client (tern._tern).

    import tern.paho.mqtt.client as mqtt      # instead of paho.mqtt.client

Both APIs: paho 1.6's (Debian's: Client(client_id, clean_session, userdata,
protocol, transport)) and 2.x's (Client(CallbackAPIVersion.VERSION1 or
VERSION2, ...), whose VERSION2 callbacks take reason codes and properties for
every protocol version). The network runs in C++ without the GIL; callbacks
run with it on the thread driving the loop (loop_start()'s, or the caller of
loop_forever()/loop()), as in paho.

Where it differs from paho (see docs/python.md): connect() waits for the
CONNACK (paho returns once the CONNECT is written; on_connect still runs from
the loop, as in paho); a callback that raises is logged and the loop goes on
(paho re-raises unless suppress_exceptions); reconnection after a lost
connection is tern's (backoff from reconnect_delay_set), also without a loop
running in Python; beyond paho, Client(persistence_dir=...) keeps the session
(in-flight and queued QoS 1/2) on disk across restarts of the process.
"""
import logging
import ssl as _ssl
import string
import sys
import threading
import time
import traceback
import uuid
import weakref
from dataclasses import dataclass

from tern import _tern

from . import MQTTException
from .enums import (CallbackAPIVersion, ConnackCode, LogLevel, MessageType, MQTTErrorCode,  # noqa: F401
                    MQTTProtocolVersion)
from .packettypes import PacketTypes
from .properties import Properties, _from_native
from .reasoncodes import ReasonCode, ReasonCodes  # noqa: F401
from .subscribeoptions import SubscribeOptions

MQTTv31 = 3
MQTTv311 = 4
MQTTv5 = 5


# paho 1.6's module constants (plain ints), from 2.x's enums: CONNECT ...
# AUTH, MQTT_LOG_*, CONNACK_*, MQTT_ERR_*.
for _enum in (MessageType, LogLevel, ConnackCode, MQTTErrorCode):
    globals().update({_m.name: int(_m.value) for _m in _enum})
del _enum
LOGGING_LEVEL = {
    MQTT_LOG_DEBUG: logging.DEBUG,
    MQTT_LOG_INFO: logging.INFO,
    MQTT_LOG_NOTICE: logging.INFO,
    MQTT_LOG_WARNING: logging.WARNING,
    MQTT_LOG_ERR: logging.ERROR,
}

mqtt_cs_new = 0
mqtt_cs_connected = 1
mqtt_cs_disconnecting = 2
mqtt_cs_connect_async = 3

mqtt_ms_invalid = 0
mqtt_ms_publish = 1
mqtt_ms_wait_for_puback = 2
mqtt_ms_wait_for_pubrec = 3
mqtt_ms_resend_pubrel = 4
mqtt_ms_wait_for_pubrel = 5
mqtt_ms_resend_pubcomp = 6
mqtt_ms_wait_for_pubcomp = 7
mqtt_ms_send_pubrec = 8
mqtt_ms_queued = 9

MQTT_CLIENT = 0
MQTT_BRIDGE = 1

MQTT_CLEAN_START_FIRST_ONLY = 3

_ERROR_STRINGS = {
    MQTT_ERR_SUCCESS: "No error.",
    MQTT_ERR_NOMEM: "Out of memory.",
    MQTT_ERR_PROTOCOL: "A network protocol error occurred when communicating with the broker.",
    MQTT_ERR_INVAL: "Invalid function arguments provided.",
    MQTT_ERR_NO_CONN: "The client is not currently connected.",
    MQTT_ERR_CONN_REFUSED: "The connection was refused.",
    MQTT_ERR_NOT_FOUND: "Message not found (internal error).",
    MQTT_ERR_CONN_LOST: "The connection was lost.",
    MQTT_ERR_TLS: "A TLS error occurred.",
    MQTT_ERR_PAYLOAD_SIZE: "Payload too large.",
    MQTT_ERR_NOT_SUPPORTED: "This feature is not supported.",
    MQTT_ERR_AUTH: "Authorisation failed.",
    MQTT_ERR_ACL_DENIED: "Access denied by ACL.",
    MQTT_ERR_UNKNOWN: "Unknown error.",
    MQTT_ERR_ERRNO: "Error defined by errno.",
    MQTT_ERR_QUEUE_SIZE: "Message queue full.",
    MQTT_ERR_KEEPALIVE: "Client or broker did not communicate in the keepalive interval.",
}

_CONNACK_STRINGS = {
    CONNACK_ACCEPTED: "Connection Accepted.",
    CONNACK_REFUSED_PROTOCOL_VERSION: "Connection Refused: unacceptable protocol version.",
    CONNACK_REFUSED_IDENTIFIER_REJECTED: "Connection Refused: identifier rejected.",
    CONNACK_REFUSED_SERVER_UNAVAILABLE: "Connection Refused: broker unavailable.",
    CONNACK_REFUSED_BAD_USERNAME_PASSWORD: "Connection Refused: bad user name or password.",
    CONNACK_REFUSED_NOT_AUTHORIZED: "Connection Refused: not authorised.",
}

# MQTT 3.x CONNACK return code <-> MQTT 5 reason code.
_V3_TO_V5 = {0: 0, 1: 132, 2: 133, 3: 136, 4: 134, 5: 135}
_V5_TO_V3 = {0: 0, 132: 1, 133: 2, 136: 3, 134: 4, 135: 5, 140: 4}

# tern._tern's error kinds (module.cpp, err_tuple)
_OK, _REASON, _CONNACK3, _CLIENT, _ABORTED, _OS, _OTHER = range(7)


class WebsocketConnectionError(ValueError):
    pass


def error_string(mqtt_errno):
    """A description of an MQTT_ERR_* value."""
    return _ERROR_STRINGS.get(mqtt_errno, "Unknown error.")


def connack_string(connack_code):
    """A description of a 3.x CONNACK return code."""
    return _CONNACK_STRINGS.get(connack_code, "Connection Refused: unknown reason.")


def base62(num, base=string.digits + string.ascii_letters, padding=1):
    assert num >= 0
    digits = []
    while num:
        num, rest = divmod(num, 62)
        digits.append(base[rest])
    digits.extend(base[0] for _ in range(len(digits), padding))
    return "".join(reversed(digits))


def topic_matches_sub(sub, topic):
    """True when `topic` matches the subscription filter `sub` (+ and #)."""
    if isinstance(sub, bytes):
        sub = sub.decode("utf-8")
    if isinstance(topic, bytes):
        topic = topic.decode("utf-8")
    if sub.startswith("$share/"):
        parts = sub.split("/", 2)
        sub = parts[2] if len(parts) == 3 else ""
    s, t = sub.split("/"), topic.split("/")
    if t[0].startswith("$") and s[0] in ("+", "#"):
        return False
    for i, level in enumerate(s):
        if level == "#":
            return True
        if i >= len(t):
            return False
        if level != "+" and level != t[i]:
            return False
    return len(s) == len(t)


@dataclass(frozen=True)
class ConnectFlags:
    """paho 2.x: the CONNACK's flags (VERSION2 on_connect)."""
    session_present: bool


@dataclass(frozen=True)
class DisconnectFlags:
    """paho 2.x: how the connection ended (VERSION2 on_disconnect)."""
    is_disconnect_packet_from_server: bool


# publish()'s result (mid, rc, wait_for_publish(), is_published(), the (rc,
# mid) pair) and a received message (topic, payload, qos, retain, mid, dup,
# properties, timestamp, info): made in C++ (tern._tern), paho's names.
MQTTMessageInfo = _tern.MessageInfo
MQTTMessage = _tern.Message
_tern._set_properties_factory(_from_native)


def _payload_bytes(payload, arg="payload"):
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if payload is None:
        return b""
    if isinstance(payload, (int, float)) and not isinstance(payload, bool):
        return str(payload).encode("ascii")
    raise TypeError("%s must be a string, bytearray, int, float or None." % arg)


def _topic_str(topic, arg="topic"):
    if isinstance(topic, bytes):
        topic = topic.decode("utf-8")
    elif not isinstance(topic, str):
        raise TypeError("%s: must be a str, not %s" % (arg, type(topic).__name__))
    return topic


def _check_qos(qos, arg="qos"):
    if isinstance(qos, bool) or not isinstance(qos, int):
        raise TypeError("%s: must be an int 0, 1 or 2, not %s" % (arg, type(qos).__name__))
    if qos < 0 or qos > 2:
        raise ValueError("Invalid QoS level.")
    return qos


def _props_body(properties, packet_type, arg="properties"):
    if properties is None:
        return b""
    if not isinstance(properties, Properties):
        raise TypeError("%s: must be a Properties instance, not %s" % (arg, type(properties).__name__))
    return properties._body()


class Client:
    """An MQTT client (paho-mqtt's API). See paho-mqtt's documentation; the
    differences are in this module's docstring and docs/python.md."""

    def __init__(self, *args, **kwargs):
        api = kwargs.pop("callback_api_version", None)
        if args and isinstance(args[0], CallbackAPIVersion):
            api, args = args[0], args[1:]
        if api is not None and not isinstance(api, CallbackAPIVersion):
            raise TypeError("callback_api_version: must be CallbackAPIVersion.VERSION1 or VERSION2")
        self._init(api, *args, **kwargs)

    def _init(self, api, client_id="", clean_session=None, userdata=None, protocol=MQTTv311, transport="tcp",
              reconnect_on_failure=True, manual_ack=False, persistence_dir=None):
        # api None: paho 1.6 (Debian's), VERSION1's callbacks.
        self._api = 2 if api == CallbackAPIVersion.VERSION2 else 1
        self._paho16 = api is None
        if protocol not in (MQTTv31, MQTTv311, MQTTv5):
            raise ValueError("protocol: must be MQTTv31, MQTTv311 or MQTTv5, not %r" % (protocol,))
        if not isinstance(transport, str) or transport.lower() not in ("websockets", "tcp"):
            raise ValueError('transport must be "websockets" or "tcp", not %s' % transport)
        if manual_ack:
            raise ValueError("manual_ack: not supported by tern.paho yet")
        self._transport = transport.lower()
        self._protocol = protocol
        self._userdata = userdata
        if protocol == MQTTv5:
            if clean_session is not None:
                raise ValueError("Clean session is not used for MQTT 5.0")
            self._clean_session = True
        else:
            if clean_session is None:
                clean_session = True
            if not isinstance(clean_session, bool):
                raise TypeError("clean_session: must be a bool")
            if not clean_session and (client_id == "" or client_id is None):
                raise ValueError("A client id must be provided if clean session is False.")
            self._clean_session = clean_session
        if client_id == "" or client_id is None:
            client_id = base62(uuid.uuid4().int, padding=22) if protocol == MQTTv31 else b""
        if isinstance(client_id, str):
            client_id = client_id.encode("utf-8")
        elif not isinstance(client_id, (bytes, bytearray)):
            raise TypeError("client_id: must be a str, not %s" % type(client_id).__name__)
        self._client_id = bytes(client_id)
        if persistence_dir is not None and not isinstance(persistence_dir, str):
            persistence_dir = str(persistence_dir)  # os.PathLike
        self._persistence_dir = persistence_dir or ""
        self._reconnect_on_failure = bool(reconnect_on_failure)
        self._username = None
        self._password = None
        self._will = None
        self._tls = None
        self._tls_insecure = False
        self._keepalive = 60
        self._connect_timeout = 5.0
        self._host = ""
        self._port = 1883
        self._bind_address = ""
        self._bind_port = 0
        self._clean_start = MQTT_CLEAN_START_FIRST_ONLY
        self._connect_properties = None
        self._reconnect_min_delay = 1
        self._reconnect_max_delay = 120
        self._max_inflight_messages = 20
        self._max_queued_messages = 0
        self._websocket_path = "/mqtt"
        self._websocket_extra_headers = None
        self._logger = None
        self.suppress_exceptions = False
        self._client_mode = MQTT_CLIENT
        self._callbacks = {}
        self._filters = {}
        self._native_client = None
        self._connect_requested = False
        self._ever_connected = False
        self._disconnecting = False
        self._thread_running = False
        self._in_forever = False
        # Events that came while connect() waited for the CONNACK wait for the
        # loop (as in paho, on_connect runs from the loop), and so do the
        # events after them until they have run.
        self._deferring = None  # the thread in a blocking connect()
        self._pending = []
        self._flushing = False
        self._retry_delay = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ the native client

    def _native(self):
        n = self._native_client
        if n is not None:
            return n
        with self._lock:
            if self._native_client is not None:
                return self._native_client
            tls = {}
            if self._tls is not None:
                tls = dict(self._tls)
                if self._tls_insecure:
                    tls["verify_host_name"] = False
            logging_on = self._logger is not None or self._callbacks.get("log") is not None
            n = _tern.Client(self, reconnect=self._reconnect_on_failure,
                             reconnect_min=float(self._reconnect_min_delay),
                             reconnect_max=float(self._reconnect_max_delay),
                             max_queued=self._max_queued_messages, max_inflight=self._max_inflight_messages,
                             persistence_dir=self._persistence_dir,
                             tls=tls, log_level=1 if logging_on else 2, ws_headers=self._ws_headers())
            n.set_protocol(self._protocol)
            self._native_client = n
            self.publish = n.publish_paho  # the fast path: no Python frame per publish
            self._apply_mask()
            for sub in self._filters:
                n.message_callback_add(sub)
            return n

    def _apply_mask(self):
        n = self._native_client
        if n is None:
            return
        cb = self._callbacks
        mask = _tern.CB_CONNECT | _tern.CB_DISCONNECT
        if cb.get("message") is not None:
            mask |= _tern.CB_MESSAGE
        if cb.get("publish") is not None:
            mask |= _tern.CB_PUBLISH
        if cb.get("subscribe") is not None:
            mask |= _tern.CB_SUBSCRIBE
        if cb.get("unsubscribe") is not None:
            mask |= _tern.CB_UNSUBSCRIBE
        if cb.get("log") is not None or self._logger is not None:
            mask |= _tern.CB_LOG
        n.set_callbacks(mask)

    def _uri(self):
        if self._transport == "websockets":
            scheme = "wss" if self._tls is not None else "ws"
        else:
            scheme = "mqtts" if self._tls is not None else "mqtt"
        host = self._host
        if ":" in host and not host.startswith("["):
            host = "[" + host + "]"
        uri = "%s://%s:%d" % (scheme, host, self._port)
        if self._transport == "websockets":
            path = self._websocket_path or "/"
            uri += path if path.startswith("/") else "/" + path
        return uri

    def _ws_headers(self):
        """ws_set_options' headers as (name, value) pairs: a dict, or (as in
        paho) a callable given the upgrade request's headers and returning
        them; what it returns beyond the request's own goes with it."""
        if self._transport != "websockets" or not self._websocket_extra_headers:
            return []
        h = self._websocket_extra_headers
        if callable(h):
            own = {"Host": "%s:%d" % (self._host, self._port), "Upgrade": "websocket", "Connection": "Upgrade",
                   "Sec-Websocket-Protocol": "mqtt", "Sec-Websocket-Version": "13"}
            h = h(dict(own))
            h = {k: v for k, v in h.items() if own.get(k) != v}
        if not isinstance(h, dict):
            raise TypeError("headers: must be a dict or a callable returning one")
        return [(str(k), str(v)) for k, v in h.items()]

    def _connect_opts(self):
        if self._protocol == MQTTv5:
            clean = self._clean_start is True or self._clean_start == MQTT_CLEAN_START_FIRST_ONLY
            if self._clean_start == MQTT_CLEAN_START_FIRST_ONLY and self._ever_connected:
                clean = False
        else:
            clean = self._clean_session
        will = None
        if self._will is not None:
            will = self._will
        return {
            "version": self._protocol,
            "client_id": self._client_id.decode("utf-8"),
            "clean_start": bool(clean),
            "keep_alive": self._keepalive,
            "username": self._username,
            "password": self._password,
            "will": will,
            "session_expiry": None,
            "props": _props_body(self._connect_properties, PacketTypes.CONNECT)
            if self._protocol == MQTTv5 else b"",
        }

    def _check_connect_args(self, host, port, keepalive, bind_address, bind_port, clean_start, properties):
        if not isinstance(host, str):
            raise TypeError("host: must be a str, not %s" % type(host).__name__)
        if not host:
            raise ValueError("Invalid host.")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("port: must be an int")
        if port <= 0 or port > 65535:
            raise ValueError("Invalid port number.")
        if isinstance(keepalive, bool) or not isinstance(keepalive, int):
            raise TypeError("keepalive: must be an int")
        if keepalive < 0 or keepalive > 65535:
            raise ValueError("Keepalive must be >=0.")
        if bind_port < 0:
            raise ValueError("Invalid bind port number.")
        if self._protocol == MQTTv5:
            if clean_start not in (True, False, MQTT_CLEAN_START_FIRST_ONLY):
                raise ValueError("clean_start: True, False or MQTT_CLEAN_START_FIRST_ONLY")
            if properties is not None and not isinstance(properties, Properties):
                raise TypeError("properties: must be a Properties instance")
        else:
            if clean_start != MQTT_CLEAN_START_FIRST_ONLY:
                raise ValueError("Clean start only applies to MQTT V5")
            if properties is not None:
                raise ValueError("Properties only apply to MQTT V5")

    # ------------------------------------------------------------------ connection

    def connect(self, host, port=1883, keepalive=60, bind_address="", bind_port=0,
                clean_start=MQTT_CLEAN_START_FIRST_ONLY, properties=None):
        """Connects to the broker and waits for its CONNACK. Returns
        MQTT_ERR_SUCCESS (a refusal reaches on_connect, as in paho); raises
        OSError when the broker cannot be reached."""
        self._store_connect(host, port, keepalive, bind_address, bind_port, clean_start, properties)
        return self._blocking_connect(lambda n: n.connect(self._uri(), self._connect_opts()))

    def connect_async(self, host, port=1883, keepalive=60, bind_address="", bind_port=0,
                      clean_start=MQTT_CLEAN_START_FIRST_ONLY, properties=None):
        """Starts connecting; the loop (loop_start(), loop_forever()) completes it."""
        self._store_connect(host, port, keepalive, bind_address, bind_port, clean_start, properties)
        self._native().connect_async(self._uri(), self._connect_opts())
        return MQTT_ERR_SUCCESS

    def connect_srv(self, domain=None, keepalive=60, bind_address="", clean_start=MQTT_CLEAN_START_FIRST_ONLY,
                    properties=None):
        raise ValueError("connect_srv: DNS SRV lookups are not supported by tern.paho")

    def _store_connect(self, host, port, keepalive, bind_address, bind_port, clean_start, properties):
        self._check_connect_args(host, port, keepalive, bind_address, bind_port, clean_start, properties)
        self._host, self._port, self._keepalive = host, port, keepalive
        self._bind_address, self._bind_port = bind_address, bind_port
        self._clean_start, self._connect_properties = clean_start, properties
        self._connect_requested = True
        self._disconnecting = False
        self._retry_delay = None

    def _blocking_connect(self, call):
        n = self._native()
        me = threading.get_ident()
        self._deferring = me
        try:
            err = call(n)
        finally:
            self._deferring = None
        kind = err[0]
        if kind in (_OS, _OTHER, _CLIENT) and not (kind == _CLIENT and err[1] == 2):
            # The broker could not be reached: raise, as paho's socket does
            # (its on_connect_fail is for the loop's attempts).
            self._pending = []
            raise _os_error(err)
        if self._pending and self._thread_running:
            n.call_later(0.0, _weak_method(self, "_flush_pending"))
        return MQTT_ERR_SUCCESS

    def _flush_pending(self):
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._pending:
                name, args = self._pending.pop(0)
                getattr(self, name)(*args)
        finally:
            self._flushing = False

    def reconnect(self):
        """Connects again with the last connect()'s arguments."""
        if not self._connect_requested or not self._host:
            raise ValueError("Invalid host.")
        self._disconnecting = False
        if self._native_client is None or not self._ever_connected:
            return self._blocking_connect(lambda n: n.connect(self._uri(), self._connect_opts()))
        return self._blocking_connect(lambda n: n.reconnect())

    def disconnect(self, reasoncode=None, properties=None):
        """Sends DISCONNECT and closes; on_disconnect follows, loop_forever() returns."""
        code = 0
        if reasoncode is not None:
            if isinstance(reasoncode, ReasonCode):
                code = reasoncode.value
            elif isinstance(reasoncode, int) and not isinstance(reasoncode, bool):
                code = reasoncode
            else:
                raise TypeError("reasoncode: must be a ReasonCode or an int")
        body = _props_body(properties, PacketTypes.DISCONNECT) if self._protocol == MQTTv5 else b""
        n = self._native_client
        self._disconnecting = True
        if n is None or not self._connect_requested:
            return MQTT_ERR_NO_CONN
        was_connected = n.connected()
        token = n.disconnect(code, body)
        if not self._loop_running():
            token.wait(2.0)  # nothing else drives the loop: send it now, as paho does
        return MQTT_ERR_SUCCESS if was_connected else MQTT_ERR_NO_CONN

    def is_connected(self):
        n = self._native_client
        return n is not None and n.connected()

    def _loop_running(self):
        return self._thread_running or self._in_forever

    # ------------------------------------------------------------------ messages

    def publish(self, topic, payload=None, qos=0, retain=False, properties=None):
        """Publishes; returns an MQTTMessageInfo (mid, rc, wait_for_publish()).
        Checked and queued in C++ (the instance's publish is the native one
        once the client exists)."""
        return self._native().publish_paho(topic, payload, qos, retain, properties)

    def subscribe(self, topic, qos=0, options=None, properties=None):
        """subscribe("t", qos), subscribe("t", options=SubscribeOptions(...)),
        subscribe(("t", qos)), subscribe([("t", qos), ("u", SubscribeOptions())]).
        Returns (rc, mid)."""
        entries = []

        def entry(t, q):
            t = _topic_str(t)
            if not t:
                raise ValueError("Invalid topic.")
            if isinstance(q, SubscribeOptions):
                if self._protocol != MQTTv5:
                    raise ValueError("Subscribe options are only supported for MQTT v5")
                entries.append((t, _check_qos(q.QoS), bool(q.noLocal), bool(q.retainAsPublished),
                                int(q.retainHandling)))
            else:
                entries.append((t, _check_qos(q), False, False, 0))

        if isinstance(topic, tuple):
            if len(topic) != 2:
                raise ValueError("topic: a (topic, qos) tuple")
            entry(topic[0], topic[1])
        elif isinstance(topic, (str, bytes)):
            entry(topic, options if options is not None else qos)
        elif isinstance(topic, list):
            if not topic:
                raise ValueError("Empty topic list")
            for t in topic:
                if not isinstance(t, tuple) or len(t) != 2:
                    raise ValueError("topic: a list of (topic, qos) tuples")
                entry(t[0], t[1])
        else:
            raise ValueError("No topic specified, or incorrect topic type.")
        body = _props_body(properties, PacketTypes.SUBSCRIBE) if self._protocol == MQTTv5 else b""
        n = self._native_client
        if n is None or not n.connected():
            return (MQTT_ERR_NO_CONN, None)
        token = n.subscribe(entries, body)
        return (MQTT_ERR_SUCCESS, token.mid)

    def unsubscribe(self, topic, properties=None):
        """unsubscribe("t") or unsubscribe(["t", "u"]). Returns (rc, mid)."""
        if isinstance(topic, (str, bytes)):
            filters = [_topic_str(topic)]
        elif isinstance(topic, list):
            filters = [_topic_str(t) for t in topic]
        else:
            raise ValueError("Invalid topic.")
        if not filters or any(not f for f in filters):
            raise ValueError("Invalid topic.")
        body = _props_body(properties, PacketTypes.UNSUBSCRIBE) if self._protocol == MQTTv5 else b""
        n = self._native_client
        if n is None or not n.connected():
            return (MQTT_ERR_NO_CONN, None)
        token = n.unsubscribe(filters, body)
        return (MQTT_ERR_SUCCESS, token.mid)

    # ------------------------------------------------------------------ the loop

    def loop(self, timeout=1.0, max_packets=1):
        """Runs the network for up to `timeout` seconds in this thread."""
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
            raise TypeError("timeout: must be a number of seconds")
        if timeout < 0.0:
            raise ValueError("Invalid timeout.")
        n = self._native_client
        if n is None or not self._connect_requested:
            return MQTT_ERR_NO_CONN
        if self._pending:
            self._flush_pending()
        n.loop(float(timeout))
        return MQTT_ERR_SUCCESS if n.connected() else MQTT_ERR_NO_CONN

    def loop_forever(self, timeout=1.0, max_packets=1, retry_first_connection=False):
        """Runs the network in this thread until disconnect() (or loop_stop()).
        Reconnects by itself; Ctrl-C interrupts it."""
        n = self._native_client
        if n is None or not self._connect_requested:
            return MQTT_ERR_NO_CONN
        self._in_forever = True
        try:
            if self._pending:
                self._flush_pending()
            while True:
                err = n.loop_forever()
                kind = err[0]
                if kind == _OK or self._disconnecting:
                    return MQTT_ERR_SUCCESS
                if kind in (_OS, _OTHER) or (kind == _CLIENT and err[1] == 8):
                    if not self._ever_connected and not retry_first_connection:
                        raise _os_error(err)
                    if self._reconnect_on_failure or not self._ever_connected:
                        self._reconnect_wait()
                        if self._disconnecting:
                            return MQTT_ERR_SUCCESS
                        n.connect_async(self._uri(), self._connect_opts())
                        continue
                    return MQTT_ERR_CONN_LOST
                if kind in (_REASON, _CONNACK3):
                    return MQTT_ERR_CONN_REFUSED
                if kind == _CLIENT and err[1] == 1:
                    return MQTT_ERR_NO_CONN
                return MQTT_ERR_CONN_LOST
        finally:
            self._in_forever = False

    def _next_delay(self):
        d = self._retry_delay
        d = self._reconnect_min_delay if d is None else min(d * 2, self._reconnect_max_delay)
        self._retry_delay = d
        return d

    def _reconnect_wait(self):
        end = time.monotonic() + self._next_delay()
        while not self._disconnecting and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    def loop_start(self):
        """Starts a thread that runs the network loop (until loop_stop())."""
        if self._thread_running:
            return MQTT_ERR_INVAL
        n = self._native()
        n.loop_start()
        self._thread_running = True
        if self._pending:
            n.call_later(0.0, _weak_method(self, "_flush_pending"))
        return None if self._paho16 else MQTT_ERR_SUCCESS

    def loop_stop(self, force=False):
        """Stops loop_start()'s thread and waits for it (from a callback: only asks)."""
        if not self._thread_running:
            return MQTT_ERR_INVAL
        self._thread_running = False
        self._native_client.loop_stop()
        return None if self._paho16 else MQTT_ERR_SUCCESS

    def loop_read(self, max_packets=1):
        return self.loop(0.0)

    def loop_write(self, max_packets=1):
        return self.loop(0.0)

    def loop_misc(self):
        return MQTT_ERR_SUCCESS if self.is_connected() else MQTT_ERR_NO_CONN

    def want_write(self):
        return False

    def socket(self):
        """None: tern's socket lives in C++ (no external event loop support)."""
        return None

    # ------------------------------------------------------------------ settings

    def reinitialise(self, client_id="", clean_session=True, userdata=None):
        n, self._native_client = self._native_client, None
        self.__dict__.pop("publish", None)
        if n is not None and self._thread_running:
            n.loop_stop()
        del n
        self._init(CallbackAPIVersion.VERSION2 if self._api == 2 else None, client_id,
                   clean_session if self._protocol != MQTTv5 else None, userdata, self._protocol, self._transport)

    def username_pw_set(self, username, password=None):
        if username is not None and not isinstance(username, str):
            raise TypeError("username: must be a str or None")
        if password is not None and not isinstance(password, (str, bytes, bytearray)):
            raise TypeError("password: must be a str, bytes or None")
        self._username = username
        if isinstance(password, str):
            password = password.encode("utf-8")
        self._password = bytes(password) if password is not None else None

    def will_set(self, topic, payload=None, qos=0, retain=False, properties=None):
        if topic is None or (isinstance(topic, (str, bytes)) and len(topic) == 0):
            raise ValueError("Invalid topic.")
        topic = _topic_str(topic)
        _check_qos(qos)
        if properties is not None and not isinstance(properties, Properties):
            raise ValueError("The properties argument must be an instance of the Properties class.")
        if "+" in topic or "#" in topic:
            raise ValueError("Publish topic cannot contain wildcards.")
        body = _props_body(properties, PacketTypes.WILLMESSAGE) if self._protocol == MQTTv5 else b""
        self._will = (topic, _payload_bytes(payload), qos, bool(retain), body)

    def will_clear(self):
        self._will = None

    def tls_set(self, ca_certs=None, certfile=None, keyfile=None, cert_reqs=None, tls_version=None, ciphers=None,
                keyfile_password=None):
        if self._tls is not None:
            raise ValueError("SSL/TLS has already been configured.")
        for name, v in (("ca_certs", ca_certs), ("certfile", certfile), ("keyfile", keyfile)):
            if v is not None and not isinstance(v, str):
                raise TypeError("%s: must be a str path or None" % name)
        if keyfile_password is not None:
            raise ValueError("keyfile_password: encrypted keys are not supported by tern yet")
        if certfile is not None and keyfile is None:
            keyfile = certfile
        self._tls = {"ca_file": ca_certs or "", "cert_file": certfile or "", "key_file": keyfile or "",
                     "insecure": cert_reqs == _ssl.CERT_NONE}

    def tls_set_context(self, context=None):
        if context is not None:
            raise ValueError("context: tern's TLS runs in C++ and cannot use an ssl.SSLContext; use tls_set()")
        self.tls_set()

    def tls_insecure_set(self, value):
        if self._tls is None:
            raise ValueError("Must configure SSL context before using tls_insecure_set.")
        self._tls_insecure = bool(value)

    def proxy_set(self, **proxy_args):
        raise ValueError("proxy_set: proxies are not supported by tern.paho")

    def ws_set_options(self, path="/mqtt", headers=None):
        """The WebSocket path and extra upgrade headers (a dict, or a callable as
        in paho), for transport="websockets"; set before connecting."""
        if not isinstance(path, str):
            raise TypeError("path: must be a str")
        self._websocket_path = path
        if headers is not None:
            if isinstance(headers, dict) or callable(headers):
                self._websocket_extra_headers = headers
            else:
                raise ValueError("'headers' option to ws_set_options has to be either a dictionary or callable")

    def reconnect_delay_set(self, min_delay=1, max_delay=120):
        for name, v in (("min_delay", min_delay), ("max_delay", max_delay)):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError("%s: must be a number of seconds" % name)
        if min_delay <= 0 or max_delay < min_delay:
            raise ValueError("min_delay: must be > 0 and <= max_delay")
        self._reconnect_min_delay = min_delay
        self._reconnect_max_delay = max_delay

    def max_inflight_messages_set(self, inflight):
        if isinstance(inflight, bool) or not isinstance(inflight, int):
            raise TypeError("inflight: must be an int")
        if inflight < 0 or inflight > 65535:
            raise ValueError("Invalid inflight.")
        self._max_inflight_messages = inflight  # from the next connect() of a new client on

    def max_queued_messages_set(self, queue_size):
        if isinstance(queue_size, bool) or not isinstance(queue_size, int):
            raise TypeError("queue_size: must be an int")
        if queue_size < 0:
            raise ValueError("Invalid queue size.")
        self._max_queued_messages = queue_size
        return self

    def message_retry_set(self, retry):
        pass

    def user_data_set(self, userdata):
        self._userdata = userdata

    def user_data_get(self):
        return self._userdata

    def enable_logger(self, logger=None):
        if logger is None:
            if self._logger is not None:
                return
            logger = logging.getLogger(__name__)
        self._logger = logger
        self._apply_mask()

    def disable_logger(self):
        self._logger = None
        self._apply_mask()

    def enable_bridge_mode(self):
        self._client_mode = MQTT_BRIDGE

    # paho 2.x's read-only views
    @property
    def host(self):
        return self._host

    @property
    def port(self):
        return self._port

    @property
    def keepalive(self):
        return self._keepalive

    @property
    def transport(self):
        return self._transport

    @property
    def protocol(self):
        return self._protocol

    @property
    def logger(self):
        return self._logger

    @logger.setter
    def logger(self, value):
        self._logger = value
        self._apply_mask()

    @property
    def max_inflight_messages(self):
        return self._max_inflight_messages

    @property
    def max_queued_messages(self):
        return self._max_queued_messages

    @property
    def connect_timeout(self):
        return self._connect_timeout

    @connect_timeout.setter
    def connect_timeout(self, value):
        if value <= 0.0:
            raise ValueError("timeout must be a positive number")
        self._connect_timeout = value

    # ------------------------------------------------------------------ message callbacks by filter

    def message_callback_add(self, sub, callback):
        if callback is None or sub is None:
            raise ValueError("sub and callback must both be defined.")
        sub = _topic_str(sub, "sub")
        if not callable(callback):
            raise TypeError("callback: must be callable")
        with self._lock:
            new = sub not in self._filters
            self._filters[sub] = callback
            if new and self._native_client is not None:
                self._native_client.message_callback_add(sub)

    def topic_callback(self, sub):
        def decorator(func):
            self.message_callback_add(sub, func)
            return func
        return decorator

    def message_callback_remove(self, sub):
        if sub is None:
            raise ValueError("sub must defined.")
        sub = _topic_str(sub, "sub")
        with self._lock:
            if self._filters.pop(sub, None) is not None and self._native_client is not None:
                self._native_client.message_callback_remove(sub)

    # ------------------------------------------------------------------ logging

    def _easy_log(self, level, fmt, *args):
        on_log = self._callbacks.get("log")
        if on_log is not None:
            buf = fmt % args
            try:
                on_log(self, self._userdata, level, buf)
            except Exception:
                pass
        if self._logger is not None:
            self._logger.log(LOGGING_LEVEL[level], fmt, *args)

    def _call(self, what, func, *args):
        try:
            func(self, self._userdata, *args)
        except Exception as err:
            self._log_exception(what, err)

    def _log_exception(self, what, err):
        self._easy_log(MQTT_LOG_ERR, "Caught exception in %s: %s", what, err)
        if self._logger is None and self._callbacks.get("log") is None:
            sys.stderr.write("tern.paho: exception in %s (the loop goes on):\n" % what)
            traceback.print_exc()

    # ------------------------------------------------------------------ events from tern._tern

    def _defer(self, name, args):
        if (self._deferring is not None and self._deferring == threading.get_ident()) or (
                self._pending and not self._flushing):
            self._pending.append((name, args))
            return True
        return False

    def _native_connect(self, err, session_present, reason, props):
        if self._defer("_native_connect", (err, session_present, reason, props)):
            return
        kind = err[0]
        if kind == _OK:
            self._ever_connected = True
            self._retry_delay = None
        elif kind in (_OS, _OTHER, _CLIENT):
            if kind == _CLIENT and err[1] == 2:  # already connected
                return
            self._easy_log(MQTT_LOG_DEBUG, "Connection failed: %s", err[2])
            f = self._callbacks.get("connect_fail")
            if f is not None:
                self._call("on_connect_fail", f)
            if self._thread_running and not self._disconnecting and (
                    self._reconnect_on_failure or not self._ever_connected):
                # loop_start()'s thread retries, as paho's does.
                self._native_client.call_later(self._next_delay(), _weak_method(self, "_retry"))
            return
        on_connect = self._callbacks.get("connect")
        if on_connect is None:
            return
        if kind == _OK:
            code = reason
        elif kind == _REASON:
            code = err[1]
        elif kind == _CONNACK3:
            code = err[1] if self._protocol != MQTTv5 else _V3_TO_V5.get(err[1], 128)
        else:
            code = 128
        if self._api == 2:
            if self._protocol != MQTTv5 and kind != _REASON:
                code = _V3_TO_V5.get(code, 128)
            self._call("on_connect", on_connect, ConnectFlags(bool(session_present)),
                       ReasonCode(PacketTypes.CONNACK, identifier=code), _from_native(PacketTypes.CONNACK, props))
        elif self._protocol == MQTTv5:
            self._call("on_connect", on_connect, {"session present": int(bool(session_present))},
                       ReasonCode(PacketTypes.CONNACK, identifier=code), _from_native(PacketTypes.CONNACK, props))
        else:
            if kind == _REASON:
                code = _V5_TO_V3.get(code, CONNACK_REFUSED_SERVER_UNAVAILABLE)
            self._call("on_connect", on_connect, {"session present": int(bool(session_present))}, code)

    def _retry(self):
        if self._disconnecting or self._native_client is None:
            return
        self._native_client.connect_async(self._uri(), self._connect_opts())

    def _native_disconnect(self, err):
        if self._defer("_native_disconnect", (err,)):
            return
        f = self._callbacks.get("disconnect")
        if f is None:
            return
        kind, value = err[0], err[1]
        from_server = kind == _REASON
        if self._api == 2:
            code = 0 if kind == _OK else (value if from_server else 128)
            self._call("on_disconnect", f, DisconnectFlags(from_server),
                       ReasonCode(PacketTypes.DISCONNECT, identifier=code), Properties(PacketTypes.DISCONNECT))
            return
        if kind == _OK:
            rc = MQTT_ERR_SUCCESS
        elif from_server and self._protocol == MQTTv5:
            rc = ReasonCode(PacketTypes.DISCONNECT, identifier=value)
        else:
            rc = MQTT_ERR_CONN_LOST
        if self._protocol == MQTTv5:
            self._call("on_disconnect", f, rc, None)
        else:
            self._call("on_disconnect", f, rc)

    def _native_message(self, m):
        if (self._deferring is not None or self._pending) and self._defer("_native_message", (m,)):
            return
        f = self._callbacks.get("message")
        if f is None:
            return
        try:
            f(self, self._userdata, m)
        except Exception as err:
            self._log_exception("on_message", err)

    def _native_filtered(self, sub, m):
        if (self._deferring is not None or self._pending) and self._defer("_native_filtered", (sub, m)):
            return
        f = self._filters.get(sub)
        if f is None:
            return
        self._call("topic callback", f, m)

    def _native_publish(self, mid, err, reason):
        f = self._callbacks.get("publish")
        if f is None or err[0] != _OK:
            return
        if self._api == 2:
            self._call("on_publish", f, mid, ReasonCode(PacketTypes.PUBACK, identifier=reason),
                       Properties(PacketTypes.PUBACK))
        else:
            self._call("on_publish", f, mid)

    def _native_subscribe(self, mid, err, codes):
        if self._defer("_native_subscribe", (mid, err, codes)):
            return
        f = self._callbacks.get("subscribe")
        if f is None or err[0] not in (_OK, _REASON):
            return
        if self._api == 2 or self._protocol == MQTTv5:
            rcs = [ReasonCode(PacketTypes.SUBACK, identifier=c) for c in codes]
            self._call("on_subscribe", f, mid, rcs, Properties(PacketTypes.SUBACK))
        else:
            self._call("on_subscribe", f, mid, tuple(codes))

    def _native_unsubscribe(self, mid, err, codes):
        if self._defer("_native_unsubscribe", (mid, err, codes)):
            return
        f = self._callbacks.get("unsubscribe")
        if f is None or err[0] not in (_OK, _REASON):
            return
        rcs = [ReasonCode(PacketTypes.UNSUBACK, identifier=c) for c in codes]
        if self._api == 2:
            self._call("on_unsubscribe", f, mid, rcs, Properties(PacketTypes.UNSUBACK))
        elif self._protocol == MQTTv5:
            if len(rcs) == 1:
                rcs = rcs[0]
            self._call("on_unsubscribe", f, mid, Properties(PacketTypes.UNSUBACK), rcs)
        else:
            self._call("on_unsubscribe", f, mid)

    _TERN_LEVELS = {0: MQTT_LOG_DEBUG, 1: MQTT_LOG_DEBUG, 2: MQTT_LOG_INFO, 3: MQTT_LOG_WARNING, 4: MQTT_LOG_ERR}

    def _native_log(self, level, message):
        self._easy_log(self._TERN_LEVELS.get(level, MQTT_LOG_INFO), "%s", message)


def _weak_method(obj, name):
    """obj.name(), through a weak reference: what tern's timers hold must not
    keep the client alive (a cycle through C++ that the collector cannot see)."""
    ref = weakref.ref(obj)

    def call():
        o = ref()
        if o is not None:
            getattr(o, name)()
    return call


def _os_error(err):
    kind, value, message = err
    if kind == _OS:
        return OSError(value, message)
    low = message.lower()
    if kind == _OTHER and ("certificate" in low or "ssl" in low or "tls" in low):
        return _ssl.SSLError(message)
    return OSError(message)


def _callback_property(name, doc):
    def getter(self):
        return self._callbacks.get(name)

    def setter(self, func):
        if func is not None and not callable(func):
            raise TypeError("on_%s: must be callable or None" % name)
        with self._lock:
            self._callbacks[name] = func
            self._apply_mask()

    return property(getter, setter, doc=doc)


def _decorator(name):
    def make(self):
        def decorator(func):
            setattr(self, "on_" + name, func)
            return func
        return decorator
    return make


for _name, _doc in (
        ("connect", "on_connect(client, userdata, flags, rc) (v5, VERSION2: flags, reason_code, properties)"),
        ("connect_fail", "on_connect_fail(client, userdata): a connection attempt of the loop failed"),
        ("disconnect", "on_disconnect(client, userdata, rc) (v5: rc, properties; VERSION2: flags, reason_code, "
                       "properties)"),
        ("message", "on_message(client, userdata, message)"),
        ("publish", "on_publish(client, userdata, mid) (VERSION2: mid, reason_code, properties)"),
        ("subscribe", "on_subscribe(client, userdata, mid, granted_qos) (v5, VERSION2: mid, reason_codes, "
                      "properties)"),
        ("unsubscribe", "on_unsubscribe(client, userdata, mid) (v5: mid, properties, reason_codes; VERSION2: mid, "
                        "reason_codes, properties)"),
        ("log", "on_log(client, userdata, level, buf)"),
        ("socket_open", "never called: the socket lives in C++"),
        ("socket_close", "never called: the socket lives in C++"),
        ("socket_register_write", "never called: the socket lives in C++"),
        ("socket_unregister_write", "never called: the socket lives in C++")):
    setattr(Client, "on_" + _name, _callback_property(_name, _doc))
    setattr(Client, _name + "_callback", _decorator(_name))
del _name, _doc
Client.log_callback = _decorator("log")
