"""A sweep of odd argument values through the whole public Python API: every
public callable of tern.paho.mqtt.client.Client, tern.paho.mqtt.publish and
.subscribe, tern.Client, tern.AsyncClient, tern.Broker, tern.amqtt's
MQTTClient and Broker and the objects of tern._tern, called with each odd
value (ODD) in each argument position in turn, the others sane; then the
same objects driven in odd orders (publish before connect, twice after
disconnect, loop_start twice, collected while their loop runs...).

Issue 17: wrong argument types or values raise TypeError/ValueError naming
the argument, and nothing crashes the interpreter. Each group runs in a
subprocess (python3 -c 'import test_argument_sweep as s; s.main(group)'),
which must exit 0 with no fatal error, segfault, AddressSanitizer or
UBSan report on stderr. Inside it, any exception is an answer except
SystemError, a RuntimeError where the callable does not document one
(RUNTIME_OK), and the sweep's own per-call time limit (a hang). What each
callable raised is printed as JSON (run a group by hand to see it:
python3 test_argument_sweep.py paho).
"""
import asyncio
import gc
import json
import math
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
GROUPS = ("paho", "helpers", "client", "aio", "broker", "amqtt_client", "amqtt_broker", "native", "orders")

# ------------------------------------------------------------------ the odd values


class Boom(Exception):
    """What the odd values themselves raise (a raising __index__, a raising
    callable): it may come back out of the call as it is."""


class Str(str):
    pass


class BadIndex(int):
    def __index__(self):
        raise Boom("__index__")


def raiser(*args, **kwargs):
    raise Boom("called")


def odd_values():
    return [
        ("None", None), ("True", True), ("-1", -1), ("0", 0), ("2**64", 2 ** 64), ("-2**63", -2 ** 63),
        ("nan", float("nan")), ("inf", float("inf")), ('""', ""), ('"\\x00"', "\x00"), ('"a"*70000', "a" * 70000),
        ("b'\\xff'*3", b"\xff" * 3), ("bytearray", bytearray(b"x")), ("memoryview", memoryview(b"x")), ("[]", []),
        ("{}", {}), ("object()", object()), ("Str", Str("s")), ("BadIndex", BadIndex(1)),
        ("PathLike", pathlib.PurePosixPath("sweep-path")), ("raiser", raiser)]


# What waits for ever when asked to (a timeout of None or a huge one where
# nothing completes): not swept with those values.
FOREVER = {"None", "inf", "2**64"}
# A timeout of True or BadIndex(1) is one second of waiting: valid, and slow.
SLOW = {"True", "BadIndex"}
TRUTHY = {"True", "-1", "2**64", "-2**63", "nan", "inf", '"\\x00"', '"a"*70000', "b'\\xff'*3", "bytearray",
          "memoryview", "object()", "Str", "BadIndex", "PathLike", "raiser"}

# RuntimeError is an answer only where documented:
RUNTIME_OK = {
    # paho's MQTTMessageInfo: "Message publish failed" for an rc set to an error (paho raises it too).
    "MessageInfo.rc=;wait_for_publish",
}

CALL_LIMIT = 20.0  # seconds: a call that takes longer is a hang


class P:
    """A parameter: its name, a sane value, keyword-only or not, and the odd
    values not to try (they wait for ever by design)."""

    def __init__(self, name, sane, kw=False, skip=()):
        self.name, self.sane, self.kw, self.skip = name, sane, kw, set(skip)


# ------------------------------------------------------------------ the sweep's machinery


