"""The argument sweep's groups for tern's own API: tern.Client,
tern.AsyncClient, tern.Broker. See sweep.py and test_argument_sweep.py."""
import asyncio

from sweep import FOREVER, P, SLOW, closed_port, in_process_broker


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


def group_broker(s):
    import tern

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
