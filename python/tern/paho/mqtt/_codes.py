"""paho's module-level codes and tables for tern.paho.mqtt.client (which
re-exports every name here): the protocol versions, paho 1.6's integer
constants (MQTT_ERR_*, CONNACK_*, MQTT_LOG_*, packet types), the message and
connection states, error_string() and connack_string(), the 3.x <-> 5
CONNACK code maps, and the error kinds tern._tern reports (err_tuple in
python/native/convert.hpp) with the exceptions they become."""
import logging

# The 3.x <-> 5 CONNACK code maps, tern._tern's error kinds and the OSError
# for an error tuple are shared with tern's own API (tern.errors).
from tern.errors import (_ABORTED, _CLIENT, _CONNACK3, _OK, _OS, _OTHER, _REASON, _V3_TO_V5, _V5_TO_V3,  # noqa: F401
                         _os_error)

from .enums import ConnackCode, LogLevel, MessageType, MQTTErrorCode

MQTTv31 = 3
MQTTv311 = 4
MQTTv5 = 5


# paho 1.6's module constants: plain ints with 2.x's enums' values, one
# line each so that type checkers and editors see them.
CONNECT = int(MessageType.CONNECT)
CONNACK = int(MessageType.CONNACK)
PUBLISH = int(MessageType.PUBLISH)
PUBACK = int(MessageType.PUBACK)
PUBREC = int(MessageType.PUBREC)
PUBREL = int(MessageType.PUBREL)
PUBCOMP = int(MessageType.PUBCOMP)
SUBSCRIBE = int(MessageType.SUBSCRIBE)
SUBACK = int(MessageType.SUBACK)
UNSUBSCRIBE = int(MessageType.UNSUBSCRIBE)
UNSUBACK = int(MessageType.UNSUBACK)
PINGREQ = int(MessageType.PINGREQ)
PINGRESP = int(MessageType.PINGRESP)
DISCONNECT = int(MessageType.DISCONNECT)
AUTH = int(MessageType.AUTH)

MQTT_LOG_INFO = int(LogLevel.MQTT_LOG_INFO)
MQTT_LOG_NOTICE = int(LogLevel.MQTT_LOG_NOTICE)
MQTT_LOG_WARNING = int(LogLevel.MQTT_LOG_WARNING)
MQTT_LOG_ERR = int(LogLevel.MQTT_LOG_ERR)
MQTT_LOG_DEBUG = int(LogLevel.MQTT_LOG_DEBUG)

CONNACK_ACCEPTED = int(ConnackCode.CONNACK_ACCEPTED)
CONNACK_REFUSED_PROTOCOL_VERSION = int(ConnackCode.CONNACK_REFUSED_PROTOCOL_VERSION)
CONNACK_REFUSED_IDENTIFIER_REJECTED = int(ConnackCode.CONNACK_REFUSED_IDENTIFIER_REJECTED)
CONNACK_REFUSED_SERVER_UNAVAILABLE = int(ConnackCode.CONNACK_REFUSED_SERVER_UNAVAILABLE)
CONNACK_REFUSED_BAD_USERNAME_PASSWORD = int(ConnackCode.CONNACK_REFUSED_BAD_USERNAME_PASSWORD)
CONNACK_REFUSED_NOT_AUTHORIZED = int(ConnackCode.CONNACK_REFUSED_NOT_AUTHORIZED)

MQTT_ERR_AGAIN = int(MQTTErrorCode.MQTT_ERR_AGAIN)
MQTT_ERR_SUCCESS = int(MQTTErrorCode.MQTT_ERR_SUCCESS)
MQTT_ERR_NOMEM = int(MQTTErrorCode.MQTT_ERR_NOMEM)
MQTT_ERR_PROTOCOL = int(MQTTErrorCode.MQTT_ERR_PROTOCOL)
MQTT_ERR_INVAL = int(MQTTErrorCode.MQTT_ERR_INVAL)
MQTT_ERR_NO_CONN = int(MQTTErrorCode.MQTT_ERR_NO_CONN)
MQTT_ERR_CONN_REFUSED = int(MQTTErrorCode.MQTT_ERR_CONN_REFUSED)
MQTT_ERR_NOT_FOUND = int(MQTTErrorCode.MQTT_ERR_NOT_FOUND)
MQTT_ERR_CONN_LOST = int(MQTTErrorCode.MQTT_ERR_CONN_LOST)
MQTT_ERR_TLS = int(MQTTErrorCode.MQTT_ERR_TLS)
MQTT_ERR_PAYLOAD_SIZE = int(MQTTErrorCode.MQTT_ERR_PAYLOAD_SIZE)
MQTT_ERR_NOT_SUPPORTED = int(MQTTErrorCode.MQTT_ERR_NOT_SUPPORTED)
MQTT_ERR_AUTH = int(MQTTErrorCode.MQTT_ERR_AUTH)
MQTT_ERR_ACL_DENIED = int(MQTTErrorCode.MQTT_ERR_ACL_DENIED)
MQTT_ERR_UNKNOWN = int(MQTTErrorCode.MQTT_ERR_UNKNOWN)
MQTT_ERR_ERRNO = int(MQTTErrorCode.MQTT_ERR_ERRNO)
MQTT_ERR_QUEUE_SIZE = int(MQTTErrorCode.MQTT_ERR_QUEUE_SIZE)
MQTT_ERR_KEEPALIVE = int(MQTTErrorCode.MQTT_ERR_KEEPALIVE)
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

def error_string(mqtt_errno):
    """A description of an MQTT_ERR_* value."""
    return _ERROR_STRINGS.get(mqtt_errno, "Unknown error.")


def connack_string(connack_code):
    """A description of a 3.x CONNACK return code."""
    return _CONNACK_STRINGS.get(connack_code, "Connection Refused: unknown reason.")
