"""tern.Client: tern's own threaded MQTT client for Python, MQTT 5 first.

    import tern

    with tern.Client("mqtt://127.0.0.1:1883", client_id="app-1") as c:   # connected (or tern.ConnectError)
        c.subscribe("sensors/#", qos=1)                                  # [1]: the granted QoS
        c.publish("sensors/t1", b"21.5", qos=1).wait(5)                  # True once PUBACKed
        for m in c.messages(timeout=10):                                 # ends after 10 s of silence
            print(m.topic, m.payload, m.properties)
    # out of the block: DISCONNECT sent, the network thread stopped

URIs: mqtt://host[:port] (1883), mqtts:// (8883, TLS), ws://host[:port]/path
and wss:// (WebSocket). The network runs in C++ (tern::Client, through the
native module tern._tern) on a thread of its own, without the GIL; callbacks
(on_connect, on_message, on_publish, on_subscribe, on_unsubscribe,
on_disconnect) run on that thread with the GIL, one at a time, in the order of
the events, and may call the client (publish, subscribe, disconnect...: from
a callback they do not wait for the broker's answer). A callback that raises
is logged (logger "tern") and the loop goes on. Messages go to on_message
when it is set, else to a queue read by messages() and get_message().

The arguments, ConnAck and the exceptions (tern.errors: MQTTError,
ConnectError...) have tern.AsyncClient's names and meanings.

After a lost connection the client reconnects by itself (reconnect=True,
backoff from reconnect_min_delay to reconnect_max_delay); MQTT 5 resumes the
session the broker kept (session_expiry > 0). persistence_dir keeps this side of the session (QoS 1/2
messages in flight, the offline queue) on disk across restarts of the
process: a QoS 2 message is delivered once even across a crash.
"""
import collections
import logging
import threading
from urllib.parse import urlsplit

from tern import _tern
from tern._values import (ConnAck, Message, PublishHandle, Will, _check_qos, _check_topic, _connect_options,
                          _header_pairs, _native_options, _payload_bytes, _props_body, _props_dict, _seconds,
                          _tls_options)
from tern.errors import _CLIENT, _OK, _REASON, ConnectError, ConnectionLost, MQTTError, SubscribeError, _from_native
from tern.paho.mqtt.packettypes import PacketTypes
from tern.paho.mqtt.properties import _from_native as _props_from_native

__all__ = ["Client", "Message", "PublishHandle", "ConnAck", "Will"]

_log = logging.getLogger("tern")
_SCHEMES = ("mqtt", "mqtts", "ws", "wss")
_CALLBACKS = {"on_connect": _tern.CB_CONNECT, "on_message": _tern.CB_MESSAGE, "on_publish": _tern.CB_PUBLISH,
              "on_subscribe": _tern.CB_SUBSCRIBE, "on_unsubscribe": _tern.CB_UNSUBSCRIBE,
              "on_disconnect": _tern.CB_DISCONNECT}


def _callback_property(name):
    attr = "_" + name

    def getter(self):
        return getattr(self, attr)

    def setter(self, func):
        if func is not None and not callable(func):
            raise TypeError("%s: must be callable or None, not %s" % (name, type(func).__name__))
        setattr(self, attr, func)
        self._apply_mask()

    return property(getter, setter)