class Sweep:
    def __init__(self, group):
        self.group = group
        self.results = {}   # callable -> {exception name or "ok": [what]}
        self.faults = []    # what fails the test
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.progress = os.environ.get("SWEEP_PROGRESS")
        self.fd = os.open(self.progress, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if self.progress else None
        self.unraisable = []
        self.times = {}
        sys.unraisablehook = lambda u: self.unraisable.append((type(u.exc_value).__name__, str(u.exc_value)[:200]))

    def note(self, what):
        if self.fd is not None:
            os.write(self.fd, (what[:300] + "\n").encode("utf-8", "backslashreplace"))

    def run(self, name, what, thunk, timeout=5.0, waits=False):
        """Calls thunk() (awaiting what it returns when a coroutine), records
        what it raised under `name`. `waits`: it waits for ever by design
        (HANG is its answer, not a fault)."""
        self.note("%s(%s)" % (name, what))
        t0 = time.monotonic()
        try:
            r = thunk()
            if asyncio.iscoroutine(r) or isinstance(r, asyncio.Future):
                r = self.loop.run_until_complete(self._limit(r, timeout))
            outcome = "ok"
        except _Hang:
            outcome = "HANG"
            r = None
        except BaseException as e:  # noqa: B902 - everything is recorded
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            outcome = type(e).__name__
            r = e
        if time.monotonic() - t0 > CALL_LIMIT:
            outcome = "HANG"
        self.results.setdefault(name, {}).setdefault(outcome, []).append(what)
        self.times[name.split("[")[0].split(":")[0]] = self.times.get(name.split("[")[0].split(":")[0], 0) + \
            time.monotonic() - t0
        if outcome == "HANG" and waits:
            return None
        if outcome == "SystemError" or outcome == "HANG" or (outcome == "RuntimeError" and name not in RUNTIME_OK):
            self.faults.append("%s(%s): %s %s" % (name, what, outcome, str(r)[:200] if r is not None else ""))
        return r if outcome == "ok" else None

    async def _limit(self, coro, timeout):
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait([task], timeout=timeout)
        if not done:
            task.cancel()
            try:
                await asyncio.wait_for(task, 2.0)
            except BaseException:  # noqa: B902
                pass
            raise _Hang()
        return task.result()

    def sweep(self, name, make, params, then=None, timeout=5.0):
        """For each parameter and odd value: make() gives the callable, which
        is called with that value there and the sane ones elsewhere; then(r)
        uses what it returned (an object made: connect it...)."""
        for i, p in enumerate(params):
            for label, value in odd_values():
                if label in p.skip:
                    continue
                args, kwargs = [], {}
                for j, q in enumerate(params):
                    v = value if j == i else q.sane
                    if q.kw:
                        kwargs[q.name] = v
                    else:
                        args.append(v)
                what = "%s=%s" % (p.name, label)
                f = self.run(name + ":make", what, make)
                if f is None:
                    continue
                r = self.run(name, what, lambda: f(*args, **kwargs), timeout)
                if then is not None and r is not None:
                    self.run(name + ":then", what, lambda: then(r), timeout)
                del f, r

    def report(self):
        for u in self.unraisable:
            if u[0] == "SystemError":
                self.faults.append("unraisable SystemError: %s" % (u,))
        out = {"group": self.group, "faults": self.faults,
               "raised": self.results,
               "unraisable": self.unraisable[:20],
               "times": {k: round(v, 2) for k, v in sorted(self.times.items(), key=lambda kv: -kv[1])[:15]}}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


class _Hang(Exception):
    pass


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process_broker():
    import tern
    return tern.Broker({"listeners": [{"port": 0}]}, storage="memory").start()


# ------------------------------------------------------------------ tern.paho.mqtt.client.Client

def group_paho(s):
    import tern.paho.mqtt.client as mqtt
    from tern.paho.mqtt.packettypes import PacketTypes
    from tern.paho.mqtt.properties import Properties
    from tern.paho.mqtt.subscribeoptions import SubscribeOptions

    broker = in_process_broker()
    port, closed = broker.port, closed_port()

    def exercise(c):
        """A made or configured client, used: its native half made and a connection tried."""
        try:
            c.connect("127.0.0.1", closed, 5)
        except OSError:
            pass
        c.publish("sweep/t", b"x", 1)
        c.loop(0.0)
        c.disconnect()

    def exercise_ctor(c):
        if not isinstance(c, mqtt.Client):
            return
        exercise(c)

    s.sweep("paho.Client", lambda: mqtt.Client,
            [P("client_id", "sweep"), P("clean_session", None), P("userdata", None), P("protocol", mqtt.MQTTv311),
             P("transport", "tcp"), P("reconnect_on_failure", True), P("manual_ack", False),
             P("persistence_dir", None)], then=exercise_ctor)
    s.sweep("paho.Client(VERSION2)", lambda: lambda api, cid: mqtt.Client(api, cid),
            [P("callback_api_version", mqtt.CallbackAPIVersion.VERSION2), P("client_id", "")], then=exercise_ctor)

    fresh = mqtt.Client
    v5 = lambda: mqtt.Client(protocol=mqtt.MQTTv5)  # noqa: E731
    tls_fresh = lambda: mqtt.Client()  # noqa: E731

    def native():
        c = mqtt.Client()
        c.connect_async("127.0.0.1", closed)
        return c

    state = {}

    def connected(protocol):
        c = state.get(protocol)
        if c is None or not c.is_connected():
            if c is not None:
                c.loop_stop()
            c = mqtt.Client(protocol=protocol)
            c.connect("127.0.0.1", port, 30)
            c.loop_start()
            state[protocol] = c
        return c

    def method(name, make):
        return lambda: getattr(make(), name)

    connect_params = [P("host", "127.0.0.1"), P("port", closed), P("keepalive", 60), P("bind_address", ""),
                      P("bind_port", 0), P("clean_start", mqtt.MQTT_CLEAN_START_FIRST_ONLY), P("properties", None)]
    for proto, make in (("", fresh), ("(v5)", v5)):
        s.sweep("paho.Client.connect" + proto, method("connect", make), connect_params)
        s.sweep("paho.Client.connect_async" + proto, method("connect_async", make), connect_params,
                then=lambda r: None)
    s.sweep("paho.Client.connect_srv", method("connect_srv", fresh),
            [P("domain", None), P("keepalive", 60), P("bind_address", "")])
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("k", "v")
    for st, make in (("fresh", fresh), ("native", native), ("connected", lambda: connected(mqtt.MQTTv311)),
                     ("connected v5", lambda: connected(mqtt.MQTTv5))):
        v5props = props if "v5" in st else None
        s.sweep("paho.Client.publish[%s]" % st, method("publish", make),
                [P("topic", "sweep/t"), P("payload", b"x"), P("qos", 1), P("retain", False),
                 P("properties", v5props)])
        s.sweep("paho.Client.subscribe[%s]" % st, method("subscribe", make),
                [P("topic", "sweep/#"), P("qos", 1), P("options", None), P("properties", None)])
        s.sweep("paho.Client.unsubscribe[%s]" % st, method("unsubscribe", make),
                [P("topic", "sweep/#"), P("properties", None)])
        s.sweep("paho.Client.disconnect[%s]" % st, method("disconnect", make),
                [P("reasoncode", None), P("properties", None)])
    s.sweep("paho.Client.subscribe(options)[connected v5]", method("subscribe", lambda: connected(mqtt.MQTTv5)),
            [P("topic", "sweep/#"), P("qos", 0), P("options", SubscribeOptions(qos=1))])
    for st, make in (("fresh", fresh), ("native", native)):
        s.sweep("paho.Client.loop[%s]" % st, method("loop", make),
                [P("timeout", 0.0, skip=(FOREVER if st == "native" else set()) | SLOW), P("max_packets", 1)])
        s.sweep("paho.Client.loop_forever[%s]" % st, method("loop_forever", make),
                [P("timeout", 0.0), P("max_packets", 1), P("retry_first_connection", False, skip=TRUTHY)])
        for name in ("loop_read", "loop_write"):
            s.sweep("paho.Client.%s[%s]" % (name, st), method(name, make), [P("max_packets", 1)])
        s.sweep("paho.Client.loop_stop[%s]" % st, method("loop_stop", make), [P("force", False)])
    s.sweep("paho.Client.reinitialise", method("reinitialise", native),
            [P("client_id", ""), P("clean_session", True), P("userdata", None)], then=lambda r: None)

    # Settings, each then used by a connection attempt.
    def setting(name, params, make=fresh, after=exercise):
        holder = {}

        def mk():
            holder["c"] = make()
            return getattr(holder["c"], name)

        s.sweep("paho.Client." + name, mk, params, then=lambda r: after(holder["c"]))

    setting("username_pw_set", [P("username", "u"), P("password", "p")])
    setting("will_set", [P("topic", "sweep/will"), P("payload", b"x"), P("qos", 1), P("retain", False),
                         P("properties", None)])
    setting("will_set", [P("topic", "sweep/will"), P("payload", b"x"), P("qos", 1), P("retain", False),
                         P("properties", Properties(PacketTypes.WILLMESSAGE))], make=v5)
    setting("tls_set", [P("ca_certs", None), P("certfile", None), P("keyfile", None), P("cert_reqs", None),
                        P("tls_version", None), P("ciphers", None), P("keyfile_password", None)], make=tls_fresh)
    setting("tls_set_context", [P("context", None)])

    def with_tls():
        c = mqtt.Client()
        c.tls_set()
        return c

    setting("tls_insecure_set", [P("value", True)], make=with_tls)
    setting("ws_set_options", [P("path", "/mqtt"), P("headers", {"X-A": "b"})],
            make=lambda: mqtt.Client(transport="websockets"))
    setting("reconnect_delay_set", [P("min_delay", 1), P("max_delay", 120)])
    setting("max_inflight_messages_set", [P("inflight", 20)])
    setting("max_queued_messages_set", [P("queue_size", 0)])
    setting("message_retry_set", [P("retry", 5)])
    setting("user_data_set", [P("userdata", None)])
    setting("enable_logger", [P("logger", None)])
    setting("message_callback_add", [P("sub", "sweep/#"), P("callback", lambda c, u, m: None)])
    setting("message_callback_remove", [P("sub", "sweep/#")])
    setting("topic_callback", [P("sub", "sweep/#")])
    setting("proxy_set", [P("proxy_type", None, kw=True)])
    for name in ("user_data_get", "disable_logger", "enable_bridge_mode", "will_clear", "is_connected", "loop_misc",
                 "want_write", "socket", "loop_start", "reconnect"):
        setting(name, [])

    # The callback properties, their decorators and the other setters.
    def set_attr(attr, make=fresh):
        def mk():
            c = make()
            return lambda v: setattr(c, attr, v)
        return mk

    for name in ("connect", "connect_fail", "disconnect", "message", "publish", "subscribe", "unsubscribe", "log",
                 "socket_open", "socket_close", "socket_register_write", "socket_unregister_write"):
        s.sweep("paho.Client.on_%s=" % name, set_attr("on_" + name, native), [P("value", None)])
        s.sweep("paho.Client.%s_callback()" % name, lambda n=name: getattr(fresh(), n + "_callback")(),
                [P("func", None)])
    s.sweep("paho.Client.connect_timeout=", set_attr("connect_timeout"), [P("value", 5.0)])
    s.sweep("paho.Client.logger=", set_attr("logger", native), [P("value", None)], then=lambda r: None)
    s.sweep("paho.topic_matches_sub", lambda: mqtt.topic_matches_sub, [P("sub", "a/#"), P("topic", "a/b")])
    s.sweep("paho.MQTTMessageInfo", lambda: mqtt.MQTTMessageInfo, [P("mid", 1)])
    s.sweep("paho.error_string", lambda: mqtt.error_string, [P("mqtt_errno", 0)])
    s.sweep("paho.connack_string", lambda: mqtt.connack_string, [P("connack_code", 0)])
    for c in state.values():
        c.disconnect()
        c.loop_stop()
    broker.stop()


# ------------------------------------------------------------------ publish.single/multiple, subscribe.simple/callback

def group_helpers(s):
    import tern.paho.mqtt.client as mqtt
    import tern.paho.mqtt.publish as publish
    import tern.paho.mqtt.subscribe as subscribe

    closed = closed_port()
    common = [P("hostname", "127.0.0.1"), P("port", closed), P("client_id", ""), P("keepalive", 60),
              P("will", None), P("auth", None), P("tls", None), P("protocol", mqtt.MQTTv311), P("transport", "tcp")]
    s.sweep("publish.single", lambda: publish.single,
            [P("topic", "sweep/t"), P("payload", b"x"), P("qos", 0), P("retain", False)] + common
            + [P("proxy_args", None)])
    s.sweep("publish.multiple", lambda: publish.multiple,
            [P("msgs", [("sweep/t", b"x", 0, False)])] + common + [P("proxy_args", None)])
    s.sweep("publish.multiple(msg)", lambda: lambda m: publish.multiple([m], port=closed),
            [P("msg", ("sweep/t", b"x"))])
    s.sweep("publish.multiple(msg dict)", lambda: lambda t, p, q, r: publish.multiple(
        [{"topic": t, "payload": p, "qos": q, "retain": r}], port=closed),
        [P("topic", "sweep/t"), P("payload", b"x"), P("qos", 0), P("retain", False)])
    s.sweep("publish.single(will)", lambda: lambda t, p, q, r: publish.single(
        "sweep/t", port=closed, will={"topic": t, "payload": p, "qos": q, "retain": r}),
        [P("topic", "sweep/w"), P("payload", b"x"), P("qos", 0), P("retain", False)])
    s.sweep("publish.single(auth)", lambda: lambda u, p: publish.single(
        "sweep/t", port=closed, auth={"username": u, "password": p}), [P("username", "u"), P("password", "p")])
    s.sweep("publish.single(tls)", lambda: lambda ca, insecure: publish.single(
        "sweep/t", port=closed, tls={"ca_certs": ca, "insecure": insecure}), [P("ca_certs", None),
                                                                              P("insecure", False)])
    sub_common = common + [P("clean_session", True), P("proxy_args", None)]
    s.sweep("subscribe.simple", lambda: subscribe.simple,
            [P("topics", "sweep/#"), P("qos", 0), P("msg_count", 1), P("retained", True)] + sub_common)
    s.sweep("subscribe.callback", lambda: subscribe.callback,
            [P("callback", lambda c, u, m: None), P("topics", "sweep/#"), P("qos", 0), P("userdata", None)]
            + sub_common)


# ------------------------------------------------------------------ tern.Client

def group_client(s):
    import tern
    from tern.client import Will

    broker = in_process_broker()
    port, closed = broker.port, closed_port()
    uri = "mqtt://127.0.0.1:%d" % closed

    def exercise(c):
        if not isinstance(c, tern.Client):
            return
        try:
            c.connect()
        except tern.MQTTError:
            pass
        c.publish("sweep/t", b"x", 1)
        c.close()

    kwargs = [("client_id", "sweep"), ("protocol", 5), ("clean_start", True), ("session_expiry", None),
              ("keep_alive", 60), ("username", None), ("password", None), ("will", None), ("properties", None),
              ("check_hostname", True), ("tls_insecure", False), ("ws_headers", None), ("persistence_dir", None),
              ("reconnect", True), ("reconnect_min_delay", 0.5), ("reconnect_max_delay", 30.0),
              ("max_inflight", 0), ("max_queued", 0), ("queue_size", 10000), ("on_connect", None),
              ("on_message", None), ("on_publish", None), ("on_subscribe", None), ("on_unsubscribe", None),
              ("on_disconnect", None)]
    s.sweep("tern.Client", lambda: tern.Client, [P("uri", uri)] + [P(k, v, kw=True) for k, v in kwargs],
            then=exercise)
    tls = [("ca_file", None), ("ca_path", None), ("ca_data", None), ("cert_file", None), ("key_file", None),
           ("check_hostname", True), ("tls_insecure", False), ("server_name", None)]
    s.sweep("tern.Client(mqtts)", lambda: tern.Client,
            [P("uri", "mqtts://127.0.0.1:%d" % closed)] + [P(k, v, kw=True) for k, v in tls], then=exercise)
    s.sweep("tern.Client(ws)", lambda: tern.Client,
            [P("uri", "ws://127.0.0.1:%d/mqtt" % closed), P("ws_headers", {"X-A": "b"}, kw=True)], then=exercise)
    s.sweep("tern.Client(will)", lambda: lambda t, p, q, r, pr: tern.Client(uri, will=Will(t, p, q, r, pr)),
            [P("topic", "sweep/w"), P("payload", b"x"), P("qos", 1), P("retain", False), P("properties", None)],
            then=exercise)
    s.sweep("tern.Client(properties)", lambda: lambda k, v: tern.Client(uri, properties={k: v}),
            [P("key", "user_property"), P("value", [("a", "b")])], then=exercise)

    state = {}

    def connected(protocol=5):
        c = state.get(protocol)
        if c is None or not c.connected:
            if c is not None:
                c.close()
            c = tern.Client("mqtt://127.0.0.1:%d" % port, protocol=protocol)
            c.connect()
            state[protocol] = c
        return c

    fresh = lambda: tern.Client(uri)  # noqa: E731
    for st, make in (("fresh", fresh), ("connected", connected), ("connected v3", lambda: connected(4))):
        m = lambda name, make=make: lambda: getattr(make(), name)  # noqa: E731
        s.sweep("tern.Client.publish[%s]" % st, m("publish"),
                [P("topic", "sweep/t"), P("payload", b"x"), P("qos", 1), P("retain", False), P("properties", None)])
        s.sweep("tern.Client.publish(properties)[%s]" % st, lambda make=make: lambda k, v: make().publish(
            "sweep/t", b"x", 1, properties={k: v}), [P("key", "content_type"), P("value", "text/plain")])
        s.sweep("tern.Client.subscribe[%s]" % st, m("subscribe"),
                [P("topic", "sweep/#"), P("qos", 1), P("no_local", False, kw=True),
                 P("retain_as_published", False, kw=True), P("retain_handling", 0, kw=True),
                 P("properties", None, kw=True), P("timeout", 2.0, kw=True)])
        s.sweep("tern.Client.unsubscribe[%s]" % st, m("unsubscribe"),
                [P("topic", "sweep/#"), P("properties", None), P("timeout", 2.0)])
        s.sweep("tern.Client.ping[%s]" % st, m("ping"), [P("timeout", 2.0)])
        s.sweep("tern.Client.get_message[%s]" % st, m("get_message"), [P("timeout", 0.0, skip=FOREVER | SLOW)])
        s.sweep("tern.Client.messages[%s]" % st, lambda make=make: lambda t: next(make().messages(t), None),
                [P("timeout", 0.0, skip=FOREVER | SLOW)])
        s.sweep("tern.Client.disconnect[%s]" % st, m("disconnect"),
                [P("reason_code", 0), P("properties", None), P("timeout", 1.0)])
        for name in ("close", "connect"):
            s.sweep("tern.Client.%s[%s]" % (name, st), m(name), [])
        for cb in ("on_connect", "on_message", "on_publish", "on_subscribe", "on_unsubscribe", "on_disconnect"):
            s.sweep("tern.Client.%s=[%s]" % (cb, st), lambda cb=cb, make=make: (
                lambda c: lambda v: setattr(c, cb, v))(make()), [P("value", None)])
    for c in state.values():
        c.close()
    broker.stop()


# ------------------------------------------------------------------ tern.AsyncClient

def group_aio(s):
    import tern

    broker = in_process_broker()
    port, closed = broker.port, closed_port()
    uri = "mqtt://127.0.0.1:%d" % closed

    async def exercise_async(c):
        try:
            await asyncio.wait_for(c.connect(), 3)
        except (tern.MQTTError, ValueError):
            pass
        try:
            await c.publish("sweep/t", b"x", 1)
        except tern.MQTTError:
            pass
        await c.disconnect()

    def exercise(c):
        if isinstance(c, tern.AsyncClient) and c._uri is not None:
            return exercise_async(c)

    kwargs = [("client_id", "sweep"), ("protocol", 5), ("clean_start", True), ("keep_alive", 60), ("username", None),
              ("password", None), ("will", None), ("session_expiry", None), ("properties", None),
              ("ca_file", None), ("ca_path", None), ("ca_data", None), ("cert_file", None), ("key_file", None),
              ("check_hostname", True), ("tls_insecure", False), ("server_name", None), ("ws_headers", None),
              ("reconnect", False), ("reconnect_min_delay", 0.5), ("reconnect_max_delay", 30.0),
              ("resubscribe", True), ("max_inflight", 0), ("max_queued", 0), ("persistence_dir", "")]
    s.sweep("tern.AsyncClient", lambda: tern.AsyncClient, [P("uri", uri)] + [P(k, v, kw=True) for k, v in kwargs],
            then=exercise)

    state = {}

    async def connected_async():
        c = state.get("c")
        if c is None or not c.connected:
            if c is not None:
                await c.disconnect()
            c = tern.AsyncClient("mqtt://127.0.0.1:%d" % port, reconnect=False)
            await c.connect()
            state["c"] = c
        return c

    def connected():
        return s.loop.run_until_complete(connected_async())

    fresh = lambda: tern.AsyncClient(uri, reconnect=False)  # noqa: E731
    s.sweep("tern.AsyncClient.connect", lambda: fresh().connect, [P("uri", uri)])
    for st, make in (("fresh", fresh), ("connected", connected)):
        m = lambda name, make=make: lambda: getattr(make(), name)  # noqa: E731
        s.sweep("tern.AsyncClient.publish[%s]" % st, m("publish"),
                [P("topic", "sweep/t"), P("payload", b"x"), P("qos", 1), P("retain", False), P("properties", None)])
        s.sweep("tern.AsyncClient.subscribe[%s]" % st, m("subscribe"),
                [P("topics", "sweep/#"), P("qos", 1), P("no_local", False, kw=True),
                 P("retain_as_published", False, kw=True), P("retain_handling", 0, kw=True),
                 P("properties", None, kw=True)])
        s.sweep("tern.AsyncClient.unsubscribe[%s]" % st, m("unsubscribe"),
                [P("topics", "sweep/#"), P("properties", None)])
        s.sweep("tern.AsyncClient.ping[%s]" % st, m("ping"), [P("timeout", 2.0)])
        s.sweep("tern.AsyncClient.receive[%s]" % st, m("receive"), [P("timeout", 0.0, skip=FOREVER | SLOW)], timeout=3)
        s.sweep("tern.AsyncClient.disconnect[%s]" % st, m("disconnect"),
                [P("reason_code", 0), P("properties", None)])
        s.sweep("tern.AsyncClient.wait_disconnected[%s]" % st, m("wait_disconnected") if st == "fresh" else
                (lambda: (lambda: None)), [])
    for c in state.values():
        s.loop.run_until_complete(c.disconnect())
    broker.stop()


# ------------------------------------------------------------------ tern.Broker

def group_broker(s):
    import tern
    import tern.paho.mqtt.client as mqtt

    def exercise(b):
        if not isinstance(b, tern.Broker):
            return
        try:
            b.start()
        except OSError:
            return
        try:
            if b.port:
                try:
                    with tern.Client("mqtt://127.0.0.1:%d" % b.port, reconnect=False) as c:
                        c.subscribe("sweep/#", 1, timeout=2)
                        c.publish("sweep/t", b"x", 1).wait(2)
                except tern.MQTTError:
                    pass  # refused by a hook
            b.reload()
            b.stats, b.addresses, b.connections, repr(b)
        finally:
            b.stop()

    cfg = {"listeners": [{"port": 0}]}
    s.sweep("tern.Broker", lambda: tern.Broker,
            [P("config", cfg), P("on_connect", None, kw=True), P("on_publish", None, kw=True),
             P("on_subscribe", None, kw=True), P("on_disconnect", None, kw=True), P("data_dir", None, kw=True),
             P("storage", "memory", kw=True)], then=exercise)
    s.sweep("tern.Broker(rocksdb)", lambda: tern.Broker,
            [P("config", cfg), P("data_dir", "store", kw=True), P("storage", "rocksdb", kw=True)], then=exercise)
    # Values inside the configuration.
    s.sweep("tern.Broker(listener)", lambda: lambda a, p, pr: tern.Broker(
        {"listeners": [{"address": a, "port": p, "protocol": pr}]}, storage="memory"),
        [P("address", "127.0.0.1"), P("port", 0), P("protocol", "mqtt")], then=exercise)
    s.sweep("tern.Broker(config)", lambda: lambda k, v: tern.Broker(
        {"listeners": [{"port": 0}], k: v}, storage="memory"),
        [P("key", "sys_interval"), P("value", 10)], then=exercise)
    s.sweep("tern.Broker(limits)", lambda: lambda k, v: tern.Broker(
        {"listeners": [{"port": 0}], "limits": {k: v}}, storage="memory"),
        [P("key", "max_inflight"), P("value", 10)], then=exercise)
    for key in ("sys_interval", "io_threads", "log_level"):
        s.sweep("tern.Broker(%s)" % key, lambda key=key: lambda v: tern.Broker(
            {"listeners": [{"port": 0}], key: v}, storage="memory"), [P("value", 1)], then=exercise)
    for key in ("maximum_packet_size", "receive_maximum", "max_queued_messages", "max_inflight", "maximum_qos",
                "max_keep_alive", "denied_subscriptions", "max_topic_levels", "queue_full"):
        s.sweep("tern.Broker(limits.%s)" % key, lambda key=key: lambda v: tern.Broker(
            {"listeners": [{"port": 0}], "limits": {key: v}}, storage="memory"), [P("value", 1)], then=exercise)
    for key in ("allow_anonymous", "password_file", "acl_file"):
        s.sweep("tern.Broker(auth.%s)" % key, lambda key=key: lambda v: tern.Broker(
            {"listeners": [{"port": 0}], "auth": {key: v}}, storage="memory"), [P("value", True)], then=exercise)
    for key in ("cert_file", "key_file", "ca_file", "path", "max_connections", "handshake_timeout"):
        s.sweep("tern.Broker(listener.%s)" % key, lambda key=key: lambda v: tern.Broker(
            {"listeners": [{"port": 0, key: v}]}, storage="memory"), [P("value", 1)], then=exercise)
    s.sweep("tern.to_toml", lambda: __import__("tern.broker").broker.to_toml, [P("config", cfg)])
    # The hooks, with a client through each.
    for hook in ("on_connect", "on_publish", "on_subscribe", "on_disconnect"):
        s.sweep("tern.Broker(%s returns)" % hook, lambda hook=hook: lambda v: tern.Broker(
            cfg, storage="memory", **{hook: (lambda *a: v)}), [P("value", None)], then=exercise)
    for attr in ("topic", "payload"):
        def setter(v, attr=attr):
            def on_publish(client, message):
                setattr(message, attr, v)
            return tern.Broker(cfg, storage="memory", on_publish=on_publish)
        s.sweep("tern.Broker(on_publish sets message.%s)" % attr, lambda setter=setter: setter, [P("value", "x")],
                then=exercise)


# ------------------------------------------------------------------ tern.amqtt.client.MQTTClient

def group_amqtt_client(s):
    import tern
    from tern.amqtt.client import MQTTClient

    broker = in_process_broker()
    port, closed = broker.port, closed_port()
    uri = "mqtt://127.0.0.1:%d" % closed
    live = "mqtt://127.0.0.1:%d" % port

    async def exercise_async(c, target):
        try:
            await c.connect(target)
            await c.publish("sweep/t", b"x", 1)
            await c.subscribe([("sweep/#", 1)])
        except (tern.amqtt.client.ClientException, tern.amqtt.client.ConnectError, ValueError, TypeError):
            pass
        finally:
            await c.disconnect()

    def exercise_closed(c):
        if isinstance(c, MQTTClient):
            c.config["auto_reconnect"] = False
            return exercise_async(c, uri)

    s.sweep("amqtt.MQTTClient", lambda: MQTTClient,
            [P("client_id", "sweep"), P("config", {"auto_reconnect": False}), P("loop", None)], then=exercise_closed)
    # The config's keys, each then connected to the broker.
    for key, sane in (("keep_alive", 10), ("ping_delay", 1), ("default_qos", 0), ("default_retain", False),
                      ("cleansession", True), ("connect_timeout", None), ("will", None), ("broker", None),
                      ("topics", None), ("certfile", None), ("keyfile", None), ("check_hostname", True),
                      ("reconnect_max_interval", 10), ("reconnect_retries", 0)):
        s.sweep("amqtt.MQTTClient(config %s)" % key, lambda key=key: lambda v: MQTTClient(
            config={"auto_reconnect": False, key: v}), [P("value", sane)],
            then=lambda c: exercise_async(c, live))
    s.sweep("amqtt.MQTTClient(will)", lambda: lambda t, m, q, r: MQTTClient(
        config={"auto_reconnect": False, "will": {"topic": t, "message": m, "qos": q, "retain": r}}),
        [P("topic", "sweep/w"), P("message", b"x"), P("qos", 1), P("retain", False)],
        then=lambda c: exercise_async(c, live))

    fresh = lambda: MQTTClient(config={"auto_reconnect": False})  # noqa: E731
    s.sweep("amqtt.MQTTClient.connect", lambda: fresh().connect,
            [P("uri", uri), P("cleansession", None), P("cafile", None), P("capath", None), P("cadata", None),
             P("additional_headers", None), P("extra_headers", None)])
    s.sweep("amqtt.MQTTClient.connect(mqtts)", lambda: fresh().connect,
            [P("uri", "mqtts://127.0.0.1:%d" % closed), P("cleansession", None), P("cafile", None),
             P("capath", None), P("cadata", None)])
    s.sweep("amqtt.MQTTClient.connect(ws)", lambda: fresh().connect,
            [P("uri", "ws://127.0.0.1:%d/" % closed), P("cleansession", None), P("cafile", None),
             P("capath", None), P("cadata", None), P("additional_headers", None)])

    state = {}

    async def connected_async():
        c = state.get("c")
        if c is None or not c._connected_state.is_set():
            c = MQTTClient(config={"auto_reconnect": False})
            await c.connect(live)
            state["c"] = c
        return c

    def connected():
        return s.loop.run_until_complete(connected_async())

    m = lambda name: lambda: getattr(connected(), name)  # noqa: E731
    s.sweep("amqtt.MQTTClient.publish", m("publish"),
            [P("topic", "sweep/t"), P("message", b"x"), P("qos", 1), P("retain", False), P("ack_timeout", None)])
    s.sweep("amqtt.MQTTClient.subscribe", m("subscribe"), [P("topics", [("sweep/#", 1)])])
    s.sweep("amqtt.MQTTClient.subscribe(entry)", lambda: lambda f, q: connected().subscribe([(f, q)]),
            [P("filter", "sweep/#"), P("qos", 1)])
    s.sweep("amqtt.MQTTClient.unsubscribe", m("unsubscribe"), [P("topics", ["sweep/#"])])
    s.sweep("amqtt.MQTTClient.deliver_message", m("deliver_message"),
            [P("timeout", 0.0, skip=FOREVER | SLOW), P("timeout_duration", None, kw=True)], timeout=3)
    s.sweep("amqtt.MQTTClient.reconnect", m("reconnect"), [P("cleansession", None)])
    for name in ("ping", "cancel_tasks", "disconnect"):
        s.sweep("amqtt.MQTTClient.%s" % name, m(name), [])
    for c in state.values():
        s.loop.run_until_complete(c.disconnect())
    broker.stop()


# ------------------------------------------------------------------ tern.amqtt.broker.Broker

def group_amqtt_broker(s):
    from tern.amqtt.broker import Broker

    async def exercise_async(b):
        await b.start()
        await b.shutdown()

    def exercise(b):
        if isinstance(b, Broker) and b.config.get("listeners") is not None:
            return exercise_async(b)

    def config(**over):
        c = {"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:0"}}, "tern": {"storage": "memory"}}
        for k, v in over.items():
            c[k] = v
        return c

    s.sweep("amqtt.Broker", lambda: Broker, [P("config", config()), P("loop", None), P("plugin_namespace", None)],
            then=exercise)
    for key in ("sys_interval", "auth", "topic-check", "tern", "plugins", "listeners"):
        s.sweep("amqtt.Broker(config %s)" % key, lambda key=key: lambda v: Broker(config(**{key: v})),
                [P("value", None)], then=exercise)
    for key, sane in (("bind", "127.0.0.1:0"), ("type", "tcp"), ("max-connections", 0), ("ssl", False),
                      ("certfile", None), ("keyfile", None), ("cafile", None), ("cadata", None)):
        s.sweep("amqtt.Broker(listener %s)" % key, lambda key=key: lambda v: Broker(config(listeners={
            "default": {"type": "tcp", "bind": "127.0.0.1:0", key: v}})), [P("value", sane)], then=exercise)
    s.sweep("amqtt.Broker(ssl listener)", lambda: lambda cert, key, ca: Broker(config(listeners={
        "default": {"type": "tcp", "bind": "127.0.0.1:0", "ssl": "on", "certfile": cert, "keyfile": key,
                    "cadata": ca}})), [P("certfile", "c.pem"), P("keyfile", "k.pem"), P("cadata", None)],
        then=exercise)
    for key, sane in (("allow-anonymous", True), ("password-file", None), ("plugins", None)):
        s.sweep("amqtt.Broker(auth %s)" % key, lambda key=key: lambda v: Broker(config(auth={key: v})),
                [P("value", sane)], then=exercise)
    for key, sane in (("enabled", True), ("plugins", None), ("acl", {"anonymous": ["a/#"]}), ("publish-acl", None)):
        s.sweep("amqtt.Broker(topic-check %s)" % key, lambda key=key: lambda v: Broker(config(**{
            "topic-check": {"enabled": True, "plugins": ["topic_acl"], "acl": {"anonymous": ["a/#"]}, key: v}})),
            [P("value", sane)], then=exercise)
    s.sweep("amqtt.Broker(acl user)", lambda: lambda u, f: Broker(config(**{
        "topic-check": {"enabled": True, "acl": {u: [f]}}})), [P("user", "anonymous"), P("filter", "a/#")],
        then=exercise)
    for key, sane in (("data_dir", None), ("storage", "memory"), ("limits", None)):
        s.sweep("amqtt.Broker(tern %s)" % key, lambda key=key: lambda v: Broker(config(tern={
            "storage": "memory", key: v})), [P("value", sane)], then=exercise)


