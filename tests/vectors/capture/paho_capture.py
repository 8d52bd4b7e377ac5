#!/usr/bin/python3
"""Drive Eclipse Paho (python, 1.6.x) through MQTT scenarios for capture.

Run with /usr/bin/python3 (the interpreter that has python3-paho-mqtt).
All traffic goes to 127.0.0.1:PORT, which capture.sh points at proxy.py.

    /usr/bin/python3 paho_capture.py --port 18851 --version 5 --scenario session

Scenarios:
  session     watcher subscribes to the will topic; main client connects with
              will + username/password + keepalive 1, subscribes to several
              filters (v5: subscribe options + subscription identifier),
              publishes QoS 0/1/2 (v5: with properties, topic alias) and
              receives them back, idles so PINGREQ/PINGRESP appear,
              unsubscribes and disconnects (v5: reason code + properties).
              A third client with a will drops its socket so the broker sends
              the will to the watcher.
  persistent  clean_session=False (v3) / clean_start=False + session expiry
              (v5): subscribe, disconnect, messages queued while offline,
              reconnect -> session present + queued QoS 1/2 delivery.
  takeover    (v5 only) a second client with the same id takes the session
              over (mosquitto 2.0.11 just closes the first connection).
  limits      (v5 only, against a listener with max_qos 1 / max_topic_alias
              2) QoS 2 publish and too-large topic alias: the broker answers
              with DISCONNECT reason codes.
"""

import argparse
import socket
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCodes
from paho.mqtt.subscribeoptions import SubscribeOptions

HOST = "127.0.0.1"
PROTO = {"31": mqtt.MQTTv31, "311": mqtt.MQTTv311, "5": mqtt.MQTTv5}
WAIT = 5.0


def log(*args):
    print("paho:", *args, file=sys.stderr, flush=True)


class Peer:
    """A paho client plus events for the acks we wait on."""

    def __init__(self, name, version, client_id, clean=True):
        self.name = name
        self.v5 = version == "5"
        kwargs = {"client_id": client_id, "protocol": PROTO[version]}
        if not self.v5:
            kwargs["clean_session"] = clean
        self.c = mqtt.Client(**kwargs)
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.acked = {}          # mid -> Event (suback/unsuback/publish done)
        self.messages = []
        self.msg_cond = threading.Condition()
        self.connack_flags = None
        self.disconnect_rc = None
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        # Callback signatures differ between v3 and v5; mid is always the
        # third positional argument.
        self.c.on_subscribe = self._on_ack
        self.c.on_unsubscribe = self._on_ack
        self.c.on_publish = self._on_ack

    # --- callbacks -------------------------------------------------------
    def _on_connect(self, _c, _u, flags, rc, _props=None):
        self.connack_flags = flags
        log(self.name, "connack", flags, rc)
        self.connected.set()

    def _on_disconnect(self, _c, _u, rc, _props=None):
        self.disconnect_rc = rc
        log(self.name, "disconnected", rc)
        self.disconnected.set()

    def _on_message(self, _c, _u, msg):
        with self.msg_cond:
            self.messages.append(msg)
            self.msg_cond.notify_all()

    def _ev(self, mid):
        return self.acked.setdefault(mid, threading.Event())

    def _on_ack(self, _c, _u, mid, *_rest):
        self._ev(mid).set()

    # --- helpers ---------------------------------------------------------
    def connect(self, port, keepalive=60, clean_start=True, properties=None):
        kwargs = {"keepalive": keepalive}
        if self.v5:
            kwargs["clean_start"] = clean_start
            kwargs["properties"] = properties
        self.connected.clear()
        self.disconnected.clear()
        self.c.connect(HOST, port, **kwargs)
        self.c.loop_start()
        if not self.connected.wait(WAIT):
            raise RuntimeError("%s: no CONNACK" % self.name)

    def wait_mid(self, result):
        mid = result[1] if isinstance(result, tuple) else result.mid
        if not self._ev(mid).wait(WAIT):
            raise RuntimeError("%s: no ack for mid %s" % (self.name, mid))

    def wait_messages(self, n):
        deadline = time.time() + WAIT
        with self.msg_cond:
            while len(self.messages) < n:
                left = deadline - time.time()
                if left <= 0:
                    raise RuntimeError("%s: got %d of %d messages"
                                       % (self.name, len(self.messages), n))
                self.msg_cond.wait(left)

    def disconnect(self, reasoncode=None, properties=None):
        if self.v5:
            self.c.disconnect(reasoncode=reasoncode, properties=properties)
        else:
            self.c.disconnect()
        self.disconnected.wait(WAIT)
        self.c.loop_stop()

    def drop(self):
        """Close the TCP connection without DISCONNECT (will gets sent)."""
        self.c.loop_stop()
        sock = self.c.socket()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def props(packet_type, **values):
    p = Properties(packet_type)
    for key, val in values.items():
        setattr(p, key, val)
    return p


