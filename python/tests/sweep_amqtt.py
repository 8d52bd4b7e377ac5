"""The argument sweep's groups for amqtt's API: tern.amqtt.client.MQTTClient
and tern.amqtt.broker.Broker. See sweep.py and test_argument_sweep.py."""


from sweep import FOREVER, P, SLOW, closed_port, in_process_broker


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