class Client:
    """tern's threaded MQTT client (see the module's docstring). Every
    argument but the URI is keyword-only; see client.pyi for their types and
    docs/python.md for a walk through."""

    on_connect = _callback_property("on_connect")
    on_message = _callback_property("on_message")
    on_publish = _callback_property("on_publish")
    on_subscribe = _callback_property("on_subscribe")
    on_unsubscribe = _callback_property("on_unsubscribe")
    on_disconnect = _callback_property("on_disconnect")

    def __init__(self, uri="mqtt://127.0.0.1:1883", *, client_id="", protocol=5, clean_start=True,
                 session_expiry=None, keep_alive=60, username=None, password=None, will=None, properties=None,
                 ca_file=None, ca_path=None, ca_data=None, cert_file=None, key_file=None, check_hostname=True,
                 tls_insecure=False, server_name=None, ws_headers=None, persistence_dir=None, reconnect=True,
                 reconnect_min_delay=0.5, reconnect_max_delay=30.0, max_inflight=0, max_queued=0, queue_size=10000,
                 on_connect=None, on_message=None, on_publish=None, on_subscribe=None, on_unsubscribe=None,
                 on_disconnect=None):
        if not isinstance(uri, str):
            raise TypeError("uri: must be a str, not %s" % type(uri).__name__)
        parts = urlsplit(uri)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise ValueError("uri: must be mqtt://, mqtts://, ws:// or wss://host[:port][/path], not %r" % uri)
        connect_opts = _connect_options(client_id, protocol, clean_start, keep_alive, username, password, will,
                                        session_expiry, properties)
        persistence_dir = _native_options(client_id, persistence_dir, reconnect_min_delay, reconnect_max_delay,
                                          max_inflight=max_inflight, max_queued=max_queued, queue_size=queue_size)
        tls = _tls_options(parts.scheme in ("mqtts", "wss"), ca_file=ca_file, ca_path=ca_path, ca_data=ca_data,
                              cert_file=cert_file, key_file=key_file, server_name=server_name,
                              check_hostname=check_hostname, tls_insecure=tls_insecure)
        headers = _header_pairs(ws_headers, parts.scheme in ("ws", "wss"))
        self._uri = uri
        self._protocol = protocol
        self._connect_opts = connect_opts
        self._queue = collections.deque(maxlen=queue_size or None)
        self._cond = threading.Condition()
        self._closed = False  # disconnect()/close(): messages() ends
        self._dropped = 0
        self._connack = None
        self._in_callback = None  # the thread running one of our callbacks
        self._mask = 0
        for name in _CALLBACKS:
            setattr(self, "_" + name, None)
        self._native = None
        self._native = _tern.Client(self, reconnect=bool(reconnect), reconnect_min=float(reconnect_min_delay),
                                    reconnect_max=float(reconnect_max_delay), max_queued=max_queued,
                                    max_inflight=max_inflight, persistence_dir=persistence_dir or "",
                                    tls=tls, ws_headers=headers)
        self._native.set_protocol(protocol)
        for name, func in (("on_connect", on_connect), ("on_message", on_message), ("on_publish", on_publish),
                           ("on_subscribe", on_subscribe), ("on_unsubscribe", on_unsubscribe),
                           ("on_disconnect", on_disconnect)):
            if func is not None:
                setattr(self, name, func)
        self._apply_mask()

    # ------------------------------------------------------------------ arguments

    @staticmethod
    def _no_props(properties):
        if properties is not None:
            raise ValueError("properties: MQTT 5 only")
        return b""

    def _apply_mask(self):
        n = self._native
        if n is None:
            return
        mask = _tern.CB_CONNECT | _tern.CB_DISCONNECT | _tern.CB_MESSAGE
        for name, bit in _CALLBACKS.items():
            if getattr(self, "_" + name) is not None:
                mask |= bit
        if mask != self._mask:
            self._mask = mask
            n.set_callbacks(mask)

    # ------------------------------------------------------------------ the connection

    def connect(self):
        """Connects and waits for the CONNACK; starts the network thread.
        Returns the ConnAck; raises ConnectError when the broker refuses
        (reason_code) or cannot be reached (the OSError is __cause__)."""
        with self._cond:
            self._closed = False
        err = self._native.connect(self._uri, self._connect_opts)
        if err[0] == _CLIENT and err[1] == 2:
            raise ConnectError("connect: already connected")
        if err[0] != _OK:
            raise _from_native(err, ConnectError, "connect to %s failed" % self._uri)
        self._native.loop_start()
        return self._connack

    def disconnect(self, reason_code=0, properties=None, timeout=5.0):
        """Sends DISCONNECT (MQTT 5: reason_code, properties; 0x04: the
        broker sends the will) and closes; waits up to `timeout` seconds for
        it to be written. The client no longer reconnects; messages() ends
        once the queue is empty. connect() may follow."""
        if isinstance(reason_code, bool) or not isinstance(reason_code, int) or not 0 <= reason_code <= 255:
            raise ValueError("reason_code: must be an int 0..255")
        body = _props_body(properties, PacketTypes.DISCONNECT) if self._protocol == 5 else self._no_props(properties)
        t = self._native.disconnect(reason_code, body)
        self._wake()
        t.wait(_seconds(timeout, "timeout"))

    def close(self):
        """disconnect() (and no more reconnecting), then stops the network
        thread. What the `with` block does at its end."""
        was_connected = self._native.connected()
        t = self._native.disconnect(0, b"")
        self._wake()
        if was_connected:
            t.wait(5.0)
        self._native.loop_stop()

    def __enter__(self):
        if not self._native.connected():
            self.connect()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def connected(self):
        """True while a connection is accepted and open."""
        return self._native.connected()

    @property
    def client_id(self):
        """The client id of the last accepted connection (the broker's
        assigned one if it chose it); "" before."""
        return self._native.client_id()

    @property
    def connack(self):
        """The last accepted CONNACK, or None before."""
        return self._connack

    # ------------------------------------------------------------------ messages

    def publish(self, topic, payload=b"", qos=0, retain=False, properties=None):
        """Publishes (queued while disconnected; never blocks). payload:
        bytes-like or str (UTF-8). properties (MQTT 5): {"content_type":
        "text/plain", "user_property": [("k", "v")], "message_expiry_interval":
        60, ...}. Returns a PublishHandle: wait(timeout), is_published()."""
        _check_topic(topic)
        data = _payload_bytes(payload)
        _check_qos(qos)
        body = _props_body(properties, PacketTypes.PUBLISH) if self._protocol == 5 else self._no_props(properties)
        return PublishHandle(self._native.publish(topic, data, qos, bool(retain), body))

    def subscribe(self, topic, qos=0, *, no_local=False, retain_as_published=False, retain_handling=0,
                  properties=None, timeout=10.0):
        """Subscribes to a filter ("a/+/c"), a list of filters (each at
        `qos`), or a list of (filter, qos) pairs; waits for the SUBACK and
        returns its codes, one per filter (the granted QoS, or >= 0x80:
        refused). From a callback it does not wait and returns [] (the codes
        reach on_subscribe). Raises SubscribeError when not connected,
        TimeoutError after `timeout` seconds."""
        if isinstance(topic, str):
            pairs = [(topic, qos)]
        elif isinstance(topic, tuple):
            pairs = [topic]
        elif isinstance(topic, list) and topic:
            pairs = [t if isinstance(t, tuple) else (t, qos) for t in topic]
        else:
            raise TypeError("topic: must be a filter, a (filter, qos) pair, or a list of filters or pairs")
        if isinstance(retain_handling, bool) or retain_handling not in (0, 1, 2):
            raise ValueError("retain_handling: must be 0, 1 or 2")
        subs = []
        for pair in pairs:
            if len(pair) != 2:
                raise TypeError("topic: (filter, qos) pairs")
            subs.append((_check_topic(pair[0], "topic", wildcards=True), _check_qos(pair[1]), bool(no_local),
                         bool(retain_as_published), retain_handling))
        body = _props_body(properties, PacketTypes.SUBSCRIBE) if self._protocol == 5 else self._no_props(properties)
        return self._wait_codes(self._native.subscribe(subs, body), "subscribe", timeout)

    def unsubscribe(self, topic, properties=None, timeout=10.0):
        """Unsubscribes from a filter or a list of filters; waits for the
        UNSUBACK and returns its codes, one per filter (MQTT 5: 0 success,
        0x11 no subscription existed...; 3.x, whose UNSUBACK has none: 0
        each). From a callback it does not wait and returns []."""
        filters = [topic] if isinstance(topic, str) else topic
        if not isinstance(filters, (list, tuple)) or not filters:
            raise TypeError("topic: must be a filter or a list of filters")
        filters = [_check_topic(f, "topic", wildcards=True) for f in filters]
        body = _props_body(properties, PacketTypes.UNSUBSCRIBE) if self._protocol == 5 else self._no_props(properties)
        return self._wait_codes(self._native.unsubscribe(filters, body), "unsubscribe", timeout)

    def ping(self, timeout=10.0):
        """Sends a PINGREQ and waits for its PINGRESP (the keep alive pings by
        itself). TimeoutError past `timeout` seconds; MQTTError when not
        connected. From a callback it does not wait."""
        token = self._native.ping()
        if not token.wait(_seconds(timeout, "timeout")):
            if self._in_callback == threading.get_ident():
                return
            raise TimeoutError("ping: no PINGRESP within %s s" % timeout)
        err = token.error()
        if err[0] != _OK:
            raise _from_native(err, MQTTError, "ping failed")

    def _wait_codes(self, token, what, timeout):
        if not token.wait(_seconds(timeout, "timeout")):
            if self._in_callback == threading.get_ident():
                return []
            raise TimeoutError("%s: no answer from the broker within %s s" % (what, timeout))
        err = token.error()
        if err[0] not in (_OK, _REASON):
            raise _from_native(err, SubscribeError, "%s failed" % what)
        return list(token.reason_codes())

    def get_message(self, timeout=None):
        """The next received message (when on_message is not set), waiting
        up to `timeout` seconds (None: until one comes); None on timeout, or
        after disconnect()/close() once the queue is empty."""
        timeout = _seconds(timeout, "timeout")
        with self._cond:
            if not self._cond.wait_for(lambda: self._queue or self._closed, timeout):
                return None
            return self._queue.popleft() if self._queue else None

    def messages(self, timeout=None):
        """Iterates over received messages (when on_message is not set): ends
        after `timeout` seconds without one (None: never), or after
        disconnect()/close() once the queue is empty.
            for m in c.messages(timeout=10): print(m.topic, m.payload)"""
        while True:
            m = self.get_message(timeout)
            if m is None:
                return
            yield m

    @property
    def dropped(self):
        """Messages dropped from the full queue (queue_size), oldest first."""
        return self._dropped

    def _wake(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ events from tern._tern

    def _call(self, name, *args):
        func = getattr(self, "_" + name)
        if func is None:
            return
        prev, self._in_callback = self._in_callback, threading.get_ident()
        try:
            func(self, *args)
        except Exception:
            _log.exception("tern.Client: exception in %s (the loop goes on)", name)
        finally:
            self._in_callback = prev

    def _native_connect(self, err, session_present, reason, props):
        if err[0] != _OK:
            return  # connect() raises; the loop's own retries are not reported
        self._connack = ConnAck(bool(session_present), reason,
                                _props_dict(_props_from_native(PacketTypes.CONNACK, props)) if props else {})
        self._call("on_connect", self._connack)

    def _native_disconnect(self, err):
        if err[0] == _OK:
            self._call("on_disconnect", None)
        else:
            self._call("on_disconnect", _from_native(err, ConnectionLost, "connection lost"))

    def _native_message(self, m):
        if self._on_message is not None:
            self._call("on_message", Message(m))
            return
        with self._cond:
            if self._queue.maxlen is not None and len(self._queue) == self._queue.maxlen:
                self._dropped += 1
            self._queue.append(Message(m))
            self._cond.notify()

    def _native_publish(self, mid, err, reason):
        if err[0] == _OK:
            self._call("on_publish", mid, reason)

    def _native_subscribe(self, mid, err, codes):
        if err[0] in (_OK, _REASON):
            self._call("on_subscribe", mid, list(codes))

    def _native_unsubscribe(self, mid, err, codes):
        if err[0] in (_OK, _REASON):
            self._call("on_unsubscribe", mid, list(codes))