def scenario_session(port, version):
    v5 = version == "5"
    base = "tern/paho/v%s" % version
    will_topic = base + "/will"

    watcher = Peer("watcher", version, "tern-paho-w%s" % version)
    watcher.connect(port)
    watcher.wait_mid(watcher.c.subscribe(will_topic + "/#", qos=1))

    main = Peer("main", version, "tern-paho-m%s" % version)
    main.c.username_pw_set("tern-user", "tern-pass")
    will_props = None
    if v5:
        will_props = props(PacketTypes.WILLMESSAGE,
                           WillDelayInterval=0,
                           PayloadFormatIndicator=1,
                           MessageExpiryInterval=120,
                           ContentType="text/plain",
                           ResponseTopic=base + "/will/reply",
                           CorrelationData=b"\x01\x02\x03",
                           UserProperty=[("will-key", "will-value")])
    main.c.will_set(will_topic + "/main", payload=b"main gone", qos=1,
                    retain=False, properties=will_props)
    connect_props = None
    if v5:
        connect_props = props(PacketTypes.CONNECT,
                              SessionExpiryInterval=0,
                              ReceiveMaximum=20,
                              MaximumPacketSize=1048576,
                              TopicAliasMaximum=10,
                              RequestResponseInformation=1,
                              RequestProblemInformation=1,
                              UserProperty=[("client", "paho"),
                                            ("lang", "python")])
    main.connect(port, keepalive=1, clean_start=True, properties=connect_props)

    # One SUBSCRIBE carrying several filters with different QoS/options.
    if v5:
        subs = [
            (base + "/q0", SubscribeOptions(qos=0)),
            (base + "/+/q1", SubscribeOptions(qos=1, noLocal=False,
                                              retainAsPublished=True)),
            (base + "/q2/#", SubscribeOptions(
                qos=2, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)),
            (base + "/nolocal", SubscribeOptions(
                qos=1, noLocal=True,
                retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)),
        ]
        sub_props = props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42,
                          UserProperty=[("sub", "yes")])
        main.wait_mid(main.c.subscribe(subs, properties=sub_props))
    else:
        subs = [(base + "/q0", 0), (base + "/+/q1", 1), (base + "/q2/#", 2)]
        main.wait_mid(main.c.subscribe(subs))

    expected = 0
    pub_props = [None, None, None]
    if v5:
        pub_props = [
            props(PacketTypes.PUBLISH, PayloadFormatIndicator=1,
                  ContentType="text/plain",
                  UserProperty=[("k0", "v0")]),
            props(PacketTypes.PUBLISH, MessageExpiryInterval=300,
                  ResponseTopic=base + "/reply",
                  CorrelationData=b"corr-1",
                  UserProperty=[("k1", "v1"), ("k1", "v1-again")]),
            props(PacketTypes.PUBLISH, PayloadFormatIndicator=0,
                  MessageExpiryInterval=600,
                  ContentType="application/octet-stream",
                  ResponseTopic=base + "/reply",
                  CorrelationData=b"\x00\xff\x10",
                  UserProperty=[("k2", "v2")]),
        ]
    r = main.c.publish(base + "/q0", b"paho qos0", qos=0,
                       properties=pub_props[0])
    expected += 1
    r = main.c.publish(base + "/x/q1", b"paho qos1", qos=1,
                       properties=pub_props[1])
    main.wait_mid(r)
    expected += 1
    r = main.c.publish(base + "/q2/deep/er", b"\x00\x01\x02paho qos2", qos=2,
                       properties=pub_props[2])
    main.wait_mid(r)
    expected += 1
    # Empty payload, QoS 1.
    r = main.c.publish(base + "/y/q1", None, qos=1)
    main.wait_mid(r)
    expected += 1
    if v5:
        # Topic alias: set it with a full topic, then publish by alias only.
        r = main.c.publish(base + "/q2/alias", b"alias set", qos=2,
                           properties=props(PacketTypes.PUBLISH, TopicAlias=1))
        main.wait_mid(r)
        r = main.c.publish("", b"alias used", qos=1,
                           properties=props(PacketTypes.PUBLISH, TopicAlias=1))
        main.wait_mid(r)
        expected += 2
        # noLocal subscription: our own publish must not come back.
        r = main.c.publish(base + "/nolocal", b"not echoed", qos=1)
        main.wait_mid(r)
    main.wait_messages(expected)

    # Idle longer than the keepalive so PINGREQ/PINGRESP are exchanged.
    time.sleep(2.5)

    if v5:
        main.wait_mid(main.c.unsubscribe(
            [base + "/q0", base + "/+/q1", base + "/q2/#", base + "/nolocal",
             base + "/never-subscribed"],
            properties=props(PacketTypes.UNSUBSCRIBE,
                             UserProperty=[("unsub", "yes")])))
        # 0x04: disconnect with will message -> broker publishes the will.
        main.disconnect(
            reasoncode=ReasonCodes(PacketTypes.DISCONNECT,
                                   "Disconnect with will message"),
            properties=props(PacketTypes.DISCONNECT,
                             ReasonString="capture done",
                             UserProperty=[("bye", "now")]))
        watcher.wait_messages(1)
    else:
        main.wait_mid(main.c.unsubscribe(
            [base + "/q0", base + "/+/q1", base + "/q2/#"]))
        main.disconnect()

    # A client that vanishes without DISCONNECT: the broker sends its will.
    dropper = Peer("dropper", version, "tern-paho-d%s" % version)
    dropper.c.will_set(will_topic + "/dropper", payload=b"dropped", qos=0,
                       retain=False,
                       properties=(props(PacketTypes.WILLMESSAGE,
                                         ContentType="text/plain",
                                         UserProperty=[("why", "drop")])
                                   if v5 else None))
    dropper.connect(port, keepalive=30)
    dropper.drop()
    watcher.wait_messages(2 if v5 else 1)
    watcher.disconnect()


