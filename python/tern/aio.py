"""tern.AsyncClient: an asyncio MQTT client on tern's C++ client, MQTT 5 first.

    async with tern.AsyncClient("mqtt://127.0.0.1:1883", client_id="app-1") as c:
        await c.subscribe([("sensors/#", 1)])                     # the granted codes: [1]
        await c.publish("sensors/t1", b"21.5", qos=1,             # returns when PUBACK came
                        properties={"message_expiry_interval": 60})
        async for m in c.messages():
            print(m.topic, m.payload, m.qos, m.properties)

Many publishes can be in flight at once: `await asyncio.gather(*(c.publish(t, p, qos=1) for ...))`.

Threads: network I/O, keep alive and reconnection run in C++ on the native
client's own thread (tern._tern.Client, loop_start), never on the event loop.
Its callbacks run on that thread with the GIL and only queue the event; the
event loop is woken once per batch of events (call_soon_threadsafe) and
resolves the waiting futures there, by request id (mid).

MQTT 5 properties are dicts with the spec's names in snake case
({"message_expiry_interval": 60, "user_property": [("k", "v")],
"correlation_data": b"..."}); a tern.paho.mqtt.properties.Properties works too.
"""
import asyncio
import collections
import logging
import math
import urllib.parse

from tern import _tern
from tern._values import (ConnAck, Will, _check_qos, _check_topic, _connect_options, _header_pairs, _native_options,
                          _payload_bytes, _props_body, _props_dict, _tls_options)
from tern.errors import (_ABORTED, _CLIENT, _CONNACK3, _OK, _OS, _OTHER, _REASON, ConnectError, MQTTError,
                         _os_error)
from tern.paho.mqtt.packettypes import PacketTypes
from tern.paho.mqtt.properties import _from_native

__all__ = ["AsyncClient", "Message", "Will", "ConnAck", "MQTTError", "ConnectError", "MQTTv31", "MQTTv311", "MQTTv5"]

MQTTv31, MQTTv311, MQTTv5 = 3, 4, 5

# Received messages carry their properties as paho's Properties (the same
# factory tern.paho.mqtt.client sets).
_tern._set_properties_factory(_from_native)

_log = logging.getLogger("tern.aio")

# tern._tern's client_error values used here (the error kinds are tern.errors').
_ALREADY_CONNECTED, _INVALID_URI, _UNSUPPORTED_SCHEME = 2, 6, 7

_SCHEMES = ("mqtt", "tcp", "mqtts", "ssl", "tls", "ws", "wss")


class Message:
    """A received message (or one to compare with): topic, payload (bytes),
    qos, retain, dup, mid (its packet identifier) and properties (a dict,
    empty under MQTT 3.1.1)."""
    __slots__ = ("topic", "payload", "qos", "retain", "dup", "mid", "_native", "_props")

    def __init__(self, topic, payload=b"", qos=0, retain=False, properties=None, *, dup=False, mid=0):
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.mid = mid
        self._native = None
        self._props = properties

    @classmethod
    def _from_native(cls, m):
        self = cls.__new__(cls)
        self.topic = m.topic
        self.payload = m.payload
        self.qos = m.qos
        self.retain = m.retain
        self.dup = m.dup
        self.mid = m.mid
        self._native = m  # its properties are read when asked for
        self._props = None
        return self

    @property
    def properties(self):
        if self._props is None:
            n, self._native = self._native, None
            self._props = _props_dict(n.properties) if n is not None else {}
        return self._props

    def __repr__(self):
        return "Message(%r, %r, qos=%d, retain=%r)" % (self.topic, self.payload, self.qos, self.retain)


# ---------------------------------------------------------------------- arguments

def _split_uri(uri):
    """(the URI without user information, username, password)."""
    if not isinstance(uri, str):
        raise TypeError("uri: must be a str, not %s" % type(uri).__name__)
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in _SCHEMES or not parts.netloc:
        raise ValueError("uri: must be mqtt://, mqtts://, ws:// or wss:// followed by host[:port], not %r" % uri)
    if "@" not in parts.netloc:
        return uri, None, None
    userinfo, hostport = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    rest = urllib.parse.urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return rest, urllib.parse.unquote(user), (urllib.parse.unquote(password) if ":" in userinfo else None)


