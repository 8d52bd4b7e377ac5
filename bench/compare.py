#!/usr/bin/python3
"""ternd against Debian's mosquitto, side by side, measured by `tern bench`.

For each round, each scenario runs against ternd with 1 io thread, ternd with
2 io threads and mosquitto, in turn (A, B, C, A, B, C, ...), each on a fresh
broker process started by this script on a free port and stopped by its pid
afterwards. Prints the date, the command line and a table of medians with the
ternd/mosquitto ratios; --out keeps every run's JSON line.

    cmake --preset release && cmake --build --preset release --target tern ternd
    /usr/bin/python3 bench/compare.py                       # 3 rounds, 5 s per run
    /usr/bin/python3 bench/compare.py --quick               # smoke: well under a minute
    /usr/bin/python3 bench/compare.py --only fan-in --rounds 5 --duration 10

TLS rows (fan-in-q1-tls, connect-tls) run `tern bench --tls` against an
mqtts listener of ternd and a mosquitto listener with certfile/keyfile, with
a certificate made at the start by tests/support/make-pki.sh; connect-tls
counts new connections per second, each a full TLS handshake and a CONNECT
(the idle scenario's connections / connect_s).

fan-in-q1-ws runs `tern bench --ws /mqtt` against a ws listener of ternd;
Debian's mosquitto has no WebSocket listener, so its column is the same
scenario over plain TCP (the issue's target: ternd over WebSocket >= 5x
mosquitto over TCP, and >= 0.6x ternd's own fan-in-q1 over TCP).

--forwarder adds the latency floor to the latency scenario: bench/forwarder.c
(built here with cc -O2), a loop that copies PUBLISH bytes to subscribers and
answers what it must, and nothing else. Its column shows how much of each
broker's latency any broker would have on this machine.

ternd runs with --storage memory (--ternd-storage rocksdb: the default store,
in a fresh data directory per run) and its defaults but io_threads (and any
--ternd-set KEY=VALUE). --ternd-variant LABEL:KEY=VALUE[,KEY=VALUE] (repeatable)
makes a ternd row per variant and io_threads value, side by side, e.g. the two
answers to a subscriber slower than its publishers:

    /usr/bin/python3 bench/compare.py --only fan-in-slow --io-threads 2 --ternd-storage rocksdb \
        --ternd-variant store:limits.queue_full=store --ternd-variant hold_acks:limits.queue_full=hold_acks

fan-in-slow is fan-in 8->1 at QoS 1 with each publisher up to 300 messages
ahead: the one subscriber cannot keep up. Its rows give msg/s and "lost", the
messages the publishers sent (and the broker acknowledged) that never reached
the subscriber. mosquitto runs with the settings PEERS.md asks for
in throughput comparisons: max_inflight_messages 0, max_queued_messages
100000 (its config sits in a world-readable temporary directory, since as
root it drops to the user mosquitto).

Both cores are shared by the broker, the generator and anything else running:
every row shows the generator's and the broker's cores, and what other
programs used meanwhile. Before each run the script waits (--quiet-wait) for
the machine to be quiet, and repeats a run that others disturbed (--retries).
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (key, title, tern bench arguments, metrics). A metric is (JSON path, label,
# "higher" or "lower" is better).
THROUGHPUT = [("msgs_per_s", "msg/s", "higher")]
LATENCY = [("latency_us.p50", "p50 us", "lower"), ("latency_us.p99", "p99 us", "lower")]
MEMORY = [("broker_process.kib_per_connection", "KiB/conn", "lower")]
CONNECTS = [("connects_per_s", "conn/s", "higher")]
LOST = [("lost", "lost", "lower")]


def scenarios(a):
    d, w = str(a.duration), str(a.window)
    return [
        ("fan-in-q0", "fan-in 8->1 QoS 0", ["fan-in", "--publishers", "8", "--qos", "0", "-d", d, "-w", w], THROUGHPUT),
        ("fan-in-q1", "fan-in 8->1 QoS 1", ["fan-in", "--publishers", "8", "--qos", "1", "-d", d, "-w", w], THROUGHPUT),
        ("fan-in-q2", "fan-in 8->1 QoS 2", ["fan-in", "--publishers", "8", "--qos", "2", "-d", d, "-w", w], THROUGHPUT),
        ("fan-in-slow", "fan-in 8->1 QoS 1, 300 ahead",
         ["fan-in", "--publishers", "8", "--qos", "1", "-d", d, "-w", "300"], THROUGHPUT + LOST),
        ("fan-out-q0", "fan-out 1->50 QoS 0",
         ["fan-out", "--subscribers", "50", "--qos", "0", "-d", d, "-w", w], THROUGHPUT),
        ("fan-out-q1", "fan-out 1->50 QoS 1",
         ["fan-out", "--subscribers", "50", "--qos", "1", "-d", d, "-w", w], THROUGHPUT),
        ("latency", "1 pair, QoS 1, 2,000 msg/s",
         ["pairs", "--pairs", "1", "--qos", "1", "--rate", "2000", "-d", str(a.latency_duration)], LATENCY),
        ("idle", "idle %s connections" % format(a.idle_connections, ","),
         ["idle", "--connections", str(a.idle_connections), "-d", str(a.idle_hold),
          "--source-addresses", "4", "--connect-concurrency", "100"], MEMORY),
        ("fan-in-q1-tls", "fan-in 8->1 QoS 1, TLS",
         ["fan-in", "--publishers", "8", "--qos", "1", "-d", d, "-w", w, "--tls"], THROUGHPUT),
        ("fan-in-q1-ws", "fan-in 8->1 QoS 1, WebSocket (mosquitto: TCP)",
         ["fan-in", "--publishers", "8", "--qos", "1", "-d", d, "-w", w, "--ws", "/mqtt"], THROUGHPUT),
        ("connect-tls", "new TLS connections (%s, full handshake)" % format(a.tls_connections, ","),
         ["idle", "--connections", str(a.tls_connections), "-d", "0.1", "--source-addresses", "4",
          "--connect-concurrency", "100", "--tls"], CONNECTS + MEMORY),
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Broker:
    """One kind of broker: starts a fresh process per run, stops it by pid."""

    only = None  # scenario keys it runs (None: every one)

    def __init__(self, name, workdir):
        self.name = name
        self.workdir = workdir
        self.proc = None
        self.port = None

    pki_dir = None  # the certificates of TLS runs (main makes them)

    def command(self, port, tls):
        raise NotImplementedError

    def start(self, tls=False):
        """`tls`: listen with TLS (the certificate in pki_dir, set by main)."""
        self.port = free_port()
        log = open(os.path.join(self.workdir, self.name + ".log"), "ab")
        self.proc = subprocess.Popen(self.command(self.port, tls), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)
        log.close()
        if not wait_listening(self.port, self.proc):
            self.stop()
            raise RuntimeError("%s did not start; see %s" % (self.name, os.path.join(self.workdir, self.name + ".log")))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def toml_value(value):
    """`value` as TOML: as it is when it is one (a number, true, false, "quoted", [array]), else quoted."""
    v = value.strip()
    if v in ("true", "false") or v[:1] in ('"', "[", "'") or v.replace("_", "").replace(".", "", 1).lstrip("-").isdigit():
        return v
    return json.dumps(v)


class Ternd(Broker):
    def __init__(self, binary, io_threads, settings, workdir, label="", storage="memory"):
        super().__init__("ternd-io%d" % io_threads + ("-" + label if label else ""), workdir)
        self.binary = binary
        self.storage = storage
        self.data_dirs = []
        self.config = os.path.join(workdir, self.name + ".toml")
        self.sections = {"": ["io_threads = %d" % io_threads, 'log_level = "warn"']}
        for kv in settings:
            key, value = kv.split("=", 1)
            section, _, name = key.strip().rpartition(".")
            self.sections.setdefault(section, []).append("%s = %s" % (name, toml_value(value)))

    def command(self, port, tls):
        with open(self.config, "w") as f:
            f.write("\n".join(self.sections[""]) + "\n")
            if getattr(self, "ws", False):  # -p sets this listener's port
                f.write('\n[[listeners]]\nprotocol = "ws"\nport = 0\npath = "/mqtt"\n')
            elif tls:  # -p sets this listener's port
                f.write('\n[[listeners]]\nprotocol = "mqtts"\ncert_file = "%s/server.crt"\n'
                        'key_file = "%s/server.key"\n' % (self.pki_dir, self.pki_dir))
            for section, lines in self.sections.items():
                if section:
                    f.write("\n[%s]\n" % section + "\n".join(lines) + "\n")
        if self.storage == "memory":
            return [self.binary, "-c", self.config, "-p", str(port), "--storage", "memory"]
        data = os.path.join(self.workdir, "%s-data-%d" % (self.name, port))  # fresh: removed by stop()
        self.data_dirs.append(data)
        return [self.binary, "-c", self.config, "-p", str(port), "--storage", "rocksdb", "--data-dir", data]

    def stop(self):
        super().stop()
        for d in self.data_dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.data_dirs.clear()


class Mosquitto(Broker):
    def __init__(self, binary, workdir):
        super().__init__("mosquitto", workdir)
        self.binary = binary

    def command(self, port, tls):
        conf = os.path.join(self.workdir, "mosquitto-%d.conf" % port)
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 0\n"
                    "max_queued_messages 100000\npersistence false\nlog_dest stderr\n"
                    "log_type error\nlog_type warning\n" % port)
            if tls:
                f.write("certfile %s/server.crt\nkeyfile %s/server.key\n" % (self.pki_dir, self.pki_dir))
        os.chmod(conf, 0o644)
        return [self.binary, "-c", conf]


class Forwarder(Broker):
    """bench/forwarder.c: the latency floor, not a broker (1 pair only: it has no topics)."""
    only = ("latency",)

    def __init__(self, workdir):
        super().__init__("forwarder", workdir)
        self.binary = os.path.join(workdir, "forwarder")
        subprocess.run(["cc", "-O2", "-o", self.binary, os.path.join(ROOT, "bench", "forwarder.c")], check=True)

    def command(self, port, tls):
        return [self.binary, str(port)]


def busy_cores(interval=0.3):
    """Cores the whole machine kept busy over `interval` seconds (/proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4], time.monotonic()  # all but idle and iowait
    (b0, t0), _ = sample(), time.sleep(interval)
    b1, t1 = sample()
    return (b1 - b0) / os.sysconf("SC_CLK_TCK") / (t1 - t0)