def scenario_persistent(port, version):
    v5 = version == "5"
    base = "tern/paho/persist/v%s" % version
    cid = "tern-paho-p%s" % version
    sess = props(PacketTypes.CONNECT, SessionExpiryInterval=300) if v5 else None

    p = Peer("persist", version, cid, clean=False)
    p.connect(port, clean_start=True if v5 else None, properties=sess)
    p.wait_mid(p.c.subscribe(base + "/#", qos=2))
    p.disconnect()

    pub = Peer("publisher", version, "tern-paho-q%s" % version)
    pub.connect(port)
    pub.wait_mid(pub.c.publish(base + "/a", b"queued qos1", qos=1))
    pub.wait_mid(pub.c.publish(base + "/b", b"queued qos2", qos=2))
    pub.disconnect()

    # Reconnect without clean session: session present, queued delivery.
    p2 = Peer("persist2", version, cid, clean=False)
    p2.connect(port, clean_start=False, properties=sess)
    p2.wait_messages(2)
    if v5:
        # Session expiry 0 on DISCONNECT ends the session at the broker.
        p2.disconnect(reasoncode=ReasonCodes(PacketTypes.DISCONNECT, "Success"),
                      properties=props(PacketTypes.DISCONNECT,
                                       SessionExpiryInterval=0))
    else:
        p2.disconnect()
        # Clean the session away again.
        p3 = Peer("cleanup", version, cid, clean=True)
        p3.connect(port)
        p3.disconnect()


def scenario_takeover(port, version):
    if version != "5":
        raise SystemExit("takeover scenario is MQTT 5 only")
    cid = "tern-paho-t5"
    first = Peer("first", version, cid)
    first.connect(port)
    second = Peer("second", version, cid)
    second.connect(port)
    if not first.disconnected.wait(WAIT):
        raise RuntimeError("first client was not disconnected")
    first.c.loop_stop()
    second.disconnect()


def scenario_limits(port, version):
    """Against a listener with max_qos 1 and max_topic_alias 2: the broker
    announces Maximum QoS / Topic Alias Maximum in CONNACK and answers
    violations with a DISCONNECT carrying a reason code."""
    if version != "5":
        raise SystemExit("limits scenario is MQTT 5 only")
    base = "tern/paho/limits"
    a = Peer("qos-too-high", version, "tern-paho-l1")
    a.connect(port)
    a.c.publish(base + "/qos2", b"qos 2 not allowed", qos=2)
    if not a.disconnected.wait(WAIT):
        raise RuntimeError("broker did not disconnect the QoS 2 publisher")
    a.c.loop_stop()
    b = Peer("alias-too-high", version, "tern-paho-l2")
    b.connect(port)
    b.c.publish(base + "/alias", b"alias 3 > maximum 2", qos=1,
                properties=props(PacketTypes.PUBLISH, TopicAlias=3))
    if not b.disconnected.wait(WAIT):
        raise RuntimeError("broker did not disconnect the alias publisher")
    b.c.loop_stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--version", choices=sorted(PROTO), required=True)
    ap.add_argument("--scenario", required=True,
                    choices=["session", "persistent", "takeover",
                             "limits"])
    args = ap.parse_args()
    {"session": scenario_session,
     "persistent": scenario_persistent,
     "takeover": scenario_takeover,
     "limits": scenario_limits}[args.scenario](args.port, args.version)
    log("done", args.scenario, args.version)


if __name__ == "__main__":
    main()