def _error(err, what, cls=MQTTError):
    """An exception for a failed request (err: tern._tern's (kind, value, message))."""
    kind, value, message = err
    if kind in (_REASON, _CONNACK3):
        return cls("%s refused: %s (reason code %d)" % (what, message, value), value)
    if kind == _ABORTED:
        return cls("%s: the client stopped before it completed" % what)
    e = cls("%s failed: %s" % (what, message or "connection lost"))
    if kind in (_OS, _OTHER):
        e.__cause__ = _os_error(err)
    return e


class _Inbox:
    """Received messages for messages()/receive(), on the event loop's thread."""

    def __init__(self):
        self._queue = collections.deque()
        self._waiters = collections.deque()
        self._end = None  # None: open; else a callable making what get() raises

    def put(self, m):
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(m)
                return
        self._queue.append(m)

    def close(self, make_exc):
        self._end = make_exc
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_exception(make_exc())

    def reopen(self):
        self._end = None

    async def get(self):
        if self._queue:
            return self._queue.popleft()
        if self._end is not None:
            raise self._end()
        w = asyncio.get_running_loop().create_future()
        self._waiters.append(w)
        try:
            return await w
        except asyncio.CancelledError:
            # Cancelled after the message was handed over: it stays first in line.
            if w.done() and not w.cancelled() and w.exception() is None:
                self._queue.appendleft(w.result())
            raise


class _Ended(Exception):
    """messages(): the client disconnected."""


