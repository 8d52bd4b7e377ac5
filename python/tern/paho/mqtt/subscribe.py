"""paho.mqtt.subscribe on tern: callback() (subscribe and call a function for
every message, for ever) and simple() (subscribe, return the first
`msg_count` messages), as paho-mqtt's."""
from . import MQTTException
from . import client as paho
from .publish import _refused, _setup


def _subscriber(topics, qos, userdata, hostname, port, client_id, keepalive, will, auth, tls, protocol, transport,
                clean_session, proxy_args, on_message):
    if qos < 0 or qos > 2:
        raise ValueError("qos must be in the range 0-2")
    if isinstance(topics, str):
        topics = [topics]
    elif not isinstance(topics, list) or not topics:
        raise TypeError("topics: a str or a non-empty list of str")
    state = {"userdata": userdata, "refused": None}
    if protocol == paho.MQTTv5:
        client = paho.Client(client_id=client_id, userdata=state, protocol=protocol, transport=transport)
    else:
        client = paho.Client(client_id=client_id, userdata=state, protocol=protocol, transport=transport,
                             clean_session=clean_session)

    def on_connect(c, userdata, flags, rc, properties=None):
        if rc != 0:
            userdata["refused"] = rc
            c.disconnect()
            return
        c.subscribe([(t, qos) for t in topics])

    client.on_connect = on_connect
    client.on_message = on_message
    _setup(client, will, auth, tls, proxy_args)
    client.connect(hostname, port, keepalive)
    client.loop_forever()
    if state["refused"] is not None:
        raise _refused(state["refused"])


def callback(callback, topics, qos=0, userdata=None, hostname="localhost", port=1883, client_id="", keepalive=60,
             will=None, auth=None, tls=None, protocol=paho.MQTTv311, transport="tcp", clean_session=True,
             proxy_args=None):
    """Subscribes to `topics` and calls callback(client, userdata, message)
    for every message; does not return (Ctrl-C, or disconnect() in the callback)."""
    if not callable(callback):
        raise TypeError("callback: must be callable")

    def on_message(c, state, message):
        callback(c, state["userdata"], message)

    _subscriber(topics, qos, userdata, hostname, port, client_id, keepalive, will, auth, tls, protocol, transport,
                clean_session, proxy_args, on_message)


def simple(topics, qos=0, msg_count=1, retained=True, hostname="localhost", port=1883, client_id="", keepalive=60,
           will=None, auth=None, tls=None, protocol=paho.MQTTv311, transport="tcp", clean_session=True,
           proxy_args=None):
    """Subscribes to `topics` and returns the first message (msg_count == 1)
    or a list of the first msg_count messages; retained=False skips retained ones."""
    if msg_count < 1:
        raise ValueError("msg_count must be > 0")
    got = []

    def on_message(c, state, message):
        if not retained and message.retain:
            return
        if len(got) < msg_count:
            got.append(message)
        if len(got) == msg_count:
            c.disconnect()

    _subscriber(topics, qos, None, hostname, port, client_id, keepalive, will, auth, tls, protocol, transport,
                clean_session, None if proxy_args is None else proxy_args, on_message)
    return got[0] if msg_count == 1 else got


__all__ = ["callback", "simple", "MQTTException"]
