"""The events tern._tern's Client sends to tern.paho.mqtt.client.Client, made
paho's callbacks: NativeEvents, a mixin of Client.

The native client calls owner._native_connect(err, session_present, reason,
props), _native_disconnect(err), _native_message(message),
_native_filtered(filter, message), _native_publish(mid, err, reason),
_native_subscribe / _native_unsubscribe(mid, err, codes) and
_native_log(level, text) on the thread driving its loop, with the GIL (see
python/native/client.cpp). Each becomes the on_* callback with the arguments
of the client's API (paho 1.6, 2.x VERSION1 or VERSION2; MQTT 3.x or 5). A
callback that raises is logged and the loop goes on.

Events that come while connect() waits for the CONNACK are deferred to the
loop (paho runs on_connect from the loop), and so are those after them until
they have run: _defer() and _flush_pending().

What the mixin reads from Client: _callbacks, _filters, _userdata, _logger,
_api, _protocol, _native_client, _pending, _flushing, _deferring,
_thread_running, _disconnecting, _reconnect_on_failure, _ever_connected,
_retry_delay, _next_delay(), _uri(), _connect_opts().
"""
import sys
import threading
import traceback
import weakref
from dataclasses import dataclass

from ._codes import (_CLIENT, _CONNACK3, _OK, _OS, _OTHER, _REASON, _V3_TO_V5, _V5_TO_V3,
                     CONNACK_REFUSED_SERVER_UNAVAILABLE, LOGGING_LEVEL, MQTT_ERR_CONN_LOST, MQTT_ERR_SUCCESS,
                     MQTT_LOG_DEBUG, MQTT_LOG_ERR, MQTT_LOG_INFO, MQTT_LOG_WARNING, MQTTv5)
from .packettypes import PacketTypes
from .properties import Properties, _from_native
from .reasoncodes import ReasonCode


@dataclass(frozen=True)
class ConnectFlags:
    """paho 2.x: the CONNACK's flags (VERSION2 on_connect)."""
    session_present: bool


@dataclass(frozen=True)
class DisconnectFlags:
    """paho 2.x: how the connection ended (VERSION2 on_disconnect)."""
    is_disconnect_packet_from_server: bool


def _weak_method(obj, name):
    """obj.name(), through a weak reference: what tern's timers hold must not
    keep the client alive (a cycle through C++ that the collector cannot see)."""
    ref = weakref.ref(obj)

    def call():
        o = ref()
        if o is not None:
            getattr(o, name)()
    return call


class NativeEvents:
    """paho's callbacks from tern._tern's events (a mixin of Client)."""

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