class AsyncClient:
    """An asyncio MQTT client (MQTT 5 by default; protocol=MQTTv311 for 3.1.1).

    AsyncClient(uri, client_id="", ...): uri is mqtt://host[:port], mqtts://,
    ws://host[:port]/path or wss:// (user:password@ in it is the login).
    TLS (mqtts, wss): ca_file, ca_path, ca_data (PEM text or DER bytes),
    cert_file / key_file (a client certificate), check_hostname, tls_insecure
    (no verification: tests only), server_name. WebSocket: ws_headers (extra
    headers of the upgrade request). reconnect (tern's backoff between
    reconnect_min_delay and reconnect_max_delay seconds) after an accepted
    connection is lost; with resubscribe, the client subscribes again to what
    it subscribed when the broker kept no session. persistence_dir keeps the
    session's QoS 1/2 messages on disk across restarts of the process."""

    def __init__(self, uri=None, *, client_id="", protocol=MQTTv5, clean_start=True, keep_alive=60,
                 username=None, password=None, will=None, session_expiry=None, properties=None,
                 ca_file=None, ca_path=None, ca_data=None, cert_file=None, key_file=None,
                 check_hostname=True, tls_insecure=False, server_name=None, ws_headers=None,
                 reconnect=True, reconnect_min_delay=0.5, reconnect_max_delay=30.0, resubscribe=True,
                 max_inflight=0, max_queued=0, persistence_dir=""):
        if uri is not None:
            _split_uri(uri)
        self._connect_opts = _connect_options(client_id, protocol, clean_start, keep_alive, username, password, will,
                                              session_expiry, properties)
        persistence_dir = _native_options(client_id, persistence_dir, reconnect_min_delay, reconnect_max_delay,
                                          max_inflight=max_inflight, max_queued=max_queued)
        tls = _tls_options(None, check_hostname, tls_insecure, ca_file=ca_file, ca_path=ca_path, ca_data=ca_data,
                           cert_file=cert_file, key_file=key_file, server_name=server_name)
        self._uri = uri
        self._client_id = client_id
        self._protocol = protocol
        self._reconnect = bool(reconnect)
        self._resubscribe = bool(resubscribe)
        self._native = _tern.Client(self, reconnect=self._reconnect, reconnect_min=float(reconnect_min_delay),
                                    reconnect_max=float(reconnect_max_delay), max_queued=max_queued,
                                    max_inflight=max_inflight, persistence_dir=persistence_dir, tls=tls,
                                    ws_headers=_header_pairs(ws_headers, True))
        self._native.set_protocol(protocol)
        self._native.set_callbacks(_tern.CB_CONNECT | _tern.CB_DISCONNECT | _tern.CB_MESSAGE | _tern.CB_PUBLISH
                                   | _tern.CB_SUBSCRIBE | _tern.CB_UNSUBSCRIBE)
        self._loop = None
        self._events = collections.deque()   # (handler, args) from the native thread
        self._wake_scheduled = False
        self._connect_fut = None
        self._pub_futs = {}                    # mid -> future
        self._sub_futs = {}                    # mid -> (future, [(filter, qos, nl, rap, rh)])
        self._unsub_futs = {}                  # mid -> future
        self._lost_waiters = []
        self._last_lost = None                 # why the last connection ended (None: disconnect())
        self._subs = {}                        # filter -> (filter, qos, nl, rap, rh): for resubscribe
        self._inbox = _Inbox()
        self._connected = False
        self._closing = False
        self._open = False                     # between connect() and disconnect(): the native loop runs
        self._connack = None
        # The amqtt layer reconnects by itself and keeps its message queue open meanwhile.
        self._end_messages_on_loss = True

    # ------------------------------------------------------------------ properties

    @property
    def connected(self):
        """True while a connection is accepted and open."""
        return self._connected

    @property
    def client_id(self):
        """The client id: the one given, or the one the broker assigned (MQTT 5)."""
        return self._native.client_id() or self._client_id

    @property
    def connack(self):
        """The last accepted CONNACK (None before)."""
        return self._connack

    # ------------------------------------------------------------------ connection

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.disconnect()

    async def connect(self, uri=None):
        """Connects (uri: the constructor's unless given) and returns the
        CONNACK. Raises ConnectError when the broker refuses or cannot be
        reached. Again after a lost connection or disconnect(): the same
        session state (queued and in-flight messages) goes on."""
        if uri is not None:
            _split_uri(uri)
            self._uri = uri
        if self._uri is None:
            raise ValueError("uri: no broker URI given")
        if self._connect_fut is not None and not self._connect_fut.done():
            raise MQTTError("connect: a connect() is already in progress")
        if self._connected:
            raise MQTTError("connect: already connected")
        loop = asyncio.get_running_loop()
        self._loop = loop
        target, user, password = _split_uri(self._uri)
        fut = loop.create_future()
        self._connect_fut = fut
        self._closing = False
        self._open = True
        self._inbox.reopen()
        n = self._native
        n.loop_start()
        opts = dict(self._connect_opts)
        if opts["username"] is None:
            opts["username"] = user  # from the URI's user information
        if opts["password"] is None:
            opts["password"] = password
        n.connect_async(target, opts)
        try:
            return await fut
        except asyncio.CancelledError:
            n.disconnect(0, b"")  # stop the attempt
            raise
        finally:
            if self._connect_fut is fut:
                self._connect_fut = None

    async def disconnect(self, reason_code=0, properties=None):
        """Sends DISCONNECT (reason_code, properties: MQTT 5) and closes. Waiting
        requests fail with MQTTError; messages() ends. The will is not sent."""
        if isinstance(reason_code, bool) or not isinstance(reason_code, int) or not 0 <= reason_code <= 255:
            raise ValueError("reason_code: an MQTT reason code, 0..255")
        body = _props_body(properties, PacketTypes.DISCONNECT) if self._protocol == MQTTv5 else b""
        loop = asyncio.get_running_loop()
        self._closing = True
        self._open = False
        n = self._native
        token = n.disconnect(reason_code, body)
        await loop.run_in_executor(None, token.wait, 10.0)
        self._connected = False
        self._subs.clear()
        self._fail_pending(lambda: MQTTError("disconnected"))
        self._resolve_lost(None)
        self._inbox.close(_Ended)
        await loop.run_in_executor(None, n.loop_stop)

    async def wait_disconnected(self):
        """Waits until the current connection ends: None after disconnect(),
        else an MQTTError saying why it was lost (with reconnect on, the client
        is reconnecting by then)."""
        if not self._connected and (self._connect_fut is None or self._connect_fut.done()):
            return self._last_lost
        fut = asyncio.get_running_loop().create_future()
        self._lost_waiters.append(fut)
        return await fut

    # ------------------------------------------------------------------ messages

    async def publish(self, topic, payload=b"", qos=0, retain=False, properties=None):
        """Publishes; QoS 1 and 2 return when the flow completed (PUBACK /
        PUBCOMP), QoS 0 once queued. Returns the broker's reason code (0, or
        e.g. 16 "no matching subscribers" under MQTT 5); raises MQTTError when
        the broker refused (reason code >= 0x80) or the client could not
        complete it. While reconnecting the message is queued; before
        connect() and after disconnect(), MQTTError."""
        _check_topic(topic)
        data = _payload_bytes(payload)
        _check_qos(qos)
        self._check_open("publish")
        body = _props_body(properties, PacketTypes.PUBLISH) if properties is not None and self._protocol == MQTTv5 \
            else b""
        token = self._native.publish(topic, data, qos, bool(retain), body)
        if qos == 0:
            if token.is_complete() and token.error()[0] != _OK:
                raise _error(token.error(), "publish")
            return 0
        fut = self._future()
        self._pub_futs[token.mid] = fut
        return await fut

    async def subscribe(self, topics, qos=0, *, no_local=False, retain_as_published=False, retain_handling=0,
                        properties=None):
        """Subscribes to `topics`: a filter, or a list of filters or of
        (filter, qos) pairs (`qos` for those without). MQTT 5 options apply to
        every filter. Returns the granted codes, one per filter (0-2, or a
        failure code >= 0x80)."""
        entries = self._sub_entries(topics, qos, no_local, retain_as_published, retain_handling)
        self._check_open("subscribe")
        body = _props_body(properties, PacketTypes.SUBSCRIBE) if self._protocol == MQTTv5 else b""
        token = self._native.subscribe(entries, body)
        fut = self._future()
        self._sub_futs[token.mid] = (fut, entries)
        return await fut

    async def unsubscribe(self, topics, properties=None):
        """Unsubscribes from a filter or a list of them; returns the codes (MQTT 5:
        one per filter; 3.1.1: 0 each)."""
        filters = [topics] if isinstance(topics, str) else list(topics) if isinstance(topics, (list, tuple)) else None
        if not filters or not all(isinstance(f, str) and f for f in filters):
            raise TypeError("topics: a filter (str) or a non-empty list of them")
        self._check_open("unsubscribe")
        body = _props_body(properties, PacketTypes.UNSUBSCRIBE) if self._protocol == MQTTv5 else b""
        for f in filters:
            self._subs.pop(f, None)
        token = self._native.unsubscribe(filters, body)
        fut = self._future()
        self._unsub_futs[token.mid] = fut
        return await fut

    async def ping(self, timeout=None):
        """Sends a PINGREQ and returns when its PINGRESP came (at most `timeout`
        seconds: asyncio.TimeoutError). The keep alive pings by itself."""
        self._check_open("ping")
        token = self._native.ping()
        done = await asyncio.get_running_loop().run_in_executor(None, token.wait, timeout)
        if not done:
            raise asyncio.TimeoutError("ping: no PINGRESP within %s s" % timeout)
        err = token.error()
        if err[0] != _OK:
            raise _error(err, "ping")

    async def messages(self):
        """The received messages, in order, as they come: `async for m in
        c.messages()`. Ends after disconnect(); raises MQTTError when the
        connection is lost and reconnect is off. Several iterators (and
        receive()) share one queue: each message goes to one of them."""
        while True:
            try:
                m = await self._inbox.get()
            except _Ended:
                return
            yield m

    async def receive(self, timeout=None):
        """The next received message; asyncio.TimeoutError after `timeout`
        seconds without one (None: no limit)."""
        if isinstance(timeout, float) and math.isnan(timeout):
            raise ValueError("timeout: must be a number of seconds or None, not nan")
        try:
            if timeout is None:
                return await self._inbox.get()
            return await asyncio.wait_for(self._inbox.get(), timeout)
        except _Ended:
            raise MQTTError("receive: the client disconnected") from None

    # ------------------------------------------------------------------ internals

    def _check_open(self, what):
        # Before connect() and after disconnect() the native loop does not run.
        if not self._open:
            raise MQTTError("%s: not connected (connect() first)" % what)

    def _future(self):
        return self._loop.create_future()

    @staticmethod
    def _sub_entries(topics, qos, no_local, retain_as_published, retain_handling):
        if isinstance(topics, str):
            topics = [topics]
        if not isinstance(topics, (list, tuple)) or not topics:
            raise TypeError("topics: a filter (str) or a non-empty list of filters or (filter, qos) pairs")
        if retain_handling not in (0, 1, 2):
            raise ValueError("retain_handling: must be 0, 1 or 2")
        entries = []
        for t in topics:
            if isinstance(t, str):
                f, q = t, qos
            elif isinstance(t, (tuple, list)) and len(t) == 2:
                f, q = t
            else:
                raise TypeError("topics: each is a filter (str) or a (filter, qos) pair, not %r" % (t,))
            if not isinstance(f, str) or not f:
                raise ValueError("topics: a filter must be a non-empty str")
            entries.append((f, _check_qos(q), bool(no_local), bool(retain_as_published), retain_handling))
        return entries

    def _fail_pending(self, make_exc):
        futs = list(self._pub_futs.values()) + [f for f, _ in self._sub_futs.values()] + list(
            self._unsub_futs.values())
        self._pub_futs.clear()
        self._sub_futs.clear()
        self._unsub_futs.clear()
        for f in futs:
            if not f.done():
                f.set_exception(make_exc())

    def _resolve_lost(self, why):
        self._last_lost = why
        waiters, self._lost_waiters = self._lost_waiters, []
        for f in waiters:
            if not f.done():
                f.set_result(why)

    # Events from tern._tern, on the native client's thread (GIL held): queued
    # for the event loop, which is woken once per batch.

    def _post(self, handler, args):
        self._events.append((handler, args))
        if self._wake_scheduled:
            return
        loop = self._loop
        if loop is None:
            return
        self._wake_scheduled = True
        try:
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the event loop is closed
            self._wake_scheduled = False

    def _native_connect(self, err, session_present, reason, props):
        self._post(AsyncClient._on_connect, (err, session_present, reason, props))

    def _native_disconnect(self, err):
        self._post(AsyncClient._on_disconnect, (err,))

    def _native_message(self, m):
        self._post(AsyncClient._on_message, (m,))

    def _native_publish(self, mid, err, reason):
        self._post(AsyncClient._on_publish, (mid, err, reason))

    def _native_subscribe(self, mid, err, codes):
        self._post(AsyncClient._on_subscribe, (mid, err, codes))

    def _native_unsubscribe(self, mid, err, codes):
        self._post(AsyncClient._on_unsubscribe, (mid, err, codes))

    # The same events, on the event loop.

    def _drain(self):
        self._wake_scheduled = False
        events = self._events
        while events:
            handler, args = events.popleft()
            try:
                handler(self, *args)
            except Exception:
                _log.exception("tern.AsyncClient: handling %s", handler.__name__)

    def _on_connect(self, err, session_present, reason, props):
        fut = self._connect_fut
        kind = err[0]
        if kind == _OK:
            self._connected = True
            connack = ConnAck(bool(session_present), reason,
                              _props_dict(_from_native(PacketTypes.CONNACK, props)) if props else {})
            self._connack = connack
            if self._resubscribe and self._subs and not session_present:
                # The broker kept no session: subscribe again (the outcome is not awaited).
                self._native.subscribe(list(self._subs.values()), b"")
            if fut is not None and not fut.done():
                fut.set_result(connack)
            return
        if fut is None or fut.done():
            return
        if kind == _CLIENT and err[1] == _ALREADY_CONNECTED:
            fut.set_exception(MQTTError("connect: already connected"))
        elif kind == _CLIENT and err[1] in (_INVALID_URI, _UNSUPPORTED_SCHEME):
            fut.set_exception(ValueError("uri: %s" % err[2]))
        else:
            fut.set_exception(_error(err, "connect", ConnectError))

    def _on_disconnect(self, err):
        self._connected = False
        if self._closing:
            return
        why = _error(err, "connection lost") if err[0] != _OK else MQTTError("connection lost")
        if not self._reconnect:
            self._fail_pending(lambda: MQTTError(str(why)))
            if self._end_messages_on_loss:
                self._inbox.close(lambda: MQTTError(str(why)))
        self._resolve_lost(why)

    def _on_message(self, m):
        self._inbox.put(Message._from_native(m))

    def _on_publish(self, mid, err, reason):
        fut = self._pub_futs.pop(mid, None)
        if fut is None or fut.done():
            return
        if err[0] == _OK:
            fut.set_result(reason)
        else:
            fut.set_exception(_error(err, "publish"))

    def _on_subscribe(self, mid, err, codes):
        entry = self._sub_futs.pop(mid, None)
        if entry is None:
            return
        fut, entries = entry
        if err[0] not in (_OK, _REASON):
            if not fut.done():
                fut.set_exception(_error(err, "subscribe"))
            return
        for e, code in zip(entries, codes):
            if code < 0x80:
                self._subs[e[0]] = e
        if not fut.done():
            fut.set_result(list(codes))

    def _on_unsubscribe(self, mid, err, codes):
        fut = self._unsub_futs.pop(mid, None)
        if fut is None or fut.done():
            return
        if err[0] in (_OK, _REASON):
            fut.set_result(list(codes))
        else:
            fut.set_exception(_error(err, "unsubscribe"))
