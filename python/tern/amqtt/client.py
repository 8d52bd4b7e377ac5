"""amqtt's MQTTClient (amqtt.client) on tern.AsyncClient: an amqtt program runs
unchanged but for `amqtt.` -> `tern.amqtt.` in its imports.

    from tern.amqtt.client import MQTTClient, ClientException
    from tern.amqtt.mqtt.constants import QOS_1

    async def main():
        c = MQTTClient(config={"keep_alive": 30})
        await c.connect("mqtt://127.0.0.1:1883/")
        await c.subscribe([("a/#", QOS_1)])
        await c.publish("a/b", b"hello", qos=QOS_1)
        message = await c.deliver_message(timeout=5)
        packet = message.publish_packet
        print(packet.variable_header.topic_name, packet.payload.data)
        await c.disconnect()

MQTT 3.1.1, as amqtt. The config keys amqtt documents: keep_alive, ping_delay
(CONNECT carries keep_alive - ping_delay, as in amqtt), default_qos,
default_retain, topics ({topic: {qos, retain}}), auto_reconnect,
reconnect_max_interval, reconnect_retries, cleansession, connect_timeout,
will ({topic, message, qos, retain}), broker ({uri, cafile, capath, cadata}),
certfile/keyfile, check_hostname. Reconnection follows amqtt's policy (delays
of 2, 4, 8... seconds up to reconnect_max_interval, reconnect_retries of them;
negative: for ever), run here in Python; the network itself is tern's C++.

Beyond amqtt: after a reconnect to a broker that kept no session, the client
subscribes again to what it had subscribed (amqtt leaves that to the program).
ping() sends a PINGREQ and waits for its PINGRESP (tern also pings by itself
for the keep alive).
"""
import asyncio
import collections
import contextlib
import copy
import functools
import logging
import math
import secrets
import string
import urllib.parse

from tern.aio import AsyncClient, MQTTv311, Will
from tern.aio import ConnectError as _TernConnectError
from tern.aio import MQTTError as _TernError

from .errors import ClientError, ClientException, ConnectError, ConnectException  # noqa: F401 (amqtt's names)
from .mqtt.connack import CONNECTION_ACCEPTED
from .mqtt.constants import QOS_0, QOS_1, QOS_2
from .mqtt.publish import PublishPacket
from .session import IncomingApplicationMessage, OutgoingApplicationMessage, Session

__all__ = ["MQTTClient", "ClientException", "ConnectException", "ClientError", "ConnectError"]

# amqtt's defaults (its scripts/default_client.yaml).
_defaults = {
    "keep_alive": 10,
    "ping_delay": 1,
    "default_qos": 0,
    "default_retain": False,
    "auto_reconnect": True,
    "cleansession": True,
    "reconnect_max_interval": 10,
    "reconnect_retries": 2,
    "broker": {"uri": "mqtt://127.0.0.1"},
}

base_logger = logging.getLogger(__name__)

_ID_CHARS = string.ascii_letters + string.digits


def gen_client_id():
    """A random client id, "amqtt/" and 16 characters (amqtt.utils.gen_client_id)."""
    return "amqtt/" + "".join(secrets.choice(_ID_CHARS) for _ in range(16))


