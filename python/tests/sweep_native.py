"""The argument sweep's groups for the objects of tern._tern, and for every
object driven in odd orders (publish before connect, twice after
disconnect, loop_start twice, collected while its loop runs...). See
sweep.py and test_argument_sweep.py."""
import asyncio
import gc
import time

from sweep import (FOREVER, SLOW, Boom, P, RaisingLogger, after_a_moment, closed_port, gather_two,
                   in_process_broker, raiser)


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


def group_orders(s):
    import tern
    import tern.paho.mqtt.client as mqtt
    from tern import _tern
    from tern.amqtt.broker import Broker as AmqttBroker
    from tern.amqtt.client import MQTTClient

    broker = in_process_broker()
    port = broker.port
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
    run("paho order", "loop_forever while loop_start's thread runs", lambda: after_a_moment(c.disconnect, c.loop_forever))
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
        d.enable_logger(RaisingLogger())  # its calls raise
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
    run("tern.AsyncClient order", "two connects at once", lambda: gather_two(a.connect, a.connect))
    for i in range(2):
        run("tern.AsyncClient order", "disconnect %d" % i, a.disconnect)
        for name, call in (("publish", lambda: a.publish("a", b"x", 1)), ("subscribe", lambda: a.subscribe("a")),
                           ("receive", lambda: a.receive(0.05)), ("ping", lambda: a.ping(0.5))):
            run("tern.AsyncClient order", "%s after disconnect %d" % (name, i), call)
    run("tern.AsyncClient order", "connect and disconnect at once", lambda: gather_two(a.connect, a.disconnect))
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