# ------------------------------------------------------------------ tern._tern's objects

def group_native(s):
    from tern import _tern

    broker = in_process_broker()
    port, closed = broker.port, closed_port()

    class Owner:
        def __getattr__(self, name):
            if name.startswith("_native_"):
                return lambda *a: None
            raise AttributeError(name)

    owners = []

    def make_native(**kw):
        o = Owner()
        owners.append(o)
        return _tern.Client(o, **kw)

    def opts(**over):
        o = {"version": 5, "client_id": "", "clean_start": True, "keep_alive": 30, "username": None,
             "password": None, "will": None, "session_expiry": None, "props": b""}
        o.update(over)
        return o

    def exercise(n):
        if not isinstance(n, _tern.Client):
            return
        n.connect("mqtt://127.0.0.1:%d" % closed, opts())
        n.publish("sweep/t", b"x", 1, False, b"")
        n.loop(0.0)
        n.disconnect(0, b"")

    owner = Owner()
    s.sweep("_tern.Client", lambda: _tern.Client,
            [P("owner", owner), P("reconnect", True), P("reconnect_min", 1.0), P("reconnect_max", 120.0),
             P("max_queued", 0), P("max_inflight", 0), P("persistence_dir", ""), P("tls", {}), P("log_level", 2),
             P("ws_headers", [])], then=exercise)
    for key, sane in (("ca_file", ""), ("ca_path", ""), ("cert_file", ""), ("key_file", ""), ("ca_pem", ""),
                      ("server_name", ""), ("insecure", False), ("verify_host_name", True)):
        s.sweep("_tern.Client(tls %s)" % key, lambda key=key: lambda v: make_native(tls={key: v}), [P("value", sane)],
                then=lambda n: n.connect("mqtts://127.0.0.1:%d" % closed, opts()))
    s.sweep("_tern.Client(ws_headers)", lambda: lambda k, v: make_native(ws_headers=[(k, v)]),
            [P("name", "X-A"), P("value", "b")], then=lambda n: n.connect("ws://127.0.0.1:%d/" % closed, opts()))

    fresh = make_native
    s.sweep("_tern.Client.connect", lambda: fresh().connect, [P("uri", "mqtt://127.0.0.1:%d" % closed),
                                                              P("o", opts())])
    s.sweep("_tern.Client.connect_async", lambda: fresh().connect_async,
            [P("uri", "mqtt://127.0.0.1:%d" % closed), P("o", opts())], then=lambda t: t.wait(0.5))
    for key, sane in opts().items():
        s.sweep("_tern.Client.connect(o[%s])" % key, lambda key=key: lambda v: fresh().connect(
            "mqtt://127.0.0.1:%d" % closed, opts(**{key: v})), [P("value", sane)])
    s.sweep("_tern.Client.connect(o without)", lambda: lambda k: fresh().connect(
        "mqtt://127.0.0.1:%d" % closed, {x: v for x, v in opts().items() if x != k}), [P("key", "version")])
    s.sweep("_tern.Client.connect(will)", lambda: lambda t, p, q, r, pr: fresh().connect(
        "mqtt://127.0.0.1:%d" % closed, opts(will=(t, p, q, r, pr))),
        [P("topic", "w"), P("payload", b"x"), P("qos", 1), P("retain", False), P("props", b"")])
    s.sweep("_tern.Client.connect(will tuple)", lambda: lambda w: fresh().connect(
        "mqtt://127.0.0.1:%d" % closed, opts(will=w)), [P("will", ("w", b"", 0, False, b""))])

    state = {}

    def connected():
        n = state.get("n")
        if n is None or not n.connected():
            n = make_native()
            err = n.connect("mqtt://127.0.0.1:%d" % port, opts())
            assert err[0] == 0, err
            n.loop_start()
            state["n"] = n
        return n

    def native_unconnected():
        n = make_native()
        n.connect_async("mqtt://127.0.0.1:%d" % closed, opts())
        return n

    for st, make in (("fresh", fresh), ("unconnected", native_unconnected), ("connected", connected)):
        m = lambda name, make=make: lambda: getattr(make(), name)  # noqa: E731
        s.sweep("_tern.Client.publish[%s]" % st, m("publish"),
                [P("topic", "sweep/t"), P("payload", b"x"), P("q", 1), P("retain", False), P("props", b"")])
        s.sweep("_tern.Client.publish_paho[%s]" % st, m("publish_paho"),
                [P("topic", "sweep/t"), P("payload", b"x"), P("qos", 1), P("retain", False),
                 P("properties", None)], then=lambda i: i.wait_for_publish(0.5))
        s.sweep("_tern.Client.subscribe[%s]" % st, m("subscribe"),
                [P("subs", [("sweep/#", 1, False, False, 0)]), P("props", b"")])
        s.sweep("_tern.Client.subscribe(entry)[%s]" % st, lambda make=make: lambda f, q, nl, rap, rh: make().subscribe(
            [(f, q, nl, rap, rh)], b""), [P("filter", "sweep/#"), P("qos", 1), P("no_local", False),
                                           P("rap", False), P("rh", 0)])
        s.sweep("_tern.Client.unsubscribe[%s]" % st, m("unsubscribe"), [P("filters", ["sweep/#"]), P("props", b"")])
        s.sweep("_tern.Client.disconnect[%s]" % st, m("disconnect"), [P("code", 0), P("props", b"")])
        s.sweep("_tern.Client.set_callbacks[%s]" % st, m("set_callbacks"), [P("mask", 127)])
        s.sweep("_tern.Client.message_callback_add[%s]" % st, m("message_callback_add"), [P("filter", "sweep/#")])
        s.sweep("_tern.Client.message_callback_remove[%s]" % st, m("message_callback_remove"),
                [P("filter", "sweep/#")])
        s.sweep("_tern.Client.set_protocol[%s]" % st, m("set_protocol"), [P("v", 5)])
        s.sweep("_tern.Client.loop[%s]" % st, m("loop"), [P("timeout", 0.0, skip=FOREVER | SLOW)])
        s.sweep("_tern.Client.call_later[%s]" % st, m("call_later"), [P("delay", 0.0), P("f", lambda: None)])
        for name in ("reconnect", "connected", "client_id", "ping", "loop_start", "loop_stop", "loop_forever"):
            if name == "loop_forever" and st != "fresh":
                continue
            s.sweep("_tern.Client.%s[%s]" % (name, st), m(name), [])
    # Token and MessageInfo.
    for st, make in (("unconnected", native_unconnected), ("connected", connected)):
        skip = (FOREVER if st == "unconnected" else set()) | SLOW
        s.sweep("Token.wait[%s]" % st, lambda make=make: make().publish("sweep/t", b"x", 1, False, b"").wait,
                [P("timeout", 0.5, skip=skip)])
        s.sweep("MessageInfo.wait_for_publish[%s]" % st, lambda make=make: make().publish_paho(
            "sweep/t", b"x", 1).wait_for_publish, [P("timeout", 0.5, skip=skip)])
        s.sweep("MessageInfo.wait_for_publish(kw)[%s]" % st, lambda make=make: lambda t: make().publish_paho(
            "sweep/t", b"x", 1).wait_for_publish(timeout=t), [P("timeout", 0.5, skip=skip)])
    t = connected().publish("sweep/t", b"x", 1, False, b"")
    for name in ("is_complete", "error", "reason_codes", "connack"):
        s.sweep("Token.%s" % name, lambda name=name: getattr(t, name), [])
    s.sweep("Token.mid=", lambda: lambda v: setattr(t, "mid", v), [P("value", 1)])
    s.sweep("_tern.Token", lambda: _tern.Token, [P("x", None)])
    s.sweep("_tern.MessageInfo", lambda: _tern.MessageInfo, [P("mid", 1)])
    for attr in ("mid", "rc"):
        s.sweep("MessageInfo.%s=" % attr, lambda attr=attr: (lambda i: lambda v: setattr(i, attr, v))(
            _tern.MessageInfo(1)), [P("value", 0)], then=lambda r: None)
    s.sweep("MessageInfo.rc=;wait_for_publish", lambda: lambda v: _rc_then(_tern.MessageInfo(1), v),
            [P("value", 0)])
    s.sweep("MessageInfo[]", lambda: _tern.MessageInfo(1).__getitem__, [P("index", 0)])
    s.sweep("_tern.Message", lambda: _tern.Message, [P("mid", 0), P("topic", b"")], then=_read_message)
    for attr, sane in (("timestamp", 0.0), ("state", 0), ("dup", False), ("mid", 0), ("payload", b""), ("qos", 0),
                       ("retain", False), ("topic", "t"), ("_topic", b"t"), ("properties", None), ("info", None)):
        s.sweep("Message.%s=" % attr, lambda attr=attr: (lambda m: lambda v: (setattr(m, attr, v), m)[1])(
            _tern.Message(1, b"t")), [P("value", sane)], then=_read_message)
    s.sweep("Message.__eq__", lambda: _tern.Message(1, b"t").__eq__, [P("other", None)])
    s.sweep("_tern.BrokerClient", lambda: _tern.BrokerClient, [P("x", None)])
    s.sweep("_tern.Broker", lambda: _tern.Broker,
            [P("toml", "[[listeners]]\nport = 0\n"), P("name", "<sweep>"), P("storage", "memory"), P("data_dir", None),
             P("on_connect", None), P("on_publish", None), P("on_subscribe", None), P("on_disconnect", None)],
            then=lambda b: (b.start(), b.ports(), b.addresses(), b.stats(), b.reload(), b.stop()))
    nb = _tern.Broker("[[listeners]]\nport = 0\n", "<sweep>", "memory")
    for name in ("start", "reload", "running", "ports", "addresses", "connections", "stats", "stop", "stop",
                 "reload"):
        s.sweep("_tern.Broker.%s" % name, lambda name=name: getattr(nb, name), [])
    s.sweep("_tern._gil_acquisitions", lambda: _tern._gil_acquisitions, [])
    # The properties factory: received messages' properties are read through it.
    from tern.paho.mqtt.properties import _from_native
    n = connected()
    n.set_protocol(5)

    def factory(v):
        _tern._set_properties_factory(v)
        try:
            m = _tern.Message(1, b"t")
            return m.properties
        finally:
            _tern._set_properties_factory(_from_native)

    s.sweep("_tern._set_properties_factory", lambda: factory, [P("f", _from_native)])
    for n in state.values():
        n.disconnect(0, b"").wait(2.0)
        n.loop_stop()
    broker.stop()