def wait_quiet(a):
    """Waits (up to --quiet-wait s) until other programs leave the machine idle."""
    deadline = time.monotonic() + a.quiet_wait
    while time.monotonic() < deadline:
        if busy_cores() <= a.quiet:
            return True
        time.sleep(0.5)
    return False


def field(result, path):
    v = result
    for part in path.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return v


def run_one(a, broker, args):
    """Runs one scenario on a fresh broker; repeats it (--retries) when other
    programs (or the hypervisor, as steal) used more than --quiet cores meanwhile, keeping the least disturbed."""
    best = None
    for attempt in range(a.retries + 1):
        wait_quiet(a)
        r, cmd = run_once(a, broker, args)
        other = field(r, "machine.other_cores")
        r["attempt"] = attempt + 1
        if best is None or (r.get("ok") and (not best[0].get("ok") or
                                            (other or 0) < (field(best[0], "machine.other_cores") or 0))):
            best = (r, cmd)
        if not r.get("ok") or other is None or other <= a.quiet:
            break
    return best


def run_once(a, broker, args):
    broker.ws = "--ws" in args and isinstance(broker, Ternd)
    if "--ws" in args and not broker.ws:  # no WebSocket listener: the same scenario over TCP
        i = args.index("--ws")
        args = args[:i] + args[i + 2:]
    broker.start(tls="--tls" in args)
    try:
        # New TLS connections: one generator thread spends ~450 us on each
        # handshake's client side (certificate decoding, verification), more
        # than either broker, so with one thread the generator's rate is what
        # is measured; --connect-threads (default 2) gives it both cores.
        threads = a.connect_threads if "idle" in args and "--tls" in args else a.bench_threads
        cmd = [a.tern, "bench"] + args + ["-p", str(broker.port), "-V", a.mqtt, "-t", str(threads),
                                          "--broker-pid", str(broker.proc.pid), "--progress", "never"]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    finally:
        broker.stop()
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    try:
        r = json.loads(line)
        if r.get("connect_s") and r.get("connections"):
            r["connects_per_s"] = r["connections"] / r["connect_s"]
        return r, " ".join(shlex.quote(x) for x in cmd)
    except json.JSONDecodeError:
        return {"ok": False, "error": (p.stderr or "no output").strip()}, " ".join(cmd)


