"""The exceptions of tern's own Python API (tern.Client).

    try:
        with tern.Client("mqtt://127.0.0.1:1883", client_id="app-1") as c:
            ...
    except tern.ConnectError as e:
        print("refused:", e.reason_code, e)    # 0x87: Not authorized; None: not reached

Every one is an MQTTError, whose reason_code is the broker's answer (an MQTT
5 reason code, or a refused MQTT 3.x CONNACK's return code: 5 is Not
authorized there), or None when no answer of the broker is the cause (the
broker could not be reached: the OSError or ssl.SSLError is __cause__; the
client stopped). The same names and meaning as tern.aio's MQTTError and
ConnectError.
"""

# tern._tern's errors come as (kind, value, message) tuples (err_tuple,
# python/native/convert.hpp); the kinds:
_OK, _REASON, _CONNACK3, _CLIENT, _ABORTED, _OS, _OTHER = range(7)

# MQTT 3.x CONNACK return code <-> MQTT 5 reason code.
_V3_TO_V5 = {0: 0, 1: 132, 2: 133, 3: 136, 4: 134, 5: 135}
_V5_TO_V3 = {0: 0, 132: 1, 133: 2, 136: 3, 134: 4, 135: 5, 140: 4}


class MQTTError(Exception):
    """Base of tern's exceptions: a request failed. reason_code: the broker's
    refusal (an MQTT 5 reason code >= 0x80, or an MQTT 3.x CONNACK return
    code 1..5), or None when no answer of the broker is the cause."""

    def __init__(self, message, reason_code=None):
        super().__init__(message)
        self.reason_code = reason_code


class ConnectError(MQTTError):
    """connect() (or `with tern.Client(...)`) failed: the broker refused the
    CONNECT (reason_code says why) or could not be reached (reason_code None;
    the OSError, ssl.SSLError... is __cause__)."""


class ConnectionLost(MQTTError):
    """An accepted connection ended without disconnect(): what on_disconnect
    receives. reason_code: the broker's DISCONNECT reason, if it sent one."""


class PublishError(MQTTError):
    """A publish failed: the broker's PUBACK/PUBREC reason code (>= 0x80), the
    offline queue was full, or the client stopped before the flow completed
    (with persistence_dir the message stays stored and goes out with the
    next connection)."""


class SubscribeError(MQTTError):
    """A SUBSCRIBE or UNSUBSCRIBE got no answer: not connected, or the client
    stopped. (Refusals of single filters are codes >= 0x80 in the returned
    list, not exceptions.)"""


def _os_error(err):
    """The exception for a tern._tern error tuple that means the broker could
    not be reached: OSError (errno set for the OS's errors), ssl.SSLError."""
    kind, value, message = err
    if kind == _OS:
        return OSError(value, message)
    low = message.lower()
    if kind == _OTHER and ("certificate" in low or "ssl" in low or "tls" in low):
        import ssl
        return ssl.SSLError(message)
    return OSError(message)


def _from_native(err, cls, what):
    """The exception `cls` for a tern._tern error tuple (kind, value,
    message): "<what>: <message>", with the reason code, or the OSError as
    its cause when the broker could not be reached."""
    kind, value, message = err
    if kind == _REASON:
        return cls("%s: %s (reason code 0x%02x)" % (what, message, value), reason_code=value)
    if kind == _CONNACK3:
        return cls("%s: %s (return code %d)" % (what, message, value), reason_code=value)
    e = cls("%s: %s" % (what, message or "unknown error"))
    if kind in (_OS, _OTHER):
        e.__cause__ = _os_error(err)
    return e