def _rc_then(info, v):
    info.rc = v
    try:
        info.wait_for_publish(0.1)
    finally:
        info.is_published()


def _read_message(m):
    if not hasattr(m, "mid"):
        return
    for attr in ("timestamp", "state", "dup", "mid", "payload", "qos", "retain", "_topic", "info", "properties"):
        getattr(m, attr)
    try:
        m.topic
    except UnicodeDecodeError:
        pass
    hash(m), m == m, m != 1


# ------------------------------------------------------------------ odd orders

def group_orders(s):
    import tern
    import tern.paho.mqtt.client as mqtt
    from tern import _tern
    from tern.amqtt.broker import Broker as AmqttBroker
    from tern.amqtt.client import MQTTClient

    broker = in_process_broker()
    port, closed = broker.port, closed_port()
    live = "mqtt://127.0.0.1:%d" % port
    run = s.run

    # paho: everything before connect, then after disconnect (twice), after loop_stop.
    c = mqtt.Client()
    for name, call in (("publish", lambda: c.publish("a", b"x", 1)), ("subscribe", lambda: c.subscribe("a")),
                       ("unsubscribe", lambda: c.unsubscribe("a")), ("loop", lambda: c.loop(0.01)),
                       ("loop_forever", c.loop_forever), ("disconnect", c.disconnect), ("reconnect", c.reconnect),
                       ("loop_stop", c.loop_stop), ("loop_read", c.loop_read), ("loop_misc", c.loop_misc),
                       ("reinitialise", c.reinitialise), ("tls_insecure_set", lambda: c.tls_insecure_set(True))):
        run("paho order", "%s before connect" % name, call)
    c = mqtt.Client(protocol=mqtt.MQTTv5)
    run("paho order", "connect", lambda: c.connect("127.0.0.1", port))
    run("paho order", "connect again", lambda: c.connect("127.0.0.1", port))
    run("paho order", "loop_start", c.loop_start)
    run("paho order", "loop_start twice", c.loop_start)
    run("paho order", "loop_forever while loop_start's thread runs", lambda: _later(c.disconnect, c.loop_forever))
    run("paho order", "reconnect", c.reconnect)
    for i in range(2):
        run("paho order", "disconnect %d" % i, c.disconnect)
        for name, call in (("publish", lambda: c.publish("a", b"x", 1)), ("subscribe", lambda: c.subscribe("a")),
                           ("unsubscribe", lambda: c.unsubscribe("a")), ("loop", lambda: c.loop(0.01)),
                           ("loop_forever", c.loop_forever)):
            run("paho order", "%s after disconnect %d" % (name, i), call)
    run("paho order", "loop_stop", c.loop_stop)
    run("paho order", "loop_stop twice", c.loop_stop)
    run("paho order", "publish after loop_stop", lambda: c.publish("a", b"x", 1).wait_for_publish(0.2))
    run("paho order", "reconnect after loop_stop", c.reconnect)
    run("paho order", "loop after loop_stop", lambda: c.loop(0.05))
    run("paho order", "disconnect, loop_forever", lambda: (c.disconnect(), c.loop_forever()))
    # Collected while its loop runs, in and out of callbacks.
    for how in ("del", "reinitialise", "in on_message", "in on_connect"):
        def scenario(how=how):
            d = mqtt.Client()
            box = [d]
            if how == "in on_message":
                d.on_message = lambda cl, u, m: box.clear()
            if how == "in on_connect":
                d.on_connect = lambda cl, u, f, rc: box.clear()
            d.connect("127.0.0.1", port)
            d.loop_start()
            d.subscribe("gone/#", 1)
            d.publish("gone/x", b"x", 1)
            if how == "reinitialise":
                d.reinitialise()
            del d
            if how == "del":
                box.clear()
            time.sleep(0.2)
            box.clear()
            gc.collect()
        run("paho order", "collected: " + how, scenario)
    # Every callback raising, with traffic.
    def raising():
        d = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        for name in ("on_connect", "on_message", "on_publish", "on_subscribe", "on_unsubscribe", "on_disconnect",
                     "on_log", "on_connect_fail"):
            setattr(d, name, raiser)
        d.message_callback_add("r/#", raiser)
        d.enable_logger(_RaisingLogger())  # its calls raise
        d.connect("127.0.0.1", port)
        d.loop_start()
        d.subscribe("r/#", 1)
        d.publish("r/x", b"x", 1).wait_for_publish(2)
        d.unsubscribe("r/#")
        time.sleep(0.1)
        d.disconnect()
        d.loop_stop()
    run("paho order", "callbacks raising", raising)
    # A callback calling the client: disconnect, loop_stop and publish from within.
    def reentrant():
        d = mqtt.Client()
        d.on_connect = lambda cl, u, f, rc: (cl.publish("re/x", b"x", 1), cl.subscribe("re/#"))
        d.on_message = lambda cl, u, m: (cl.loop_stop(), cl.disconnect(), cl.loop_start())
        d.connect("127.0.0.1", port)
        d.loop_start()
        time.sleep(0.3)
        d.loop_stop()
    run("paho order", "callbacks calling the client", reentrant)

    # tern.Client
    c = tern.Client(live)
    for name, call in (("publish", lambda: c.publish("a", b"x", 1)), ("subscribe", lambda: c.subscribe("a")),
                       ("unsubscribe", lambda: c.unsubscribe("a")), ("ping", lambda: c.ping(0.5)),
                       ("disconnect", c.disconnect), ("close", c.close), ("get_message", lambda: c.get_message(0))):
        run("tern.Client order", "%s before connect" % name, call)
    run("tern.Client order", "connect", c.connect)
    run("tern.Client order", "connect again", c.connect)
    for i in range(2):
        run("tern.Client order", "close %d" % i, c.close)
        for name, call in (("publish", lambda: c.publish("a", b"x", 1)), ("subscribe", lambda: c.subscribe("a")),
                           ("ping", lambda: c.ping(0.5)), ("get_message", lambda: c.get_message(0))):
            run("tern.Client order", "%s after close %d" % (name, i), call)
    run("tern.Client order", "connect after close", c.connect)
    run("tern.Client order", "with after connect", lambda: c.__enter__() and c.__exit__(None, None, None))
    def collected_connected():
        d = tern.Client(live, on_message=lambda cl, m: None)
        d.connect()
        d.subscribe("x/#")
        d.publish("x/y", b"x", 1)
        del d
        gc.collect()
    run("tern.Client order", "collected connected", collected_connected)
    def raising_client():
        d = tern.Client(live, on_connect=raiser, on_message=raiser, on_publish=raiser, on_subscribe=raiser,
                        on_unsubscribe=raiser, on_disconnect=raiser)
        d.connect()
        d.subscribe("r/#", 1)
        d.publish("r/x", b"x", 1).wait(2)
        d.unsubscribe("r/#")
        d.close()
    run("tern.Client order", "callbacks raising", raising_client)

    # tern.AsyncClient
    a = tern.AsyncClient(live, reconnect=False)
    for name, call in (("publish", lambda: a.publish("a", b"x", 1)), ("subscribe", lambda: a.subscribe("a")),
                       ("unsubscribe", lambda: a.unsubscribe("a")), ("ping", lambda: a.ping(0.5)),
                       ("disconnect", a.disconnect), ("receive", lambda: a.receive(0.05)),
                       ("wait_disconnected", a.wait_disconnected)):
        run("tern.AsyncClient order", "%s before connect" % name, call)
    run("tern.AsyncClient order", "connect", a.connect)
    run("tern.AsyncClient order", "connect again", a.connect)
    run("tern.AsyncClient order", "two connects at once", lambda: _two(a.connect, a.connect))
    for i in range(2):
        run("tern.AsyncClient order", "disconnect %d" % i, a.disconnect)
        for name, call in (("publish", lambda: a.publish("a", b"x", 1)), ("subscribe", lambda: a.subscribe("a")),
                           ("receive", lambda: a.receive(0.05)), ("ping", lambda: a.ping(0.5))):
            run("tern.AsyncClient order", "%s after disconnect %d" % (name, i), call)
    run("tern.AsyncClient order", "connect and disconnect at once", lambda: _two(a.connect, a.disconnect))
    run("tern.AsyncClient order", "connect after disconnect", a.connect)

    def loop_closed():
        loop = asyncio.new_event_loop()
        b = tern.AsyncClient(live, reconnect=False)
        loop.run_until_complete(b.connect())
        loop.run_until_complete(b.subscribe("z/#"))
        loop.close()  # the loop goes while connected; the client's events have nowhere to go
        c2 = tern.Client(live)
        c2.connect()
        c2.publish("z/1", b"x", 1).wait(1)
        c2.close()
        del b
        gc.collect()
        asyncio.set_event_loop(s.loop)
    run("tern.AsyncClient order", "event loop closed while connected", loop_closed)

    # tern.Broker
    b = tern.Broker({"listeners": [{"port": 0}]}, storage="memory")
    for name in ("stop", "reload", "stop", "start", "start", "reload", "stop", "stop", "reload", "start"):
        run("tern.Broker order", name, getattr(b, name))
    run("tern.Broker order", "port in use", lambda: tern.Broker({"listeners": [{"port": b.port}]},
                                                              storage="memory").start())
    def collected_running():
        d = tern.Broker({"listeners": [{"port": 0}]}, storage="memory", on_publish=lambda cl, m: None).start()
        cl = mqtt.Client()
        cl.connect("127.0.0.1", d.port)
        cl.loop_start()
        cl.publish("q", b"x", 1).wait_for_publish(1)
        del d
        gc.collect()
        cl.loop_stop()
    run("tern.Broker order", "collected while running", collected_running)
    run("tern.Broker order", "stop", b.stop)

    def hooks_misbehaving():
        holder = {}

        def on_publish(client, message):
            holder.pop("b", None)  # the broker's last reference dropped in a hook
            holder["other"] = tern.Broker({"listeners": [{"port": 0}]}, storage="memory").start()
            raise Boom

        d = tern.Broker({"listeners": [{"port": 0}]}, storage="memory", on_publish=on_publish,
                        on_connect=lambda cl: cl.no_such_attribute)
        d.start()
        holder["b"] = d
        cl = mqtt.Client()
        cl.connect("127.0.0.1", d.port)
        cl.loop_start()
        del d
        cl.publish("q", b"x", 1).wait_for_publish(1)
        cl.disconnect()
        cl.loop_stop()
        time.sleep(0.2)
        holder.pop("other", tern.Broker()).stop()
        gc.collect()
    run("tern.Broker order", "hooks misbehaving", hooks_misbehaving)

    # tern.amqtt
    m = MQTTClient(config={"auto_reconnect": False})
    for name, call in (("disconnect", m.disconnect), ("reconnect", m.reconnect),
                       ("deliver_message", lambda: m.deliver_message(0.05)), ("cancel_tasks", m.cancel_tasks),
                       ("publish", lambda: m.publish("a", b"x"))):
        # amqtt's publish() waits for a connection (its mqtt_connected): HANG is its answer.
        run("amqtt.MQTTClient order", "%s before connect" % name, call, timeout=0.5, waits=name == "publish")
    run("amqtt.MQTTClient order", "connect", lambda: m.connect(live))
    run("amqtt.MQTTClient order", "connect again", lambda: m.connect(live))
    for i in range(2):
        run("amqtt.MQTTClient order", "disconnect %d" % i, m.disconnect)
        run("amqtt.MQTTClient order", "deliver_message after disconnect %d" % i, lambda: m.deliver_message(0.05))
    run("amqtt.MQTTClient order", "reconnect after disconnect", m.reconnect)
    run("amqtt.MQTTClient order", "disconnect", m.disconnect)

    ab = AmqttBroker({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:0"}},
                      "tern": {"storage": "memory"}})
    for name in ("shutdown", "start", "start", "shutdown", "shutdown", "start", "shutdown"):
        run("amqtt.Broker order", name, getattr(ab, name))

    # At exit: the native module told to shut down, then used.
    n = _tern.Client(c)
    run("_tern order", "_shutdown_all", _tern._shutdown_all)
    run("_tern order", "_stop_all_brokers", _tern._stop_all_brokers)
    run("_tern order", "connect after _shutdown_all", lambda: n.connect(live, {
        "version": 4, "client_id": "", "clean_start": True, "keep_alive": 30, "username": None, "password": None,
        "will": None, "session_expiry": None, "props": b""}))
    run("_tern order", "loop after _shutdown_all", lambda: n.loop(0.05))
    run("_tern order", "paho after _shutdown_all", lambda: (mqtt.Client().connect("127.0.0.1", port), None))
    broker.stop()