def fmt(v, label):
    if v is None:
        return "-"
    if label in ("msg/s", "conn/s"):
        return format(int(round(v)), ",")
    if label == "lost":
        return format(int(v), ",")
    if label == "KiB/conn":
        return "%.3f" % v
    if label == "cores":
        return "%.2f" % v
    return "%.1f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tern", default=os.path.join(ROOT, "build/release/bin/tern"))
    ap.add_argument("--ternd", default=os.path.join(ROOT, "build/release/bin/ternd"))
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per throughput run")
    ap.add_argument("--latency-duration", type=float, default=10.0, help="seconds of the 2,000 msg/s run")
    ap.add_argument("--idle-connections", type=int, default=10000)
    ap.add_argument("--tls-connections", type=int, default=2000, help="connections of the connect-tls run")
    ap.add_argument("--idle-hold", type=float, default=2.0, help="seconds the idle connections are held")
    ap.add_argument("--window", type=int, default=100, help="tern bench --window for throughput runs")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 0.5 s runs, 1 s latency run, 2,000 idle connections (results are rough)")
    ap.add_argument("--io-threads", default="1,2", help="ternd io_threads values to compare, e.g. 1,2")
    ap.add_argument("--ternd-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra ternd setting, TOML syntax, e.g. limits.max_inflight=100 (repeatable)")
    ap.add_argument("--ternd-variant", action="append", default=[], metavar="LABEL:KEY=VALUE[,KEY=VALUE]",
                    help="a ternd row (per io_threads value) with these settings, named ternd-ioN-LABEL "
                         "(repeatable; without it: one row per io_threads value)")
    ap.add_argument("--ternd-storage", default="memory", choices=["memory", "rocksdb"],
                    help="ternd's store: memory (default) or rocksdb, its default, in a fresh directory per run")
    ap.add_argument("--mqtt", default="3.1.1", help="MQTT version for tern bench: 3.1.1 or 5")
    ap.add_argument("--bench-threads", type=int, default=1, help="tern bench --threads")
    ap.add_argument("--connect-threads", type=int, default=2,
                    help="tern bench --threads of the connect-tls run (its client side costs more than a broker's)")
    ap.add_argument("--only", default="",
                    help="comma-separated scenario keys (a whole key: that scenario alone) or prefixes (fan-in: every fan-in row)")
    ap.add_argument("--forwarder", action="store_true",
                    help="also run the latency scenario against bench/forwarder.c, the floor (MQTT 3.1.1)")
    ap.add_argument("--out", help="append every run's JSON line (with broker and round) to this file")
    ap.add_argument("--quiet", type=float, default=0.1,
                    help="cores other programs may use: before a run, wait for the machine to be this quiet; "
                         "a run they disturbed more is repeated (default 0.1; the hypervisor's steal counts)")
    ap.add_argument("--quiet-wait", type=float, default=20.0, help="most seconds to wait for quiet before a run")
    ap.add_argument("--retries", type=int, default=3, help="repeats of a disturbed run (the least disturbed is kept)")
    a = ap.parse_args()
    # Brokers run in temporary directories: relative paths would not reach the binaries.
    a.tern, a.ternd = os.path.abspath(a.tern), os.path.abspath(a.ternd)
    if a.quick:
        a.duration, a.latency_duration, a.idle_connections, a.idle_hold = 0.5, 1.0, 2000, 0.5
        a.tls_connections = 200
        a.retries, a.quiet_wait = 0, 0.0
    for path in (a.tern, a.ternd, a.mosquitto):
        if not os.access(path, os.X_OK):
            sys.exit("compare.py: %s is not an executable (build with: cmake --build --preset release "
                     "--target tern ternd; apt-get install mosquitto)" % path)

    started = datetime.datetime.now(datetime.timezone.utc)
    workdir = tempfile.mkdtemp(prefix="tern-compare-")
    os.chmod(workdir, 0o755)  # mosquitto, started as root, reads its config as the user mosquitto
    variants = []
    for v in a.ternd_variant:
        label, _, settings = v.partition(":")
        if not label or not all("=" in kv for kv in settings.split(",") if kv):
            sys.exit("compare.py: --ternd-variant %r: expected LABEL:KEY=VALUE[,KEY=VALUE]" % v)
        variants.append((label, [kv for kv in settings.split(",") if kv]))
    brokers = [Ternd(a.ternd, int(n), a.ternd_set + settings, workdir, label, a.ternd_storage)
               for n in a.io_threads.split(",") for label, settings in (variants or [("", [])])]
    if a.forwarder:
        if a.mqtt != "3.1.1":
            sys.exit("compare.py: --forwarder speaks MQTT 3.1.1 only")
        brokers.append(Forwarder(workdir))
    brokers.append(Mosquitto(a.mosquitto, workdir))
    keys = {s[0] for s in scenarios(a)}
    # A whole key names that scenario alone (fan-in-q1, not fan-in-q1-tls); any other word is a prefix.
    chosen = [s for s in scenarios(a)
              if not a.only or any(s[0] == k if k in keys else s[0].startswith(k) for k in a.only.split(","))]
    if any("--tls" in s[2] for s in chosen):
        Broker.pki_dir = os.path.join(workdir, "pki")
        os.mkdir(Broker.pki_dir)
        subprocess.run(["sh", os.path.join(ROOT, "tests", "support", "make-pki.sh"), Broker.pki_dir], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {(s[0], b.name): [] for s in chosen for b in brokers}
    out = open(a.out, "a") if a.out else None
    failures = []
    try:
        for rnd in range(1, a.rounds + 1):
            for key, title, args, _ in chosen:
                for b in brokers:
                    if b.only is not None and key not in b.only:
                        continue
                    r, cmd = run_one(a, b, args)
                    r["round"], r["broker_name"], r["scenario_key"] = rnd, b.name, key
                    if out:
                        out.write(json.dumps(r) + "\n")
                        out.flush()
                    if not r.get("ok"):
                        failures.append("%s on %s, round %d: %s" % (key, b.name, rnd, r.get("error")))
                    else:
                        results[(key, b.name)].append(r)
                    sys.stderr.write("round %d/%d  %-11s %-12s others %-5s %s\n" % (
                        rnd, a.rounds, key, b.name, fmt(field(r, "machine.other_cores"), "cores"),
                        " ".join("%s=%s" % (label, fmt(field(r, path), label)) for path, label, _ in
                                 next(s[3] for s in chosen if s[0] == key)) if r.get("ok") else "FAILED"))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: the table has the runs done so far\n")
    finally:
        for b in brokers:
            b.stop()
        if out:
            out.close()

    def med(key, broker, path):
        vals = [field(r, path) for r in results[(key, broker)]]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    mosq = brokers[-1].name
    ternds = [b.name for b in brokers[:-1]]
    print("tern bench: ternd vs mosquitto, %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    print("command: %s" % " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv))
    print("machine: %s, %d cores, Linux %s; MQTT %s; tern bench threads %d; medians of %d rounds" % (
        platform.node(), os.cpu_count() or 0, platform.release(), a.mqtt, a.bench_threads, a.rounds))
    head = ["scenario", "metric"] + ternds + [mosq] + ["%s/mosq" % t.replace("ternd-", "") for t in ternds] + \
        ["lost (each)", "generator cores (each)", "broker cores (each)", "others' cores (each)"]
    rows = []
    for key, title, _, metrics in chosen:
        for path, label, _better in metrics:
            vals = [med(key, b.name, path) for b in brokers]
            ratios = ["%.2fx" % (v / vals[-1]) if v is not None and vals[-1] else "-" for v in vals[:-1]]
            lost = "/".join(str(int(sum(field(r, "lost") or 0 for r in results[(key, b.name)])))
                            if results[(key, b.name)] else "-" for b in brokers) \
                if key not in ("idle", "connect-tls") else "-"
            gen = "/".join(fmt(med(key, b.name, "generator.cores"), "cores") for b in brokers)
            brk = "/".join(fmt(med(key, b.name, "broker_process.cores"), "cores") for b in brokers)
            other = "/".join(fmt(med(key, b.name, "machine.other_cores"), "cores") for b in brokers)
            rows.append([title, label] + [fmt(v, label) for v in vals] + ratios + [lost, gen, brk, other])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print("ratios: against mosquitto (throughput and conn/s: higher is better; latency and KiB/conn: lower is better). "
          "Cores: CPU seconds / run seconds, %s order; others' cores: what other programs and the "
          "hypervisor (steal) used meanwhile (median; above %.2f the figures are disturbed)." % (
              "/".join(b.name for b in brokers), a.quiet))
    disturbed = ["%s on %s (%s)" % (key, b.name, fmt(med(key, b.name, "machine.other_cores"), "cores"))
                 for key, _, _, _ in chosen for b in brokers
                 if (med(key, b.name, "machine.other_cores") or 0.0) > a.quiet]
    if disturbed:
        print("DISTURBED (median others' cores above %.2f: these ratios do not measure the brokers): %s" % (
            a.quiet, ", ".join(disturbed)))
    print("each round (round 1, 2, ...):")
    for key, title, _, metrics in chosen:
        for path, label, _better in metrics:
            for b in brokers:
                if results[(key, b.name)]:
                    print("  %s, %s, %s: %s" % (title, label, b.name, " / ".join(
                        fmt(field(r, path), label) for r in results[(key, b.name)])))
    kept = [r for rs in results.values() for r in rs]
    repeated = [r for r in kept if r.get("attempt", 1) > 1]
    print("runs kept: %d; %d of them after repeating a disturbed run (others above %.2f cores), %d still above it" % (
        len(kept), len(repeated), a.quiet, sum(1 for r in kept if (field(r, "machine.other_cores") or 0) > a.quiet)))
    if failures:
        print("failed runs:")
        for f in failures:
            print("  " + f)
    shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
