"""paho.mqtt.publish on tern: single() and multiple() publish and disconnect,
in one call, as paho-mqtt's do (same arguments; a refused connection raises
MQTTException with the CONNACK's description)."""
import collections.abc

from . import MQTTException
from . import client as paho


def _setup(client, will, auth, tls, proxy_args):
    if proxy_args is not None:
        client.proxy_set(**proxy_args)
    if auth is not None and not isinstance(auth, collections.abc.Mapping):
        raise TypeError("auth: must be a dict {'username': ..., 'password': ...}, not %s" % type(auth).__name__)
    if will is not None and not isinstance(will, collections.abc.Mapping):
        raise TypeError("will: must be a dict of will_set()'s arguments, not %s" % type(will).__name__)
    if auth:
        username = auth.get("username")
        if not username:
            raise KeyError("The 'username' key was not found, this is required for auth")
        client.username_pw_set(username, auth.get("password"))
    if will is not None:
        client.will_set(**will)
    if tls is not None:
        if isinstance(tls, dict):
            tls = dict(tls)
            insecure = tls.pop("insecure", False)
            client.tls_set(**tls)
            if insecure:
                client.tls_insecure_set(insecure)
        else:
            client.tls_set_context(tls)


def _refused(rc):
    return MQTTException(paho.connack_string(rc) if isinstance(rc, int) else str(rc))


def _send(client, message):
    if isinstance(message, dict):
        return client.publish(**message)
    if isinstance(message, (tuple, list)):
        return client.publish(*message)
    raise TypeError("message must be a dict, tuple, or list")


def multiple(msgs, hostname="localhost", port=1883, client_id="", keepalive=60, will=None, auth=None, tls=None,
             protocol=paho.MQTTv311, transport="tcp", proxy_args=None):
    """Publishes every message of `msgs` (dicts {'topic', 'payload', 'qos',
    'retain'} or tuples (topic, payload, qos, retain)), then disconnects."""
    if not isinstance(msgs, collections.abc.Iterable) or isinstance(msgs, (str, bytes, dict)):
        raise TypeError("msgs must be an iterable")
    msgs = list(msgs)
    state = {"refused": None}
    client = paho.Client(client_id=client_id, userdata=state, protocol=protocol, transport=transport)

    def on_connect(c, userdata, flags, rc, properties=None):
        if rc != 0:
            userdata["refused"] = rc

    client.on_connect = on_connect
    _setup(client, will, auth, tls, proxy_args)
    client.connect(hostname, port, keepalive)
    if state["refused"] is None:
        infos = [_send(client, m) for m in msgs]
        for info in infos:
            info.wait_for_publish()
        client.disconnect()
    if state["refused"] is not None:
        raise _refused(state["refused"])


def single(topic, payload=None, qos=0, retain=False, hostname="localhost", port=1883, client_id="", keepalive=60,
           will=None, auth=None, tls=None, protocol=paho.MQTTv311, transport="tcp", proxy_args=None):
    """Publishes one message, then disconnects."""
    msg = {"topic": topic, "payload": payload, "qos": qos, "retain": retain}
    multiple([msg], hostname, port, client_id, keepalive, will, auth, tls, protocol, transport, proxy_args)
