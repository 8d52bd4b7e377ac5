"""What a tern.paho.mqtt.client.Client is told before (or between)
connections: Settings, a mixin of Client (username_pw_set, will_set, tls_set,
ws_set_options, reconnect_delay_set, the queue and in-flight limits, user
data, loggers, paho 2.x's read-only views, message_callback_add/remove and
the on_* callback properties with their decorators); and the argument checks
the client's parts share (_payload_bytes, _topic_str, _check_qos, _props_body),
raising TypeError/ValueError as paho does.

What the mixin reads from Client: _lock, _callbacks, _filters,
_native_client, _apply_mask() (which events cross from C++).
"""
import logging
import ssl as _ssl
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from ._codes import MQTT_BRIDGE, MQTTv5
from .packettypes import PacketTypes
from .properties import Properties


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
        try:
            topic = topic.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("%s: not UTF-8: %r" % (arg, topic)) from None
    elif not isinstance(topic, str):
        raise TypeError("%s: must be a str, not %s" % (arg, type(topic).__name__))
    return topic


def _check_qos(qos, arg="qos"):
    if isinstance(qos, bool) or not isinstance(qos, int):
        raise TypeError("%s: must be an int 0, 1 or 2, not %s" % (arg, type(qos).__name__))
    if qos < 0 or qos > 2:
        raise ValueError("Invalid QoS level.")
    return qos


def _check_logger(logger):
    if not callable(getattr(logger, "log", None)):
        raise TypeError("logger: must be a logging.Logger (or have its log()), not %s" % type(logger).__name__)


def _props_body(properties, packet_type, arg="properties"):
    if properties is None:
        return b""
    if not isinstance(properties, Properties):
        raise TypeError("%s: must be a Properties instance, not %s" % (arg, type(properties).__name__))
    return properties._body()


_Callback = Optional[Callable[..., Any]]
_F = TypeVar("_F", bound=Callable[..., Any])


class Settings:
    """paho's setters, views and callback properties (a mixin of Client)."""

    if TYPE_CHECKING:
        # What the loop at the end of this file makes, for type checkers and
        # editors: the on_* properties and their decorators.
        on_connect: _Callback
        on_connect_fail: _Callback
        on_disconnect: _Callback
        on_message: _Callback
        on_publish: _Callback
        on_subscribe: _Callback
        on_unsubscribe: _Callback
        on_log: _Callback
        on_socket_open: _Callback
        on_socket_close: _Callback
        on_socket_register_write: _Callback
        on_socket_unregister_write: _Callback

        def connect_callback(self) -> Callable[[_F], _F]: ...
        def connect_fail_callback(self) -> Callable[[_F], _F]: ...
        def disconnect_callback(self) -> Callable[[_F], _F]: ...
        def message_callback(self) -> Callable[[_F], _F]: ...
        def publish_callback(self) -> Callable[[_F], _F]: ...
        def subscribe_callback(self) -> Callable[[_F], _F]: ...
        def unsubscribe_callback(self) -> Callable[[_F], _F]: ...
        def log_callback(self) -> Callable[[_F], _F]: ...
        def socket_open_callback(self) -> Callable[[_F], _F]: ...
        def socket_close_callback(self) -> Callable[[_F], _F]: ...
        def socket_register_write_callback(self) -> Callable[[_F], _F]: ...
        def socket_unregister_write_callback(self) -> Callable[[_F], _F]: ...

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
        _check_logger(logger)
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
        if value is not None:
            _check_logger(value)
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
    setattr(Settings, "on_" + _name, _callback_property(_name, _doc))
    setattr(Settings, _name + "_callback", _decorator(_name))
del _name, _doc
Settings.log_callback = _decorator("log")
