"""The argument sweep's groups for paho's API: tern.paho.mqtt.client.Client,
and the publish and subscribe helpers. See sweep.py and
test_argument_sweep.py."""


from sweep import FOREVER, P, SLOW, TRUTHY, closed_port, in_process_broker


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