def mqtt_connected(func):
    """Waits until the client is connected before running `func`; raises
    ClientError when it will not connect again (amqtt's decorator)."""

    @functools.wraps(func)
    async def wrapper(self, *args, **kwargs):
        if not self._connected_state.is_set():
            base_logger.warning("Client not connected, waiting for it")
            waits = [asyncio.ensure_future(self._connected_state.wait()),
                     asyncio.ensure_future(self._no_more_connections.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
            if self._no_more_connections.is_set() and not self._connected_state.is_set():
                raise ClientError("Will not reconnect")
        return await func(self, *args, **kwargs)

    return wrapper


def _incoming(m):
    """amqtt's IncomingApplicationMessage for a tern.aio.Message (data as a
    bytearray, as amqtt reads it off the stream)."""
    data = bytearray(m.payload)
    packet_id = m.mid or None
    msg = IncomingApplicationMessage(packet_id, m.topic, m.qos, data, m.retain)
    msg.publish_packet = PublishPacket.build(m.topic, data, packet_id, m.dup, m.qos, m.retain)
    return msg


class MQTTClient:
    """amqtt's MQTT client: MQTTClient(client_id=None, config=None, loop=None)
    (`loop` is accepted as amqtt 0.10 did; the running loop is used)."""

    def __init__(self, client_id=None, config=None, loop=None):
        self.logger = logging.getLogger(__name__)
        if config is not None and not isinstance(config, dict):
            raise TypeError("config: must be a dict, not %s" % type(config).__name__)
        if client_id is not None and not isinstance(client_id, str):
            raise TypeError("client_id: must be a str, not %s" % type(client_id).__name__)
        self.config = copy.deepcopy(_defaults)
        if config is not None:
            self.config.update(config)
        self.client_id = client_id if client_id is not None else gen_client_id()
        self._loop = loop
        self.session = None
        self._client = None
        self._disconnect_task = None
        self._connected_state = asyncio.Event()
        self._no_more_connections = asyncio.Event()
        self.additional_headers = {}
        self.client_tasks = collections.deque()

    @property
    def extra_headers(self):
        """amqtt 0.10's name of additional_headers."""
        return self.additional_headers

    @extra_headers.setter
    def extra_headers(self, value):
        self.additional_headers = value

    # ------------------------------------------------------------------ connection

    async def connect(self, uri=None, cleansession=None, cafile=None, capath=None, cadata=None,
                      additional_headers=None, extra_headers=None):
        """Connects to the broker (uri: mqtt, mqtts, ws or wss; else config
        ["broker"]["uri"]) and returns the CONNACK return code (0). Raises
        ConnectError (ConnectException) when refused (its return_code) or
        unreachable; with auto_reconnect, after reconnect()'s attempts."""
        headers = additional_headers if additional_headers is not None else extra_headers
        self.session = self._init_session(uri, cleansession, cafile, capath, cadata)
        self.additional_headers = headers if headers is not None else {}
        self.logger.debug("Connecting to: %s", self.session.broker_uri)
        if self._client is not None:
            # New connection settings: a new client (the old one closed).
            old, self._client = self._client, None
            with contextlib.suppress(Exception):
                await old.disconnect()
        try:
            return await self._do_connect()
        except asyncio.CancelledError as e:
            raise ConnectError("Future or Task was cancelled") from e
        except Exception as e:
            self.logger.warning("Connection failed: %r", e)
            if not self.config.get("auto_reconnect", False):
                raise
            return await self.reconnect()

    async def disconnect(self):
        """Sends DISCONNECT and closes the connection."""
        await self.cancel_tasks()
        if self.session is None or self._client is None:
            self.logger.warning("Session or handler not initialized, ignoring disconnect.")
            return
        if self._disconnect_task is not None and not self._disconnect_task.done():
            self._disconnect_task.cancel()
        if not self._client.connected:
            self.logger.warning("Client session not connected, ignoring call.")
        await self._client.disconnect()
        self._connected_state.clear()

    async def cancel_tasks(self):
        """Cancels the pending deliver_message() calls."""
        while self.client_tasks:
            self.client_tasks.pop().cancel()

    async def reconnect(self, cleansession=None):
        """Connects again with the last connect()'s settings, trying up to
        reconnect_retries more times, reconnect_max_interval apart at most.
        Returns the CONNACK return code; raises ConnectError after the last
        failed attempt."""
        if self._client is not None and self._client.connected:
            self.logger.warning("Client already connected")
            return CONNECTION_ACCEPTED
        if self.session is None:
            raise ClientError("Session is not initialized: connect() first")
        if self.session is not None and cleansession:
            self.session.clean_session = cleansession
        self.logger.debug("Reconnecting with session parameters: %s", self.session)
        max_interval = self.config.get("reconnect_max_interval", 10)
        retries = self.config.get("reconnect_retries", 2)
        attempt = 1
        while True:
            try:
                self.logger.debug("Reconnect attempt %d...", attempt)
                return await self._do_connect()
            except asyncio.CancelledError as e:
                raise ConnectError("Future or Task was cancelled") from e
            except Exception as e:
                self.logger.warning("Reconnection attempt failed: %r", e)
                if 0 <= retries < attempt:
                    self.logger.error("Maximum connection attempts reached. Reconnection aborted.")
                    raise ConnectError("Too many failed attempts") from e
                delay = min(max_interval, 2 ** attempt)
                self.logger.debug("Waiting %s seconds before next attempt", delay)
                await asyncio.sleep(delay)
                attempt += 1

    async def _do_connect(self):
        return_code = await self._connect_coro()
        self._disconnect_task = asyncio.ensure_future(self.handle_connection_close())
        return return_code

    async def _connect_coro(self):
        s = self.session
        if s is None:
            raise ClientError("Session is not initialized.")
        parts = urllib.parse.urlsplit(s.broker_uri)
        if parts.scheme not in ("mqtt", "mqtts", "ws", "wss"):
            raise ClientError("incorrect scheme defined in uri: %r" % parts.scheme)
        s.username = s.username or (urllib.parse.unquote(parts.username) if parts.username else None)
        s.password = s.password or (urllib.parse.unquote(parts.password) if parts.password else None)
        s.remote_address = parts.hostname
        s.remote_port = parts.port or {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}[parts.scheme]
        if self._client is None:
            self._client = self._make_client()
        self._connected_state.clear()
        timeout = self.config.get("connect_timeout")
        try:
            connect = self._client.connect()
            connack = await (asyncio.wait_for(connect, timeout) if timeout else connect)
        except _TernConnectError as e:
            if e.reason_code is not None:
                self.logger.warning("Connection rejected with code '%s'", e.reason_code)
                exc = ConnectError("Connection rejected by broker")
                exc.return_code = e.reason_code
                raise exc from None
            raise ConnectError(e) from (e.__cause__ or e)
        except (_TernError, OSError, asyncio.TimeoutError) as e:
            raise ConnectError(e) from e
        self._connected_state.set()
        self.logger.debug("Connected to %s:%s", s.remote_address, s.remote_port)
        return connack.reason_code

    def _make_client(self):
        s, cfg = self.session, self.config
        will = Will(s.will_topic, s.will_message, s.will_qos, bool(s.will_retain)) if s.will_flag else None
        check_hostname = cfg.get("check_hostname")
        client = AsyncClient(
            s.broker_uri, client_id=s.client_id, protocol=MQTTv311, clean_start=bool(s.clean_session),
            keep_alive=min(max(int(s.keep_alive), 0), 65535), username=s.username, password=s.password, will=will,
            ca_file=s.cafile, ca_path=s.capath, ca_data=s.cadata,
            cert_file=cfg.get("certfile") if "keyfile" in cfg else None,
            key_file=cfg.get("keyfile") if "certfile" in cfg else None,
            check_hostname=check_hostname if isinstance(check_hostname, bool) else True,
            ws_headers=self.additional_headers, reconnect=False, resubscribe=True)
        client._end_messages_on_loss = False  # deliver_message() waits across reconnects, as in amqtt
        return client

    async def handle_connection_close(self):
        """Watches the connection; when it is lost, reconnects (auto_reconnect)
        or ends the pending deliver_message() calls."""
        client = self._client

        def cancel_tasks():
            self._no_more_connections.set()
            while self.client_tasks:
                task = self.client_tasks.popleft()
                if not task.done():
                    task.cancel()

        self.logger.debug("Monitoring broker disconnection")
        why = await client.wait_disconnected()
        if why is None or client is not self._client:
            return  # disconnect()
        self.logger.warning("Disconnected from broker")
        self._connected_state.clear()
        if self.config.get("auto_reconnect", False):
            self.logger.debug("Auto-reconnecting")
            try:
                await self.reconnect()
            except ConnectError:
                cancel_tasks()
        else:
            cancel_tasks()

    def _init_session(self, uri, cleansession, cafile, capath, cadata):
        broker = dict(self.config.get("broker") or {})
        broker.update({k: v for k, v in {"uri": uri, "cafile": cafile, "capath": capath, "cadata": cadata}.items()
                       if v is not None})
        if not broker.get("uri"):
            raise ClientError("Missing connection parameter 'uri'")
        if not isinstance(broker["uri"], str):
            raise TypeError("uri: must be a str, not %s" % type(broker["uri"]).__name__)
        s = Session()
        s.broker_uri = broker["uri"]
        s.client_id = self.client_id
        s.cafile = broker.get("cafile")
        s.capath = broker.get("capath")
        s.cadata = broker.get("cadata")
        s.clean_session = cleansession if cleansession is not None else self.config.get("cleansession", True)
        for key in ("keep_alive", "ping_delay"):
            v = self.config[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError("config[%r]: must be a number of seconds, not %s" % (key, type(v).__name__))
            if not math.isfinite(v):
                raise ValueError("config[%r]: must be a number of seconds, not %r" % (key, v))
        s.keep_alive = self.config["keep_alive"] - self.config["ping_delay"]
        will = self.config.get("will")
        if will:
            message = will["message"]
            s.will_flag = True
            s.will_retain = will.get("retain", False)
            s.will_topic = will["topic"]
            s.will_message = message.encode() if isinstance(message, str) else message
            s.will_qos = will.get("qos", 0)
        return s

    # ------------------------------------------------------------------ messages

    @mqtt_connected
    async def ping(self):
        """Sends a PINGREQ and waits for the broker's PINGRESP."""
        try:
            await self._client.ping()
        except _TernError as e:
            raise ClientError(str(e)) from e

    @mqtt_connected
    async def publish(self, topic, message, qos=None, retain=None, ack_timeout=None):
        """Publishes `message` (bytes) and waits for the flow of its QoS
        (default_qos / topics config unless given), at most ack_timeout
        seconds (asyncio.TimeoutError). Returns the OutgoingApplicationMessage."""
        if self._client is None:
            raise ClientError("Handler is not initialized.")
        if qos is not None:
            if qos not in (QOS_0, QOS_1, QOS_2) or isinstance(qos, bool):
                raise ClientError("QOS '%s' is not one of QOS_0, QOS_1, QOS_2." % (qos,))
            app_qos = qos
        else:
            app_qos = self.config["default_qos"]
            with contextlib.suppress(KeyError, TypeError):
                app_qos = self.config["topics"][topic]["qos"]
        if retain:
            app_retain = retain
        else:
            app_retain = self.config["default_retain"]
            with contextlib.suppress(KeyError, TypeError):
                app_retain = self.config["topics"][topic]["retain"]
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise TypeError("message: must be bytes, not %s" % type(message).__name__)
        sent = OutgoingApplicationMessage(None, topic, app_qos, message, bool(app_retain))
        flow = self._client.publish(topic, message, app_qos, bool(app_retain))
        try:
            if ack_timeout is not None and ack_timeout > 0:
                await asyncio.wait_for(flow, ack_timeout)
            else:
                await flow
        except _TernError as e:
            raise ClientError(str(e)) from e
        sent.publish_packet = sent.build_publish_packet()
        return sent

    @mqtt_connected
    async def subscribe(self, topics):
        """Subscribes to [(filter, qos), ...]; returns the SUBACK's return
        codes, one per filter (the granted QoS, or 0x80)."""
        if not isinstance(topics, (list, tuple)) or not all(isinstance(t, (list, tuple)) and len(t) == 2
                                                               for t in topics):
            raise TypeError("topics: a list of (filter, qos) tuples")
        try:
            return await self._client.subscribe([tuple(t) for t in topics])
        except _TernError as e:
            raise ClientError(str(e)) from e

    @mqtt_connected
    async def unsubscribe(self, topics):
        """Unsubscribes from [filter, ...] and waits for the UNSUBACK."""
        if not isinstance(topics, (list, tuple)):
            raise TypeError("topics: a list of filters")
        try:
            await self._client.unsubscribe(list(topics))
        except _TernError as e:
            raise ClientError(str(e)) from e

    async def deliver_message(self, timeout=None, *, timeout_duration=None):
        """The next received message (an IncomingApplicationMessage: topic,
        data, qos, publish_packet), waiting at most `timeout` seconds (amqtt
        0.11 calls it timeout_duration): asyncio.TimeoutError then."""
        if timeout is None:
            timeout = timeout_duration
        if isinstance(timeout, float) and math.isnan(timeout):
            raise ValueError("timeout: must be a number of seconds or None, not nan")
        if self._client is None:
            raise ClientError("Handler is not initialized.")
        client = self._client
        task = asyncio.ensure_future(self._next_message(client))
        self.client_tasks.append(task)
        self.logger.debug("Waiting for message delivery")
        try:
            done, _ = await asyncio.wait([task], return_when=asyncio.FIRST_EXCEPTION, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            if task.done() and not task.cancelled() and task.exception() is None:
                client._inbox._queue.appendleft(task.result())  # not lost: the next call gets it
            raise
        finally:
            with contextlib.suppress(ValueError):
                self.client_tasks.remove(task)
        if task in done:
            exception = task.exception()  # CancelledError when the connection closed, as in amqtt
            if exception is not None:
                raise exception
            return _incoming(task.result())
        task.cancel()
        raise asyncio.TimeoutError("Timeout waiting for message")

    @staticmethod
    async def _next_message(client):
        try:
            return await client.receive()
        except _TernError as e:
            raise ClientError(str(e)) from e
