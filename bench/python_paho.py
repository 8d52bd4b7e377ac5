#!/usr/bin/python3
"""Python MQTT throughput: tern.paho.mqtt (tern's C++ client) against Debian's
paho-mqtt 1.6, same run, same broker (a ternd this script starts on a free
port of 127.0.0.1).

  publisher QoS 0 / QoS 1: one client, loop_start(), publish() N messages of
      PAYLOAD bytes as fast as Python calls it, until the last is published
      (QoS 0 written, QoS 1 PUBACKed); messages per second.
  subscriber: one client with an on_message that counts, QoS 1, persistent
      session: N messages are queued for it by the broker while it is away,
      then it connects and takes them; messages per second from the first
      received to the last.

    bench/python_paho.py [--ternd build/release/bin/ternd] [--rounds 3] [-n 100000]

Run it on a release build (scripts/install-python installs one for
/usr/bin/python3; or PYTHONPATH=build/release/python:python), never the
asan tree. Prints every round and the ratios of the medians.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

PAYLOAD = b"x" * 64


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ternd(path, port):
    p = subprocess.Popen([path, "-p", str(port), "--storage", "memory"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("ternd did not start")


def load(impl):
    if impl == "paho":
        import paho.mqtt.client as mqtt
    else:
        import tern.paho.mqtt.client as mqtt
    return mqtt


def publisher(impl, port, n, qos):
    mqtt = load(impl)
    c = mqtt.Client()
    c.connect("127.0.0.1", port, 60)
    c.loop_start()
    time.sleep(0.1)
    t0 = time.perf_counter()
    publish = c.publish
    infos = [publish("bench/pub", PAYLOAD, qos) for _ in range(n)]
    infos[-1].wait_for_publish()
    if qos:
        for i in infos:
            i.wait_for_publish()
    dt = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return n / dt


def subscriber(impl, port, n):
    """The subscriber's own speed: its persistent session is filled while it
    is away (N QoS 1 messages queued by the broker), then it connects and
    on_message takes them as fast as they come."""
    mqtt = load(impl)
    cid = "bench-sub-%s-%d" % (impl, os.getpid())
    c = mqtt.Client(client_id=cid, clean_session=False)
    c.connect("127.0.0.1", port, 60)
    c.loop_start()
    c.subscribe("bench/sub", 1)
    time.sleep(0.3)
    c.disconnect()
    c.loop_stop()
    feeder = load("tern").Client()
    feeder.connect("127.0.0.1", port, 60)
    feeder.loop_start()
    infos = [feeder.publish("bench/sub", PAYLOAD, 1) for _ in range(n)]
    for i in infos:
        i.wait_for_publish()
    feeder.disconnect()
    feeder.loop_stop()

    state = {"count": 0, "first": None, "last": None}
    done = threading.Event()

    def on_message(client, userdata, msg):
        now = time.perf_counter()
        if state["first"] is None:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if state["count"] == n:
            done.set()

    c = mqtt.Client(client_id=cid, clean_session=False)
    c.on_message = on_message
    c.connect("127.0.0.1", port, 60)
    c.loop_start()
    done.wait(120)
    c.disconnect()
    c.loop_stop()
    if state["count"] < 2:
        return 0.0
    return (state["count"] - 1) / (state["last"] - state["first"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    default_ternd = os.environ.get("TERN_TERND") or os.path.join(here, "..", "build", "release", "bin", "ternd")
    ap.add_argument("--ternd", default=default_ternd)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=100000, help="messages per run (paho's runs take 1/5 of it)")
    args = ap.parse_args()
    if not os.path.exists(args.ternd):
        raise SystemExit("no ternd at %s (--ternd)" % args.ternd)
    import tern._tern  # noqa: F401: fail early without the module
    port = free_port()
    broker = start_ternd(args.ternd, port)
    results = {}
    try:
        for r in range(1, args.rounds + 1):
            for name, fn in (("publisher QoS 0", lambda impl, n: publisher(impl, port, n, 0)),
                             ("publisher QoS 1", lambda impl, n: publisher(impl, port, n, 1)),
                             ("subscriber QoS 1", lambda impl, n: subscriber(impl, port, n))):
                for impl in ("paho", "tern"):
                    n = args.n if impl == "tern" else max(1000, args.n // 5)
                    rate = fn(impl, n)
                    results.setdefault((name, impl), []).append(rate)
                    print("round %d  %-17s %-5s %9d msgs  %10.0f msg/s" % (r, name, impl, n, rate), flush=True)
    finally:
        broker.kill()
        broker.wait()
    print()
    print("| test | paho-mqtt 1.6 (msg/s, median) | tern.paho (msg/s, median) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name in ("publisher QoS 0", "publisher QoS 1", "subscriber QoS 1"):
        p = statistics.median(results[(name, "paho")])
        t = statistics.median(results[(name, "tern")])
        print("| %s | %.0f | %.0f | %.1fx |" % (name, p, t, t / p if p else float("nan")))


if __name__ == "__main__":
    main()
