"""tern for Python: MQTT on tern's C++ core (issue 17).

    import tern                               # tern's own API, MQTT 5 first:
    tern.Client, tern.AsyncClient, tern.Broker
    import tern.paho.mqtt.client as mqtt      # paho-mqtt's API
    from tern.amqtt.client import MQTTClient  # amqtt's API (asyncio)
    from tern.amqtt.broker import Broker      # amqtt's embeddable broker

The native half, tern._tern, is built beside this package (scripts/install-python
installs both; a build tree is found through PYTHONPATH, see docs/python.md).
"""
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__version__ = "0.1.0"

# Each name is imported when first used, so `import tern.paho.mqtt.client`
# loads nothing else.
_LAZY = {
    "Client": "tern.client",        # the threaded client
    "MQTTError": "tern.errors",     # tern.Client's exceptions
    "ConnectError": "tern.errors",
    "ConnectionLost": "tern.errors",
    "PublishError": "tern.errors",
    "SubscribeError": "tern.errors",
    "AsyncClient": "tern.aio",      # the asyncio client
    "Broker": "tern.broker",        # the embeddable broker
}

__all__ = list(_LAZY)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'tern' has no attribute %r" % name)
    value = getattr(__import__("importlib").import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
