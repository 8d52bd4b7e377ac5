"""tern.Broker: tern's MQTT broker (tern::Broker, C++) inside this process.

    import tern

    def on_connect(client):                    # who may connect
        return client.username != "mallory"    # False: refused, "not authorized"

    def on_publish(client, message):           # what happens to each PUBLISH
        if message.topic.startswith("raw/"):
            return "clean/" + message.topic[4:]    # redirect
        return None                                # route it as it is

    with tern.Broker({"listeners": [{"port": 1883}]}, on_connect=on_connect,
                     on_publish=on_publish, data_dir="/var/lib/myapp/mqtt") as broker:
        print(broker.addresses)                # ['127.0.0.1:1883']
        ...

The configuration is ternd's (docs/broker.md, etc/ternd.toml): TOML text, or
a dict of the same shape, turned into that TOML ({"listeners": [{...}],
"limits": {...}, "auth": {...}, "storage": {...}, "sys_interval": 10}). A
mistake raises ValueError with tern's own message (file, line and key).

Durable by default: sessions, queued and retained messages live in a RocksDB
store in `data_dir` (default "./ternd-data"), so a persistent session and its
QoS 1/2 messages survive stop()/start() and a restart of the program.
storage="memory" keeps nothing.

Hooks run on the broker's io threads, with the GIL, while the client waits:
keep them short. Only the hooks given cost anything: a broker without hooks
never takes the GIL to route a message. A hook that raises is logged on the
logger "tern.broker" and the default verdict applies:
  on_connect(client) -> None/True: accept; False: refuse (not authorized);
      an int: refuse with that CONNACK reason code (MQTT 5 codes, 0x80..;
      paho's 3.x codes 1..5 are mapped to them).
  on_publish(client, message) -> None/True: route it; False: discard it
      (the publisher is still acknowledged); a str: route it to that topic
      instead; an int: refuse it with that PUBACK reason code (MQTT 5).
      Setting message.topic or message.payload changes what is routed.
  on_subscribe(client, topic_filter, qos) -> None/True: grant; False:
      refuse (not authorized); 0..2: grant at most that QoS; an int >= 0x80:
      refuse with that SUBACK reason code.
  on_disconnect(client, reason) -> ignored; reason is "" after a DISCONNECT.
`client` has client_id, username, peer ("address:port") and protocol (3, 4
or 5); in on_connect also password (bytes or None) and clean_start.
`message` is a paho-style message: topic, payload, qos, retain.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Mapping, Optional, Union

from tern import _tern

__all__ = ["Broker", "BrokerClient", "BrokerMessage", "to_toml"]

#: Who a hook is about: client_id, username, peer, protocol (and, in
#: on_connect, password and clean_start).
BrokerClient = _tern.BrokerClient
#: The message on_publish sees: paho's MQTTMessage (topic, payload, qos, retain).
BrokerMessage = _tern.Message

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: Any) -> str:
    if not isinstance(k, str):
        raise TypeError("config: keys must be str, not %s" % type(k).__name__)
    return k if _BARE_KEY.match(k) else json.dumps(k)


def _value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (str, os.PathLike)):
        return json.dumps(os.fspath(v))  # JSON's escapes are TOML's
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, where) for x in v) + "]"
    raise TypeError("config: %s: a %s cannot be written as TOML" % (where, type(v).__name__))


def _table(d: Mapping[str, Any], path: str, out: list) -> None:
    tables, arrays = [], []
    for k, v in d.items():
        if v is None:
            continue  # the default
        name = (path + "." if path else "") + _key(k)
        if isinstance(v, Mapping):
            tables.append((name, v))
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
            arrays.append((name, v))
        else:
            out.append("%s = %s" % (_key(k), _value(v, name)))
    for name, v in tables:
        out.append("\n[%s]" % name)
        _table(v, name, out)
    for name, v in arrays:
        for x in v:
            out.append("\n[[%s]]" % name)
            _table(x, name, out)


def to_toml(config: Mapping[str, Any]) -> str:
    """A configuration dict as ternd's TOML: tables for dicts, arrays of tables
    for lists of dicts ("listeners"), None for "the default"."""
    if not isinstance(config, Mapping):
        raise TypeError("config: must be a dict, a TOML str or None, not %s" % type(config).__name__)
    out: list = []
    _table(config, "", out)
    return "\n".join(out) + "\n"


Hook = Optional[Callable[..., Any]]


class Broker:
    """An MQTT broker (3.1, 3.1.1 and 5) in this process, on tern's C++ core.

    config: ternd's configuration as TOML text or a dict of the same shape;
        None: ternd's defaults (127.0.0.1:1883). Port 0 binds any free port
        (see .ports).
    on_connect, on_publish, on_subscribe, on_disconnect: hooks (see the
        module's documentation); fixed for the broker's life.
    data_dir: where the RocksDB store lives (overrides [storage] data_dir).
    storage: "rocksdb" (the default: durable) or "memory" (overrides
        [storage] backend).

    Raises ValueError for a configuration tern refuses, TypeError for
    arguments of the wrong type. start() raises OSError naming the listener
    or file that failed.
    """

    def __init__(self, config: Union[Mapping[str, Any], str, None] = None, *,
                 on_connect: Hook = None, on_publish: Hook = None,
                 on_subscribe: Hook = None, on_disconnect: Hook = None,
                 data_dir: Union[str, "os.PathLike[str]", None] = None,
                 storage: Optional[str] = None) -> None:
        if config is None:
            text, name = "", "<config>"
        elif isinstance(config, str):
            text, name = config, "<config>"
        else:
            text, name = to_toml(config), "<config dict>"
        if storage is not None and not isinstance(storage, str):
            raise TypeError("storage: must be \"rocksdb\" or \"memory\", not %s" % type(storage).__name__)
        if data_dir is not None:
            if not isinstance(data_dir, (str, os.PathLike)):
                raise TypeError("data_dir: must be a path, not %s" % type(data_dir).__name__)
            data_dir = os.fspath(data_dir)
        self._native = _tern.Broker(text, name, storage, data_dir, on_connect, on_publish,
                                    on_subscribe, on_disconnect)

    def start(self) -> "Broker":
        """Recovers what the store holds, binds every listener and starts the
        io threads. Again after stop(): the same configuration and store.
        Does nothing when running. Raises OSError naming what failed."""
        self._native.start()
        return self

    def stop(self) -> None:
        """Stops gracefully (MQTT 5 clients get DISCONNECT 0x8B), closes the
        store (sessions stay in it). Idempotent. Not from a hook."""
        self._native.stop()

    def reload(self) -> bool:
        """Re-reads the password file, ACL and certificates the configuration
        names; False (and a log record) when one cannot be used, which then
        stays as it was."""
        return self._native.reload()

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._native.running()

    @property
    def ports(self) -> list:
        """The ports listened on, one per bound socket, in the order of the
        listeners; [] when not running."""
        return self._native.ports()

    @property
    def port(self) -> Optional[int]:
        """The first listener's port, or None when not running."""
        p = self._native.ports()
        return p[0] if p else None

    @property
    def addresses(self) -> list:
        """The bound addresses as "127.0.0.1:1883" / "[::1]:1883"."""
        return self._native.addresses()

    @property
    def connections(self) -> int:
        """Network connections open now."""
        return self._native.connections()

    @property
    def stats(self) -> dict:
        """The broker's counters (what $SYS publishes): clients_connected,
        messages_received, messages_sent, bytes_received, ..."""
        return self._native.stats()

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = ("listening on " + ", ".join(self.addresses)) if self.running else "stopped"
        return "<tern.Broker %s>" % state
