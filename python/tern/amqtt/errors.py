"""amqtt's exceptions (amqtt.errors), both generations of their names: amqtt
0.11's (ClientError, ConnectError, ...) and the older ones (ClientException,
ConnectException, ...), which are the same classes here."""


class AMQTTError(Exception):
    """aMQTT base exception."""


class MQTTError(Exception):
    """Base class for all errors referring to MQTT specifications."""


class CodecError(Exception):
    """Exceptions thrown by packet encode/decode functions."""


class NoDataError(Exception):
    """Exceptions thrown by packet encode/decode functions."""


class ZeroLengthReadError(NoDataError):
    def __init__(self):
        super().__init__("Decoding a string of length zero.")


class BrokerError(Exception):
    """Exceptions thrown by broker."""


class PluginError(Exception):
    """Exceptions thrown when loading or initializing a plugin."""


class PluginImportError(PluginError):
    """Exceptions thrown when loading plugin."""


class PluginInitError(PluginError):
    """Exceptions thrown when initializing plugin."""


class PluginLoadError(Exception):
    """Exception thrown when loading a plugin."""


class ClientError(Exception):
    """Exceptions thrown by client."""


class ConnectError(ClientError):
    """Exceptions thrown by client connect: `return_code` is the CONNACK's
    return code when the broker refused (None when it could not be reached)."""

    return_code = None


class ProtocolHandlerError(Exception):
    """Exceptions thrown by protocol handle."""


# amqtt 0.10's names.
AMQTTException = AMQTTError
MQTTException = MQTTError
CodecException = CodecError
NoDataException = NoDataError
ClientException = ClientError
ConnectException = ConnectError
ProtocolHandlerException = ProtocolHandlerError
