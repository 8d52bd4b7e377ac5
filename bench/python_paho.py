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

  the QoS 1 ceiling (pub1 only): a client that keeps paho's 20 QoS 1
      messages in flight waits a round trip per 20, so each round also
      measures this machine's loopback round trip (two processes, one byte
      each way) and, against ternd, tern's own C++ client with the same
      window (`tern bench fan-in -P 1 -q 1 --max-inflight 20`, beside ternd).

    bench/python_paho.py [--ternd build/release/bin/ternd] [--rounds 3] [-n 100000]
                         [--broker ternd|mosquitto|both] [--tests pub0,pub1,sub]

Run it on a release build (scripts/install-python installs one for
/usr/bin/python3; or PYTHONPATH=build/release/python:python), never the
asan tree. Prints every round and the ratios of the medians.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PAYLOAD = b"x" * 64


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(p, port, name):
    """`p` once it accepts connections on `port` (10 s at the most)."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("%s did not start" % name)


def start_ternd(path, port):
    p = subprocess.Popen([path, "-p", str(port), "--storage", "memory"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    return listening(p, port, "ternd")


def start_mosquitto(port, d):
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        raise SystemExit("no mosquitto (scripts/install-deps)")
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 0\n"
                "max_queued_messages 0\n" % port)
    p = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return listening(p, port, "mosquitto")


def loopback_round_trip(count=20000):
    """Microseconds for one byte to go to another process over TCP on
    127.0.0.1 and back, both sides sleeping in recv (as a client's loop and
    a broker's io thread do between packets); the median of `count`."""
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        pid = os.fork()
        if pid == 0:
            try:
                c = socket.create_connection(ls.getsockname())
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while True:
                    b = c.recv(64)
                    if not b:
                        break
                    c.sendall(b)
            finally:
                os._exit(0)
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        clock = time.perf_counter
        for _ in range(count):
            t = clock()
            s.sendall(b"x")
            s.recv(64)
            times.append(clock() - t)
        s.close()
        os.waitpid(pid, 0)
    return statistics.median(times) * 1e6


def cxx_window_20(tern_exe, port):
    """tern's C++ client publishing QoS 1 with 20 in flight (and one
    subscriber taking them), msg/s; None without the `tern` program."""
    if not os.path.exists(tern_exe):
        return None
    out = subprocess.run([tern_exe, "bench", "fan-in", "-p", str(port), "-P", "1", "-q", "1", "--max-inflight", "20",
                          "-w", "100000", "-d", "2", "--progress", "never"],
                         capture_output=True, text=True, timeout=60)
    try:
        return float(json.loads(out.stdout.strip().splitlines()[-1])["msgs_per_s"])
    except (ValueError, KeyError, IndexError):
        return None


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
    if state["count"] < n:
        print("  (%s subscriber: %d of %d messages arrived within 120 s)" % (impl, state["count"], n), flush=True)
    if state["count"] < 2:
        return 0.0
    return (state["count"] - 1) / (state["last"] - state["first"])


TESTS = {
    "pub0": ("publisher QoS 0", lambda impl, port, n: publisher(impl, port, n, 0)),
    "pub1": ("publisher QoS 1", lambda impl, port, n: publisher(impl, port, n, 1)),
    "sub": ("subscriber QoS 1", lambda impl, port, n: subscriber(impl, port, n)),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    default_ternd = os.environ.get("TERN_TERND") or os.path.join(here, "..", "build", "release", "bin", "ternd")
    ap.add_argument("--ternd", default=default_ternd)
    ap.add_argument("--broker", choices=("ternd", "mosquitto", "both"), default="ternd",
                    help="the broker(s) to run against (mosquitto: Debian's, started on a free port)")
    ap.add_argument("--tests", default="pub0,pub1,sub", help="comma-separated: pub0, pub1, sub")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=100000, help="messages per run (paho's runs take 1/5 of it)")
    args = ap.parse_args()
    tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    for t in tests:
        if t not in TESTS:
            raise SystemExit("unknown test %r (--tests: %s)" % (t, ", ".join(TESTS)))
    brokers = ["ternd", "mosquitto"] if args.broker == "both" else [args.broker]
    if "ternd" in brokers and not os.path.exists(args.ternd):
        raise SystemExit("no ternd at %s (--ternd)" % args.ternd)
    import tern._tern  # noqa: F401: fail early without the module
    tern_exe = os.path.join(os.path.dirname(os.path.abspath(args.ternd)), "tern")
    results = {}
    for b in brokers:
        port = free_port()
        d = tempfile.mkdtemp(prefix="tern-bench-")
        broker = start_ternd(args.ternd, port) if b == "ternd" else start_mosquitto(port, d)
        try:
            for r in range(1, args.rounds + 1):
                for t in tests:
                    name, fn = TESTS[t]
                    for impl in ("paho", "tern"):
                        n = args.n if impl == "tern" else max(1000, args.n // 5)
                        rate = fn(impl, port, n)
                        results.setdefault((b, name, impl), []).append(rate)
                        print("%-9s round %d  %-17s %-5s %9d msgs  %10.0f msg/s" % (b, r, name, impl, n, rate),
                              flush=True)
                    if t == "pub1":
                        rtt = loopback_round_trip()
                        results.setdefault((b, "rtt"), []).append(rtt)
                        print("%-9s round %d  loopback round trip %.1f us: 20 messages a round trip is %.0f msg/s"
                              % (b, r, rtt, 20 / rtt * 1e6), flush=True)
                        cxx = cxx_window_20(tern_exe, port) if b == "ternd" else None
                        if cxx is not None:
                            results.setdefault((b, "cxx"), []).append(cxx)
                            print("%-9s round %d  tern bench (C++), 20 in flight, 1 subscriber  %10.0f msg/s" % (b, r, cxx),
                                  flush=True)
        finally:
            broker.kill()
            broker.wait()
            shutil.rmtree(d, ignore_errors=True)
    print()
    print("| broker | test | paho-mqtt 1.6 (msg/s, median) | tern.paho (msg/s, median) | ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for b in brokers:
        for t in tests:
            name = TESTS[t][0]
            p = statistics.median(results[(b, name, "paho")])
            v = statistics.median(results[(b, name, "tern")])
            print("| %s | %s | %.0f | %.0f | %.1fx |" % (b, name, p, v, v / p if p else float("nan")))
    for b in brokers:
        if (b, "rtt") not in results:
            continue
        rtt = statistics.median(results[(b, "rtt")])
        p = statistics.median(results[(b, "publisher QoS 1", "paho")])
        v = statistics.median(results[(b, "publisher QoS 1", "tern")])
        line = ("%s, QoS 1: loopback round trip %.1f us between two Python processes (median of the rounds'); "
                "20 messages a round trip is %.0f msg/s = %.1fx paho; tern.paho %.2fx of it"
                % (b, rtt, 20 / rtt * 1e6, 20 / rtt * 1e6 / p, v * rtt / 20e6))
        if (b, "cxx") in results:
            cxx = statistics.median(results[(b, "cxx")])
            line += "; tern bench (C++, same window, one subscriber): %.0f msg/s, tern.paho %.2fx of it" % (cxx, v / cxx)
        print(line)


if __name__ == "__main__":
    main()
