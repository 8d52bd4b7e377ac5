"""amqtt's embeddable broker (amqtt.broker.Broker) on tern's C++ broker.

    from tern.amqtt.broker import Broker      # was: from amqtt.broker import Broker

    broker = Broker({
        "listeners": {
            "default": {"type": "tcp", "bind": "0.0.0.0:1883", "max-connections": 1000},
            "ws-1": {"type": "ws", "bind": "127.0.0.1:8080"},
        },
        "sys_interval": 10,
        "auth": {"allow-anonymous": False, "password-file": "passwd",
                 "plugins": ["auth_file", "auth_anonymous"]},
        "topic-check": {"enabled": True, "plugins": ["topic_acl"],
                        "acl": {"alice": ["alice/#"], "anonymous": []}},
    })
    await broker.start()
    ...
    await broker.shutdown()

amqtt's configuration dict, as its documentation describes it:
  listeners     named listeners; "default" gives every other its defaults. Each
                with "bind" ("host:port", "[v6]:port", ":port"; a listener
                without one is not started), "type" ("tcp" or "ws"),
                "max-connections" (or max_connections), "ssl" ("on"/True) with
                "certfile", "keyfile" and "cafile" or "cadata" (client
                certificates asked for, not required). Default ports: amqtt's
                (tcp 1883, ws 8883). Anonymous clients are let in on every
                listener as "allow-anonymous" says, loopback or not.
  sys_interval  seconds between $SYS updates (0 or absent: none).
  auth          "allow-anonymous", "password-file" (amqtt's "user:$6$..."
                SHA-512-crypt lines; mosquitto's formats too) and "plugins"
                (auth_anonymous, auth_file: the ones that apply; absent: both).
  topic-check   "enabled", "plugins": topic_acl: "acl" {user: [filters]} grants
                publish and subscribe on those filters ("anonymous": clients
                without a user name; a user not listed gets nothing); with a
                "publish-acl" as well, "acl" grants subscribe and "publish-acl"
                publish. topic_taboo: amqtt's taboo topics ("prohibited",
                "top-secret", "data/classified") may be subscribed to by "admin"
                only.
  Other plugins have no equivalent here: a warning says so, nothing fails.
  tern's own settings go under "tern": {"data_dir": ..., "storage": "memory",
  and any key of ternd's configuration ("limits", "io_threads", ...)}.

Unlike amqtt's (which keeps everything in memory), this broker is durable:
persistent sessions, their queued QoS 1/2 messages and retained messages live
in a RocksDB store in tern's data_dir (default "./ternd-data") and survive a
restart. It speaks MQTT 3.1, 3.1.1 and 5.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import weakref
from typing import Any, Mapping, Optional

import tern.broker as _tb

from .errors import BrokerError

__all__ = ["Broker", "BrokerException", "BrokerError"]


# amqtt's broker error under both its names (0.10's amqtt.broker.BrokerException,
# 0.11's amqtt.errors.BrokerError), one class: a configuration it cannot use, a
# start() or shutdown() at the wrong time, a listener that cannot be bound.
BrokerException = BrokerError

_defaults: dict = {
    "timeout-disconnect-delay": 2,
    "auth": {"allow-anonymous": True, "password-file": None},
}
# When there is no "listeners" section at all (amqtt >= 0.11's default).
_default_listeners = {"default": {"type": "tcp", "bind": "0.0.0.0:1883"}}

DEFAULT_PORTS = {"tcp": 1883, "ws": 8883}  # amqtt's
_TABOO = ("prohibited", "top-secret", "data/classified")  # amqtt's topic_taboo
_AUTH_PLUGINS = {"auth_anonymous", "auth_file"}
_TOPIC_PLUGINS = {"topic_acl", "topic_taboo"}

logger = logging.getLogger(__name__)


def _split_bindaddr_port(bind: str, default_port: int):
    """amqtt's reading of "bind": (address or None, port)."""
    def port_of(s: str) -> int:
        s = s[1:] if s.startswith(":") else s
        return int(s) if s else default_port

    if bind.startswith("["):
        end = bind.rindex("]")
        return bind[1:end], port_of(bind[end + 1:])
    if ":" in bind:
        address, port = bind.rsplit(":", 1)
        return address or None, port_of(port)
    try:
        return None, int(bind)
    except ValueError:
        return bind, default_port


