#!/usr/bin/python3
"""End-to-end tests of `tern gateway -c FILE` as a process (CTest: tern_gateway_e2e).

Against ternd (RocksDB sessions, so a restart keeps the observer's) and
against Debian's mosquitto (persistence on), each on a free port of its own:

- the process interface with testdata/echo_driver.py and mqttgateway's dummy
  map: a command in, its status out; availability ("online" retained on
  ROOT/NAME/status); the retained metrics; SIGHUP with a broken map (refused,
  logged, the old map kept) then with a new one (used, same connection);
  SIGTERM: exit 0 and "offline";
- the template interface with mqttgateway's entry map: its greeting, a
  command and its reply; SIGKILL: the broker publishes the will, "offline";
- the Modbus interface against pymodbus 3.0's server (testdata/modbus_server.py):
  every point's value at start, a change on the device, a command turned
  into a write and its new value;
- store-and-forward: a ticking process interface with persistence_dir; the
  broker stopped and started again: every status produced meanwhile arrives
  afterwards, in order.

  /usr/bin/python3 src/tern/gateway/gateway_e2e_test.py --tern build/asan/bin/tern --ternd build/asan/bin/ternd

The observer is paho-mqtt (Debian's, hence /usr/bin/python3); every wait is bounded.
"""
import argparse
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "apps", "tern"))
from pubsub_test import Broker, Suite, free_port  # noqa: E402  (tern pub/sub's test: brokers, checks, ports)

import paho.mqtt.client as mqtt  # noqa: E402

TESTDATA = os.path.join(HERE, "testdata")
TIMEOUT = 20  # seconds, for any one wait


