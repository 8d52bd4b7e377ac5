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

The module in parts: _codes (the constants and tables, re-exported here),
_settings (what is set before connecting, the callback properties),
_native_events (tern._tern's events made paho's callbacks); this file holds
the connection, messages and the loop.
"""
import string
import threading
import time
import uuid

from tern import _tern

from . import MQTTException  # noqa: F401
from ._codes import *  # noqa: F401,F403 (paho's module constants, error_string, connack_string)
from ._codes import (_ABORTED, _CLIENT, _CONNACK3, _CONNACK_STRINGS, _ERROR_STRINGS, _OK, _OS,  # noqa: F401
                     _OTHER, _REASON, _V3_TO_V5, _V5_TO_V3, MQTT_CLEAN_START_FIRST_ONLY, MQTT_CLIENT,
                     MQTT_ERR_CONN_LOST, MQTT_ERR_CONN_REFUSED, MQTT_ERR_INVAL, MQTT_ERR_NO_CONN, MQTT_ERR_SUCCESS,
                     MQTTv31, MQTTv311, MQTTv5, _os_error)
from ._native_events import ConnectFlags, DisconnectFlags, NativeEvents, _weak_method  # noqa: F401
from ._settings import Settings, _check_qos, _payload_bytes, _props_body, _topic_str  # noqa: F401
from .enums import (CallbackAPIVersion, ConnackCode, LogLevel, MessageType, MQTTErrorCode,  # noqa: F401
                    MQTTProtocolVersion)
from .packettypes import PacketTypes
from .properties import Properties, _from_native  # noqa: F401
from .reasoncodes import ReasonCode, ReasonCodes  # noqa: F401
from .subscribeoptions import SubscribeOptions


# What a host name or address never holds (the client's URI is made from it).
_NOT_IN_HOST = frozenset(" /?#@\\\x7f")


class WebsocketConnectionError(ValueError):
    pass


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
    sub = _topic_str(sub, "sub")
    topic = _topic_str(topic)
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


# publish()'s result (mid, rc, wait_for_publish(), is_published(), the (rc,
# mid) pair) and a received message (topic, payload, qos, retain, mid, dup,
# properties, timestamp, info): made in C++ (tern._tern), paho's names.
MQTTMessageInfo = _tern.MessageInfo
MQTTMessage = _tern.Message
_tern._set_properties_factory(_from_native)


class Client(NativeEvents, Settings):
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
        else:
            _topic_str(bytes(client_id), "client_id")  # UTF-8, as the CONNECT needs it
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
        if not host or any(ch in _NOT_IN_HOST or ch < " " for ch in host):
            raise ValueError("Invalid host.")
        if not isinstance(bind_address, str):
            raise TypeError("bind_address: must be a str, not %s" % type(bind_address).__name__)
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("port: must be an int")
        if port <= 0 or port > 65535:
            raise ValueError("Invalid port number.")
        if isinstance(keepalive, bool) or not isinstance(keepalive, int):
            raise TypeError("keepalive: must be an int")
        if keepalive < 0 or keepalive > 65535:
            raise ValueError("Keepalive must be >=0.")
        if isinstance(bind_port, bool) or not isinstance(bind_port, int):
            raise TypeError("bind_port: must be an int")
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
        # Sent now, as paho writes it at once: by this thread when no loop
        # runs, else by the loop thread (a loop_stop() that follows must not
        # stop it first). In a callback on the loop itself it returns at once.
        token.wait(2.0)
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
        if not timeout >= 0.0:  # NaN too
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