def _on(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("on", "true", "yes", "1")
    return bool(v)


def _plugin_name(name: Any) -> str:
    return str(name).replace(".", "_")  # amqtt's docs write "auth.anonymous" too


def _line(text: str, what: str) -> str:
    if not isinstance(text, str) or not text or "\n" in text or "\r" in text:
        raise BrokerException("topic-check: %s must be a non-empty str on one line, not %r" % (what, text))
    return text


def _acl_text(tc: Mapping[str, Any]) -> str:
    """topic_acl's "acl" (and "publish-acl") as a mosquitto ACL file."""
    read = tc.get("acl") or {}
    write = tc.get("publish-acl")
    if not isinstance(read, Mapping) or (write is not None and not isinstance(write, Mapping)):
        raise BrokerException("topic-check: acl and publish-acl must map user names to lists of topics")
    users: dict = {}
    for table, grant in ((read, "read" if write is not None else "readwrite"), (write or {}, "write")):
        for user, filters in table.items():
            if isinstance(filters, str) or not isinstance(filters, (list, tuple)):
                raise BrokerException("topic-check: the topics of %r must be a list" % (user,))
            users.setdefault(_line(user, "a user name"), []).extend(
                "topic %s %s" % (grant, _line(f, "a topic")) for f in filters)
    out = ["# tern.amqtt: amqtt's topic-check acl"]
    out += users.pop("anonymous", [])  # before any "user" line: clients without a user name
    for user, rules in users.items():
        out.append("user " + user)
        out += rules
    return "\n".join(out) + "\n"


class Broker:
    """amqtt's Broker: Broker(config=None, loop=None, plugin_namespace=None),
    then ``await start()`` and ``await shutdown()``. See the module's
    documentation for the configuration. `loop` and `plugin_namespace` are
    accepted and not needed."""

    def __init__(self, config: Optional[Mapping[str, Any]] = None, loop: Optional[asyncio.AbstractEventLoop] = None,
                 plugin_namespace: Optional[str] = None) -> None:
        self.logger = logger
        if config is not None and not isinstance(config, Mapping):
            raise BrokerException("config must be a dict, not %s" % type(config).__name__)
        self.config: dict = dict(_defaults)
        if config is not None:
            self.config.update(config)
        self._loop = loop
        self.plugin_namespace = plugin_namespace or "amqtt.broker.plugins"
        self.listeners_config = self._build_listeners_config(self.config)
        self._state = "new"
        self._broker: Optional[_tb.Broker] = None
        self._files: Optional[str] = None  # a directory for the ACL and CA data we write
        self._cleanup = None

    # ---- amqtt's API

    async def start(self) -> None:
        """Opens the listeners and serves (a coroutine). Raises BrokerException
        when it cannot, or when the broker is not new or stopped."""
        if self._state not in ("new", "stopped", "not_started"):
            raise BrokerException("Broker instance can't be started: it is %s" % self._state)
        self._state = "starting"
        try:
            if self._broker is None:
                self._broker = self._make()
            await asyncio.get_running_loop().run_in_executor(None, self._broker.start)
        except (OSError, ValueError, TypeError, BrokerException) as e:
            self._state = "not_started"
            self._broker = None
            self._remove_files()
            raise BrokerException("Broker instance can't be started: %s" % e) from e
        for name, address in zip(self._started, self._broker.addresses):
            self.logger.info("Listener '%s' bind to %s", name, address)
        self._state = "started"

    async def shutdown(self) -> None:
        """Closes every connection and listener (a coroutine). Sessions stay
        in the store for the next start()."""
        if self._state != "started":
            raise BrokerException("Broker instance can't be shut down: it is %s" % self._state)
        self._state = "stopping"
        await asyncio.get_running_loop().run_in_executor(None, self._broker.stop)
        self._state = "stopped"
        self.logger.info("Broker closed")

    # ---- beyond amqtt

    @property
    def tern_broker(self) -> Optional[_tb.Broker]:
        """The tern.Broker underneath (None before the first start())."""
        return self._broker

    @property
    def ports(self) -> list:
        """The ports bound, in the order of the listeners started."""
        return self._broker.ports if self._broker else []

    @property
    def addresses(self) -> list:
        return self._broker.addresses if self._broker else []

    # ---- the configuration

    @staticmethod
    def _build_listeners_config(config: Mapping[str, Any]) -> dict:
        listeners = config.get("listeners", _default_listeners)
        if not isinstance(listeners, Mapping):
            raise BrokerException("Listener config not found or invalid")
        defaults = listeners.get("default") or {}
        if not isinstance(defaults, Mapping):
            raise BrokerException("Listener config has not default included or is invalid")
        out = {}
        for name, conf in listeners.items():
            if not isinstance(conf, Mapping):
                raise BrokerException("Listener config not found or invalid: %s" % name)
            merged = dict(defaults)
            merged.update(conf)
            out[name] = merged
        return out

    def _file(self, name: str, text: str) -> str:
        if self._files is None:
            self._files = tempfile.mkdtemp(prefix="tern-amqtt-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._files, True)
        path = os.path.join(self._files, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def _remove_files(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
        self._files = self._cleanup = None

    def _auth(self) -> tuple:
        """(allow anonymous, password file or None) from "auth"."""
        auth = self.config.get("auth") or {}
        if not isinstance(auth, Mapping):
            raise BrokerException("auth: must be a dict")
        plugins = auth.get("plugins")
        if plugins is not None:
            plugins = [_plugin_name(p) for p in plugins]
            for p in plugins:
                if p not in _AUTH_PLUGINS:
                    self.logger.warning("auth plugin %r is not available in tern.amqtt (it runs auth_anonymous "
                                        "and auth_file); ignored", p)
        anonymous = True
        if plugins is None or "auth_anonymous" in plugins:
            anonymous = _on(auth.get("allow-anonymous", True))
        password_file = None
        if (plugins is None or "auth_file" in plugins) and auth.get("password-file"):
            password_file = os.fspath(auth["password-file"])
        return anonymous, password_file

    def _topic_check(self) -> tuple:
        """(ACL file or None, taboo) from "topic-check"."""
        tc = self.config.get("topic-check") or {}
        if not isinstance(tc, Mapping):
            raise BrokerException("topic-check: must be a dict")
        if not _on(tc.get("enabled", False)):
            return None, False
        plugins = tc.get("plugins")
        if plugins is None:
            plugins = ["topic_acl"] if "acl" in tc else ["topic_taboo"]
        plugins = [_plugin_name(p) for p in plugins]
        for p in plugins:
            if p not in _TOPIC_PLUGINS:
                self.logger.warning("topic-check plugin %r is not available in tern.amqtt (it runs topic_acl "
                                    "and topic_taboo); ignored", p)
        acl = self._file("acl", _acl_text(tc)) if "topic_acl" in plugins else None
        return acl, "topic_taboo" in plugins

    def _listeners(self, anonymous: bool) -> list:
        out, seen = [], set()
        self._started = []
        for name, l in self.listeners_config.items():
            if "bind" not in l:
                self.logger.debug("Listener configuration '%s' is not bound", name)
                continue
            kind = l.get("type", "tcp")
            if kind not in DEFAULT_PORTS:
                raise BrokerException("Listener '%s': unknown type %r (tcp or ws)" % (name, kind))
            try:
                address, port = _split_bindaddr_port(str(l["bind"]), DEFAULT_PORTS[kind])
            except ValueError as e:
                raise BrokerException("Invalid port value in bind value: %s" % l["bind"]) from e
            address = address or "0.0.0.0"
            if (address, port) in seen:
                continue  # inherited from "default": one socket
            seen.add((address, port))
            x = {"address": address, "port": port, "allow_anonymous": anonymous}
            maxc = l.get("max-connections", l.get("max_connections", 0))
            if isinstance(maxc, int) and maxc > 0:
                x["max_connections"] = maxc
            if _on(l.get("ssl", False)):
                x["protocol"] = "mqtts" if kind == "tcp" else "wss"
                try:
                    x["cert_file"], x["key_file"] = os.fspath(l["certfile"]), os.fspath(l["keyfile"])
                except KeyError as e:
                    raise BrokerException("'certfile' or 'keyfile' configuration parameter missing: %s" % e) from e
                if l.get("cafile"):
                    x["ca_file"] = os.fspath(l["cafile"])
                elif l.get("cadata"):
                    data = l["cadata"]
                    x["ca_file"] = self._file("ca-%s.pem" % len(out),
                                              data.decode() if isinstance(data, bytes) else str(data))
                if "ca_file" in x:
                    x["require_certificate"] = False  # amqtt: ssl.CERT_OPTIONAL
                if l.get("capath"):
                    self.logger.warning("Listener '%s': capath is not supported (use cafile); ignored", name)
            elif kind == "ws":
                x["protocol"] = "ws"
            out.append(x)
            self._started.append(name)
        return out

    def _make(self) -> _tb.Broker:
        anonymous, password_file = self._auth()
        acl, taboo = self._topic_check()
        own = dict(self.config.get("tern") or {})
        data_dir = own.pop("data_dir", None)
        storage = own.pop("storage", None)
        cfg: dict = {"listeners": self._listeners(anonymous)}
        try:
            cfg["sys_interval"] = int(self.config.get("sys_interval") or 0)
        except (TypeError, ValueError, OverflowError) as e:
            raise BrokerException("sys_interval: not a number of seconds: %r" % self.config.get("sys_interval")) from e
        cfg["auth"] = {"allow_anonymous": anonymous, "password_file": password_file, "acl_file": acl}
        if self.config.get("plugins"):
            self.logger.warning("plugins: amqtt's plugins do not run in tern.amqtt; ignored")
        for k, v in own.items():
            if isinstance(v, Mapping) and isinstance(cfg.get(k), Mapping):
                cfg[k] = {**cfg[k], **v}
            else:
                cfg[k] = v
        on_subscribe = None
        if taboo:
            def on_subscribe(client, topic_filter, qos):
                return client.username == "admin" or topic_filter not in _TABOO
        return _tb.Broker(cfg, data_dir=data_dir, storage=storage, on_subscribe=on_subscribe)