class Observer:
    """A paho client that keeps what it receives in a queue."""

    def __init__(self, port, client_id, topics, clean=True):
        self.messages = queue.Queue()
        self.c = mqtt.Client(client_id, clean_session=clean)
        self.c.reconnect_delay_set(1, 2)
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload.decode(), m.retain))
        self.c.on_connect = lambda c, u, f, rc: [c.subscribe(t, 1) for t in topics]
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()

    def expect(self, topic, timeout=TIMEOUT, payload=None):
        """The next message on `topic` (with `payload`, if given); others are skipped. None after `timeout`."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                m = self.messages.get(timeout=max(0.01, end - time.time()))
            except queue.Empty:
                return None
            if m[0] == topic and (payload is None or payload(m[1])):
                return m
        return None

    def publish(self, topic, payload):
        self.c.publish(topic, payload, 1).wait_for_publish()

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class Gateway:
    """`tern gateway -c FILE`, its log in a file."""

    def __init__(self, tern, directory, name, port, body, extra_top="", config=None, cwd=None):
        """Writes DIRECTORY/NAME.toml from the arguments, or runs `config` as it is (from `cwd`)."""
        self.config = config or os.path.join(directory, name + ".toml")
        if not config:
            with open(self.config, "w") as f:
                f.write('name = "%s"\n%s\n[mqtt]\nuri = "mqtt://127.0.0.1:%d"\nkeep_alive = 5\n%s'
                        % (name, extra_top, port, body))
        self.log_path = os.path.join(directory, name + ".log")
        self.proc = subprocess.Popen([tern, "gateway", "-c", self.config], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "w"), cwd=cwd)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, text, timeout=TIMEOUT):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def map_with(root, topic):
    fields = ["function", "gateway", "location", "device", "sender", "action", "argkey", "argvalue"]
    m = {"root": root, "topics": [topic]}
    m.update({f: {"maptype": "none"} for f in fields})
    return json.dumps(m)


def process_scenario(s, b, tmp, label):
    d = os.path.join(tmp, label + "-process")
    os.makedirs(d)
    map_file = os.path.join(d, "map.json")
    with open(os.path.join(TESTDATA, "mqttgateway_dummy_map.json")) as f, open(map_file, "w") as out:
        out.write(f.read())
    o = Observer(b.port, "obs-process", ["home/#", "house/#"])
    g = Gateway(s.tern, d, "dummy2mqtt", b.port,
                '[map]\nfile = "map.json"\n[interface]\nname = "process"\ncommand = ["/usr/bin/python3", "%s"]\n'
                % os.path.join(TESTDATA, "echo_driver.py"), extra_top="metrics_interval = 1")
    try:
        on = o.expect("home/dummy2mqtt/status")
        s.check(label + ": process: online", on is not None and on[1] == "online", "%r\n%s" % (on, g.log()))
        o.publish("home/audiovideo/dummy/office/amp/app/C", '{"action":"volume_up","step":"3"}')
        st = o.expect("home/audiovideo/dummy/office/amp/app/S")
        s.check(label + ": process: command in, status out",
                st is not None and st[1] == '{"action":"volume_up","response":"OK","step":"3"}', "%r\n%s" % (st, g.log()))
        mt = o.expect("home/dummy2mqtt/metrics", payload=lambda p: json.loads(p)["out"] >= 1)
        s.check(label + ": process: metrics", mt is not None and json.loads(mt[1])["in"] >= 1, "%r" % (mt,))

        with open(map_file, "w") as f:
            f.write('{"root": "home", "topics": 7}')
        g.proc.send_signal(signal.SIGHUP)
        s.check(label + ": SIGHUP: a broken map is refused with its problems",
                g.wait_log("the new map is refused, the old one kept") and "map.json: /topics: " in g.log(), g.log())
        o.publish("home/audiovideo/dummy/office/amp/app/C", "volume_down")
        st = o.expect("home/audiovideo/dummy/office/amp/app/S")
        s.check(label + ": SIGHUP: the old map kept", st is not None and '"action":"volume_down"' in st[1], "%r" % (st,))

        with open(map_file, "w") as f:
            f.write(map_with("house", "house/+/+/+/+/+/C"))
        g.proc.send_signal(signal.SIGHUP)
        s.check(label + ": SIGHUP: a new map is read", g.wait_log('map reloaded: root "house"'), g.log())
        got = None
        for _ in range(50):  # until its subscription is in place
            o.publish("house/lighting/g/hall/lamp/app/C", "on")
            got = o.expect("house/lighting/g/hall/lamp/app/S", timeout=0.2)
            if got:
                break
        s.check(label + ": SIGHUP: the new map used on the same connection",
                got is not None and g.log().count("client: connected to") == 1, "%r\n%s" % (got, g.log()))
        code = g.stop()
        off = o.expect("home/dummy2mqtt/status")
        s.check(label + ": SIGTERM: exit 0 and offline", code == 0 and off is not None and off[1] == "offline",
                "%r %r\n%s" % (code, off, g.log()))
    finally:
        if g.proc.poll() is None:
            g.stop(signal.SIGKILL)
        o.close()


def template_scenario(s, b, tmp, label):
    d = os.path.join(tmp, label + "-template")
    os.makedirs(d)
    o = Observer(b.port, "obs-template", ["home/#"])
    time.sleep(0.2)
    g = Gateway(s.tern, d, "entry2mqtt", b.port,
                '[map]\nfile = "%s"\n[interface]\nname = "template"\ngreeting = "BELL_ON"\n'
                % os.path.join(TESTDATA, "mqttgateway_entry_map.json"))
    try:
        hi = o.expect("home/////entry2mqtt/S")
        s.check(label + ": template: its greeting", hi is not None and hi[1] == "bell_on", "%r\n%s" % (hi, g.log()))
        o.publish("home/security/entry2mqtt/frontgarden/gate/app/C", "gate_open")
        st = o.expect("home/security/entry2mqtt/frontgarden/gate/app/S")
        s.check(label + ": template: command in, reply out", st is not None and '"response":"OK"' in st[1],
                "%r\n%s" % (st, g.log()))
        g.stop(signal.SIGKILL)
        off = o.expect("home/entry2mqtt/status", payload=lambda p: p == "offline")
        s.check(label + ": SIGKILL: the will says offline", off is not None, g.log())
    finally:
        if g.proc.poll() is None:
            g.stop(signal.SIGKILL)
        o.close()


def modbus_scenario(s, b, tmp, label):
    d = os.path.join(tmp, label + "-modbus")
    os.makedirs(d)
    port = free_port()
    server = subprocess.Popen(["/usr/bin/python3", os.path.join(TESTDATA, "modbus_server.py"), str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    end = time.time() + TIMEOUT
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)

    def device(line):
        server.stdin.write(line + "\n")
        server.stdin.flush()

    device("ir 0 500")
    device("hr 1 40")
    with open(os.path.join(d, "map.json"), "w") as f:
        f.write(map_with("factory", "factory/+/+/+/+/+/C"))
    o = Observer(b.port, "obs-modbus", ["factory/+/+/+/+/+/S"])
    time.sleep(0.2)
    g = Gateway(s.tern, d, "plant2mqtt", b.port,
                '[map]\nfile = "map.json"\n[interface]\nname = "modbus"\nhost = "127.0.0.1"\nport = %d\n'
                'poll_ms = 100\nlocation = "plant"\npoints = ["boiler temperature input 0 0.1 -40", '
                '"boiler setpoint holding 1 0.5", "pump running coil 0"]\n' % port)
    topic = "factory///plant/boiler/plant2mqtt/S"
    try:
        t = o.expect(topic, payload=lambda p: "temperature" in p)
        s.check(label + ": modbus: a value at start", t is not None and t[1] == '{"action":"temperature","value":"10"}',
                "%r\n%s" % (t, g.log()))
        device("ir 0 625")
        t = o.expect(topic, payload=lambda p: "temperature" in p)
        s.check(label + ": modbus: a change on the device", t is not None and '"value":"22.5"' in t[1], "%r" % (t,))
        o.publish("factory///plant/boiler/app/C", '{"action":"setpoint","value":"22.5"}')
        r = o.expect("factory///plant/boiler/app/S")
        s.check(label + ": modbus: a command's reply", r is not None and '"response":"OK"' in r[1], "%r\n%s" % (r, g.log()))
        v = o.expect(topic, payload=lambda p: "setpoint" in p and "22.5" in p)
        s.check(label + ": modbus: the written value read back", v is not None, g.log())
    finally:
        g.stop()
        o.close()
        server.kill()
        server.wait()


def restart_scenario(s, b, tmp, label):
    """Returns the broker (started again)."""
    d = os.path.join(tmp, label + "-ticker")
    os.makedirs(d)
    o = Observer(b.port, "obs-ticker-" + label, ["+/+/+/+/+/+/S"], clean=False)
    time.sleep(0.2)
    ticker = 'i=0; while :; do echo "{\\"action\\":\\"tick\\",\\"arguments\\":{\\"n\\":\\"$i\\"}}"; i=$((i+1)); sleep 0.02; done'
    g = Gateway(s.tern, d, "ticker", b.port,
                'persistence_dir = "store"\n[interface]\nname = "process"\ncommand = ["sh", "-c", %s]\n'
                % json.dumps(ticker))
    seen = []

    def take(until):
        end = time.time() + 30
        while time.time() < end and (not seen or max(seen) < until):
            m = o.expect("/////ticker/S", timeout=1)
            if m:
                seen.append(int(json.loads(m[1])["n"]))

    try:
        take(5)
        s.check(label + ": restart: statuses flow", bool(seen), g.log())
        argv = b.proc.args
        b.stop()
        before = seen[-1] if seen else 0
        time.sleep(1.5)  # ~60 statuses while the broker is away
        b = Broker(argv, b.port)
        take(before + 100)
        gaps = [n for n in range(seen[0], seen[-1] + 1) if n not in seen] if seen else ["none"]
        # QoS 1: a message resent after the restart may arrive again; each first arrival is in order.
        first = list(dict.fromkeys(seen))
        s.check(label + ": restart: the statuses produced meanwhile arrive afterwards, in order",
                seen and max(seen) >= before + 100 and not gaps and first == sorted(first),
                "before %d, last %r, gaps %r, out of order %r\n%s"
                % (before, seen[-1:], gaps[:10], [(a, b) for a, b in zip(first, first[1:]) if b < a][:5], g.log()))
        s.check(label + ": restart: the gateway reconnected by itself", g.log().count("client: connected to") == 2, g.log())
    finally:
        g.stop()
        o.close()
    return b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tern", required=True)
    ap.add_argument("--ternd", required=True)
    args = ap.parse_args()
    s = Suite(os.path.abspath(args.tern))
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        port = free_port()
        brokers = [("ternd", Broker([os.path.abspath(args.ternd), "--port", str(port), "--storage", "rocksdb",
                                     "--data-dir", os.path.join(tmp, "ternd-data")], port))]
        port = free_port()
        md = os.path.join(tmp, "mosquitto")
        os.makedirs(md)
        os.chmod(md, 0o777)  # started as root it runs as user mosquitto, which writes its persistence here
        conf = os.path.join(md, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n"
                    "log_dest none\nmax_queued_messages 100000\n" % (port, md))
        os.chmod(conf, 0o644)
        brokers.append(("mosquitto", Broker(["/usr/sbin/mosquitto", "-c", conf], port)))
        for label, b in brokers:
            try:
                process_scenario(s, b, tmp, label)
                template_scenario(s, b, tmp, label)
                modbus_scenario(s, b, tmp, label)
                b = restart_scenario(s, b, tmp, label)
            finally:
                b.stop()
    print("%d checks, %d failed, %.1f s" % (s.count, s.failures, time.time() - start))
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