class _RaisingLogger:
    def log(self, *args, **kwargs):
        raise Boom("log")


def _later(f, then):
    threading.Timer(0.3, f).start()
    return then()


async def _two(f, g):
    return await asyncio.gather(f(), g(), return_exceptions=True)


def main(group):
    s = Sweep(group)
    tmp = tempfile.mkdtemp(prefix="tern-sweep-")
    os.chdir(tmp)  # stores, persistence dirs and files the odd values name land here
    globals()["group_" + group](s)
    s.report()


# ------------------------------------------------------------------ the tests

FATAL = ("Fatal Python error", "Segmentation", "AddressSanitizer", "runtime error:", "LeakSanitizer",
         "terminate called", "Aborted")


@pytest.mark.parametrize("group", GROUPS)
def test_sweep(group, tmp_path):
    progress = tmp_path / "progress"
    env = dict(os.environ, SWEEP_PROGRESS=str(progress), PYTHONPATH=os.pathsep.join(
        [HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    code = "import test_argument_sweep as s; s.main(%r)" % group
    try:
        p = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path), capture_output=True,
                           text=True, errors="replace", timeout=120)
    except subprocess.TimeoutExpired:
        last = progress.read_text(errors="replace").splitlines()[-1:] if progress.exists() else []
        pytest.fail("the %s sweep hung at %s" % (group, last))
    last = progress.read_text(errors="replace").splitlines()[-1:] if progress.exists() else []
    fatal = [line for line in p.stderr.splitlines() if any(f in line for f in FATAL)]
    assert p.returncode == 0 and not fatal, "the %s sweep ended with %s at %s:\n%s" % (
        group, p.returncode, last, p.stderr[-6000:])
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert not out["faults"], "\n".join(out["faults"])


if __name__ == "__main__":
    groups = sys.argv[1:] or GROUPS
    for g in groups:
        print(g, file=sys.stderr)
        main(g)


def test_paho_disconnect_then_loop_stop_closes_the_connection():
    """paho's usual ending, disconnect() then loop_stop(): the DISCONNECT
    goes out before the loop thread stops (paho writes it at once). It
    stayed unsent, the connection open for ~2 s and is_connected() True."""
    import tern
    import tern.paho.mqtt.client as mqtt

    with tern.Broker({"listeners": [{"port": 0}]}, storage="memory") as b:
        with tern.Client("mqtt://127.0.0.1:%d" % b.port) as watcher:
            watcher.subscribe("will/#")
            c = mqtt.Client()
            c.will_set("will/x", b"gone")
            c.connect("127.0.0.1", b.port, 5)
            c.loop_start()
            assert c.disconnect() == mqtt.MQTT_ERR_SUCCESS
            c.loop_stop()
            assert not c.is_connected()
            end = time.monotonic() + 0.5
            while b.connections > 1 and time.monotonic() < end:
                time.sleep(0.01)
            assert b.connections == 1
            assert watcher.get_message(0.2) is None  # a DISCONNECT: no will
