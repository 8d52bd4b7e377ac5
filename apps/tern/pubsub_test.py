#!/usr/bin/python3
"""End-to-end tests of `tern pub` and `tern sub` (CTest: tern_pubsub).

Runs the binaries against ternd (started on a free port, memory storage)
and against Debian's mosquitto: pub to sub, -C, -W and its exit status 27,
-v, -F, -N, -D user properties, -l line mode, -f file, -n null message,
retained messages with -r, -R, -T, -E with -c persistent sessions, -V 31/311/5,
usage errors (2), unreachable and refusing brokers, SIGINT, interop: tern sub
fed by mosquitto_pub, tern pub read by mosquitto_sub; and TLS against
mosquitto with certificates made by the openssl command: --cafile, --capath,
-L mqtts://, --cert/--key, refusals (unknown CA, host name) and --insecure.

  /usr/bin/python3 apps/tern/pubsub_test.py --tern build/asan/bin/tern --ternd build/asan/bin/ternd

A subscriber is known to be subscribed when it prints the retained "ready"
message published before it started (each scenario has a topic of its own);
every wait is bounded.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT = 10  # seconds, for any one process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, argv, port, cwd=None):
        self.port = port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("broker did not start: %s" % argv)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def mosquitto(tmp, name, extra=""):
    port = free_port()
    d = os.path.join(tmp, name)
    os.makedirs(d)
    os.chmod(d, 0o755)
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\npersistence false\nlog_dest none\n%s" % (port, extra))
    os.chmod(conf, 0o644)
    return Broker(["/usr/sbin/mosquitto", "-c", conf], port)


class Run:
    def __init__(self, argv, stdin=None):
        p = subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT)
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr.decode(errors="replace")


class Suite:
    def __init__(self, tern):
        self.tern = tern
        self.failures = 0
        self.count = 0

    def check(self, name, ok, detail=""):
        self.count += 1
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + detail), flush=True)
        if not ok:
            self.failures += 1

    def pub(self, port, *args, stdin=None):
        return Run([self.tern, "pub", "-p", str(port)] + list(args), stdin)

    def sub(self, port, ready_topic, *args, pub=None, first_bytes=None):
        """Starts `tern sub`; returns once it printed the retained message on
        ready_topic (which the caller's filters must match): its first line,
        or its first `first_bytes` bytes."""
        (pub or self.pub)(port, "-t", ready_topic, "-m", "ready", "-r", "-q", "1")
        p = subprocess.Popen([self.tern, "sub", "-p", str(port)] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        first = p.stdout.read(first_bytes) if first_bytes else p.stdout.readline()
        return p, first  # (left retained: clearing it would reach the subscriber too)

    @staticmethod
    def finish(p):
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        return p.returncode, out, err.decode(errors="replace")


def ternd_scenarios(s, port):
    # pub -> sub, -v, -m, -f, -n, -C
    with tempfile.NamedTemporaryFile("wb", delete=False) as f:
        f.write(b"from a file\x00binary")
        path = f.name
    p, first = s.sub(port, "v/ready", "-t", "v/#", "-v", "-C", "4", "-q", "1")
    s.check("sub prints the retained ready message with -v", first == b"v/ready ready\n", repr(first))
    r1 = s.pub(port, "-t", "v/m", "-m", "hello world", "-q", "1")
    r2 = s.pub(port, "-t", "v/f", "-f", path, "-q", "2")
    r3 = s.pub(port, "-t", "v/n", "-n")
    code, out, err = s.finish(p)
    os.unlink(path)
    s.check("pub -m/-f/-n exit 0", (r1.code, r2.code, r3.code) == (0, 0, 0), r1.err + r2.err + r3.err)
    s.check("sub -v -C 4 gets -m, -f and -n messages, exits 0",
            code == 0 and out == b"v/m hello world\nv/f from a file\x00binary\nv/n (null)\n", "%d %r %s" % (code, out, err))

    # -l line mode, with QoS 1
    p, _ = s.sub(port, "l/ready", "-t", "l/#", "-v", "-C", "5")
    r = s.pub(port, "-t", "l/x", "-l", "-q", "1", stdin=b"one\ntwo\n\nthree\n")
    code, out, err = s.finish(p)
    s.check("pub -l sends one message per line (an empty line: a null message)",
            r.code == 0 and out == b"l/x one\nl/x two\nl/x (null)\nl/x three\n", "%d %r %s" % (code, out, r.err))

    # -F and -D user properties (MQTT 5), -N
    p, first = s.sub(port, "f/ready", "-V", "5", "-t", "f/#", "-q", "2", "-C", "2",
                     "-F", r"%t|%p|%q|%r|%l|%P|%C|%x|%%|%-8t|%5p|%.3t|%03l|\t!")
    s.check("-F formats the ready message",
            first == b"f/ready|ready|1|1|5|||7265616479|%|f/ready |ready|f/r|005|\t!\n",
            repr(first))
    r = s.pub(port, "-V", "5", "-t", "f/x", "-m", "hi", "-q", "2", "-D", "publish", "user-property", "k", "v",
              "-D", "publish", "user-property", "k2", "v 2", "-D", "publish", "content-type", "text/plain",
              "-D", "connect", "user-property", "who", "test")
    code, out, err = s.finish(p)
    s.check("-F %t %p %q %r %l %P %C %x %% widths, -D user-property and content-type",
            r.code == 0 and out == b"f/x|hi|2|0|2|k:v k2:v 2|text/plain|6869|%|f/x     |   hi|f/x|002|\t!\n",
            "%r %s %s" % (out, err, r.err))
    p, _ = s.sub(port, "n/ready", "-t", "n/#", "-N", "-C", "3", first_bytes=5)
    s.pub(port, "-t", "n/a", "-m", "a")
    s.pub(port, "-t", "n/b", "-m", "b")
    code, out, err = s.finish(p)
    s.check("-N prints no newlines", out == b"ab", repr(out))
    p, _ = s.sub(port, "j/ready", "-V", "5", "-t", "j/#", "-C", "2", "-F", "%j")
    s.pub(port, "-V", "5", "-t", "j/x", "-m", 'say "hi"', "-D", "publish", "user-property", "a", "b")
    code, out, err = s.finish(p)
    s.check("-F %j prints JSON", re.fullmatch(
        rb'\{"tst":"[0-9T:.-]+Z","topic":"j/x","qos":0,"retain":0,"payloadlen":8,'
        rb'"properties":\{"user-properties":\{"a":"b"\}\},"payload":"say \\"hi\\""\}\n', out) is not None, repr(out))

    # retained (-r), -R, clearing, -W and its exit status
    r = s.pub(port, "-t", "r/x", "-m", "kept", "-r", "-q", "1")
    res = Run([s.tern, "sub", "-p", str(port), "-t", "r/x", "-C", "1", "-F", "%t %p %r", "-W", "5"])
    s.check("pub -r: a later sub gets it retained", r.code == 0 and res.code == 0 and res.out == b"r/x kept 1\n",
            "%d %r %s" % (res.code, res.out, res.err))
    start = time.time()
    res = Run([s.tern, "sub", "-p", str(port), "-t", "r/x", "-R", "-W", "1"])
    took = time.time() - start
    s.check("-R skips retained; -W 1 exits 27 and says so on stderr",
            res.code == 27 and res.out == b"" and "timed out" in res.err and 0.9 < took < 5,
            "%d %r %s %.2f" % (res.code, res.out, res.err, took))
    s.pub(port, "-t", "r/x", "-n", "-r", "-q", "1")
    res = Run([s.tern, "sub", "-p", str(port), "-t", "r/x", "-W", "1"])
    s.check("pub -r -n clears it (sub sees nothing, exits 27)", res.code == 27 and res.out == b"",
            "%d %r" % (res.code, res.out))

    # -T filters out; --repeat; -C counts what is printed
    p, _ = s.sub(port, "t/ready", "-t", "t/#", "-T", "t/skip/#", "-C", "4")
    s.pub(port, "-t", "t/skip/1", "-m", "no")
    s.pub(port, "-t", "t/x", "-m", "yes", "--repeat", "3", "-q", "1")
    code, out, err = s.finish(p)
    s.check("-T filters out, --repeat 3", code == 0 and out == b"yes\nyes\nyes\n", "%r %s" % (out, err))

    # persistent session: -c -E subscribes and leaves; messages wait; -c again collects them
    for v in ("311", "5"):
        cid = "tern-persist-" + v
        r = Run([s.tern, "sub", "-p", str(port), "-V", v, "-c", "-i", cid, "-t", "ps/" + v, "-q", "1", "-E"])
        p1 = s.pub(port, "-V", v, "-t", "ps/" + v, "-m", "while away", "-q", "1")
        res = Run([s.tern, "sub", "-p", str(port), "-V", v, "-c", "-i", cid, "-t", "ps/" + v, "-q", "1", "-C", "1",
                   "-W", "5", "-v"])
        s.check("-V %s -c -E, then -c -C 1 gets what was queued" % v,
                r.code == 0 and p1.code == 0 and res.code == 0 and res.out == ("ps/%s while away\n" % v).encode(),
                "%d %d %r %s" % (r.code, res.code, res.out, r.err + res.err))

    # MQTT 3.1
    p, _ = s.sub(port, "31/ready", "-V", "31", "-t", "31/#", "-C", "2", "-v")
    r = s.pub(port, "-V", "31", "-t", "31/x", "-m", "old", "-q", "2")
    code, out, err = s.finish(p)
    s.check("-V 31 pub and sub", r.code == 0 and code == 0 and out == b"31/x old\n", "%r %s %s" % (out, err, r.err))

    # -L URL
    p, _ = s.sub(port, "u/ready", "-L", "mqtt://127.0.0.1:%d/u/#" % port, "-C", "2")
    r = Run([s.tern, "pub", "-L", "mqtt://someone:secret@127.0.0.1:%d/u/x" % port, "-m", "by url"])
    code, out, err = s.finish(p)
    s.check("-L mqtt://user:pw@host:port/topic", r.code == 0 and out == b"by url\n", "%r %s" % (out, r.err))

    # SIGINT ends tern sub with 0
    p, _ = s.sub(port, "sig/ready", "-t", "sig/#")
    p.send_signal(signal.SIGINT)
    code, out, err = s.finish(p)
    s.check("SIGINT: sub disconnects and exits 0", code == 0, "%d %s" % (code, err))


def usage_scenarios(s, port):
    cases = [
        (["pub", "-m", "x"], 2, "a topic (-t)"),
        (["pub", "-t", "a"], 2, "a message"),
        (["pub", "-t", "a", "-m", "x", "-n"], 2, "only one of"),
        (["pub", "-t", "a/#", "-m", "x"], 2, "invalid topic"),
        (["pub", "-t", "a", "-m", "x", "-q", "3"], 2, "qos"),
        (["pub", "-t", "a", "-m", "x", "-D", "publish", "user-property", "k", "v"], 2, "-V 5"),
        (["pub", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "bogus", "1"], 2, "unknown property"),
        (["pub", "-V", "5", "-t", "a", "-m", "x", "-D", "subscribe", "user-property", "k", "v"], 2, "sends no"),
        (["pub", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "message-expiry-interval", "soon"], 2,
         "expected an integer"),
        (["pub", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "subscription-identifier", "3"], 2,
         "does not send"),
        (["pub", "-V", "4", "-t", "a", "-m", "x"], 2, "unknown protocol version"),
        (["pub", "-t", "a", "-m", "x", "-c"], 2, "-c needs a client id"),
        (["pub", "-t", "a", "-m", "x", "--will-payload", "p"], 2, "need --will-topic"),
        (["sub"], 2, "a topic filter"),
        (["sub", "-t", "a/#/b"], 2, "invalid topic filter"),
        (["sub", "-t", "a", "-F", "%i"], 2, "invalid format specifier 'i'"),
        (["sub", "-t", "a", "--bogus"], 2, "bogus"),
        (["pub", "-t", "a", "-m", "x", "--cafile", "/nonexistent/ca.pem"], 1,
         "--cafile '/nonexistent/ca.pem': No such file or directory"),
        (["sub", "-t", "a", "--cert", "/etc/hostname"], 2, "--cert and --key go together"),
        (["pub", "-t", "a", "-m", "x", "--tls-version", "tlsv1.2"], 1, "--tls-version is not supported yet"),
        (["pub", "-L", "http://127.0.0.1/a", "-m", "x"], 2, "expected mqtt://, mqtts://, ws:// or wss://"),
        (["pub", "-t", "a", "-m", "x", "-p", str(free_port())], 1, "cannot connect"),
        (["sub", "-t", "a", "-p", str(free_port()), "-W", "1"], 1, "cannot connect"),
    ]
    for argv, want, text in cases:
        if "-p" not in argv and "-L" not in argv:
            argv = argv + ["-p", str(port)]
        r = Run([s.tern] + argv)
        s.check("exit %d: %s" % (want, " ".join(argv[:7])), r.code == want and text in r.err and r.out == b"",
                "%d %r %r" % (r.code, r.err, r.out))
    r = Run([s.tern, "pub", "--help"])
    s.check("pub --help mentions TLS and exit statuses", r.code == 0 and b"TLS" in r.out and b"27" not in r.out
            and b"-h,--host" in r.out, r.err)
    r = Run([s.tern, "sub", "--help"])
    s.check("sub --help mentions -W's 27", r.code == 0 and b"27" in r.out and b"-F,--format" in r.out, r.err)
    r = Run([s.tern, "pub", "-t", "a", "-m", "x", "-p", str(free_port()), "--quiet"])
    s.check("--quiet: no message, exit 1", r.code == 1 and r.err == "", r.err)


def interop_scenarios(s, tmp):
    m = mosquitto(tmp, "open", "allow_anonymous true\n")
    closed = mosquitto(tmp, "closed", "allow_anonymous false\n")
    try:
        def mpub(port, *args):
            return Run(["mosquitto_pub", "-p", str(port)] + list(args))

        for v, mv in (("311", "mqttv311"), ("5", "mqttv5")):
            p, first = s.sub(m.port, "i%s/ready" % v, "-V", v, "-t", "i%s/#" % v, "-C", "3", "-F", "%t %p %q %P",
                             "-q", "1", pub=lambda port, *a: mpub(port, "-V", mv, *a))
            args = ["-V", mv, "-t", "i%s/x" % v, "-m", "from mosquitto_pub", "-q", "1"]
            if v == "5":
                args += ["-D", "publish", "user-property", "src", "mosq"]
            mpub(m.port, *args)
            mpub(m.port, "-V", mv, "-t", "i%s/y" % v, "-m", "second", "-q", "2")
            code, out, err = s.finish(p)
            props = " src:mosq" if v == "5" else " "
            want = ("i%s/x from mosquitto_pub 1%s\ni%s/y second 1 \n" % (v, props, v)).encode()
            s.check("-V %s: tern sub receives from mosquitto_pub through mosquitto" % v,
                    code == 0 and first.startswith(b"i%s/ready ready" % v.encode()) and out == want,
                    "%d %r %r %s" % (code, first, out, err))

        # tern pub -> mosquitto_sub (ready: a retained message, cleared after)
        for v, mv in (("311", "mqttv311"), ("5", "mqttv5")):
            s.pub(m.port, "-V", v, "-t", "o%s/ready" % v, "-m", "ready", "-r")
            p = subprocess.Popen(["mosquitto_sub", "-p", str(m.port), "-V", mv, "-t", "o%s/#" % v, "-v", "-C", "3",
                                  "-F", "%t %p %P"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            first = p.stdout.readline()
            extra = ["-D", "publish", "user-property", "src", "tern"] if v == "5" else []
            r1 = s.pub(m.port, "-V", v, "-t", "o%s/x" % v, "-m", "from tern pub", "-q", "1", *extra)
            r2 = s.pub(m.port, "-V", v, "-t", "o%s/y" % v, "-l", "-q", "2", stdin=b"line\n")
            code, out, err = s.finish(p)
            props = "src:tern" if v == "5" else ""
            s.check("-V %s: mosquitto_sub receives from tern pub" % v,
                    r1.code == 0 and r2.code == 0 and code == 0 and
                    out == ("o%s/x from tern pub %s\no%s/y line \n" % (v, props, v)).encode(),
                    "%d %r %r %s %s" % (code, first, out, err, r1.err))

        # CONNACK refusals exit with the CONNACK's code, as mosquitto_pub does
        for v, want in (("311", 5), ("5", 135)):
            r = s.pub(closed.port, "-V", v, "-t", "a", "-m", "x")
            mr = mpub(closed.port, "-V", "mqttv311" if v == "311" else "mqttv5", "-t", "a", "-m", "x")
            s.check("-V %s refused CONNECT exits %d (mosquitto_pub: %d)" % (v, want, mr.code),
                    r.code == want and r.code == mr.code and "refused" in r.err, "%d %s" % (r.code, r.err))
    finally:
        m.stop()
        closed.stop()


def make_pki(d):
    """The TLS tests' certificates (tests/support/make-pki.sh: CAs, server
    certificates for localhost/127.0.0.1 and for other.example, a client
    certificate, a hashed CA folder) in `d`."""
    os.makedirs(d)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "support", "make-pki.sh")
    subprocess.run(["sh", script, d], check=True, capture_output=True, timeout=TIMEOUT)
    subprocess.run(["chmod", "-R", "a+rX", d], check=True)  # mosquitto started as root reads as user mosquitto
    return lambda name: os.path.join(d, name)


def tls_scenarios(s, tmp):
    pki = make_pki(os.path.join(tmp, "pki"))
    tls_port, mutual_port, other_port = free_port(), free_port(), free_port()

    def tls_listener(port, cert, mutual=False):
        return "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n%s" % (
            port, pki("ca.crt"), pki(cert + ".crt"), pki(cert + ".key"), "require_certificate true\n" if mutual else "")

    m = mosquitto(tmp, "tls", "allow_anonymous true\n" + tls_listener(tls_port, "server") +
                  tls_listener(mutual_port, "server", True) + tls_listener(other_port, "other_server"))
    try:
        for port in (tls_port, mutual_port, other_port):
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.02)
        ca = ["--cafile", pki("ca.crt")]

        # pub -> sub over TLS: --cafile (sub), --capath (pub), -L mqtts:// with a host name
        p, first = s.sub(tls_port, "tls/ready", "-t", "tls/#", "-v", "-C", "3", "-q", "1", *ca,
                         pub=lambda port, *a: s.pub(port, *a, *ca))
        r1 = s.pub(tls_port, "-t", "tls/a", "-m", "capath", "-q", "1", "--capath", pki("capath"))
        r2 = Run([s.tern, "pub", "-L", "mqtts://localhost:%d/tls/b" % tls_port, "-m", "url", "-q", "2", *ca])
        code, out, err = s.finish(p)
        s.check("TLS: pub --capath and -L mqtts://localhost reach sub --cafile",
                first == b"tls/ready ready\n" and r1.code == 0 and r2.code == 0 and code == 0 and
                out == b"tls/a capath\ntls/b url\n", "%r %r %s %s %s" % (first, out, err, r1.err, r2.err))

        # client certificate
        r = s.pub(mutual_port, "-t", "tls/c", "-m", "x", "-q", "1", *ca, "--cert", pki("client.crt"),
                  "--key", pki("client.key"))
        s.check("TLS: --cert/--key accepted where mosquitto requires a client certificate", r.code == 0, r.err)
        r = s.pub(mutual_port, "-t", "tls/c", "-m", "x", "-q", "1", *ca)
        s.check("TLS: no client certificate where one is required: exit 1", r.code == 1 and "certificate" in r.err,
                "%d %s" % (r.code, r.err))

        # refusals, --insecure
        r = s.pub(tls_port, "-t", "tls/d", "-m", "x", "--cafile", pki("unknown_ca.crt"))
        s.check("TLS: a broker certificate from an unknown CA is refused (exit 1)",
                r.code == 1 and "certificate verify failed: self-signed certificate in certificate chain" in r.err,
                "%d %s" % (r.code, r.err))
        r = Run([s.tern, "pub", "-h", "localhost", "-p", str(other_port), "-t", "tls/e", "-m", "x", *ca])
        s.check("TLS: a certificate for another host name is refused (exit 1)",
                r.code == 1 and "certificate verify failed: hostname mismatch" in r.err, "%d %s" % (r.code, r.err))
        r = Run([s.tern, "pub", "-h", "localhost", "-p", str(other_port), "-t", "tls/e", "-m", "x", *ca,
                 "--insecure"])
        s.check("TLS: --insecure accepts it", r.code == 0, "%d %s" % (r.code, r.err))
        r = Run([s.tern, "pub", "-h", "127.0.0.1", "-p", str(tls_port), "-t", "tls/f", "-m", "x", "--insecure",
                 "--cafile", pki("unknown_ca.crt")])
        s.check("TLS: --insecure still verifies the chain", r.code == 1 and "certificate verify failed" in r.err,
                "%d %s" % (r.code, r.err))

        # -p defaults to 8883 with TLS flags (nothing of ours listens there: the message names the URI)
        r = Run([s.tern, "pub", "-h", "127.0.0.1", "-t", "tls/g", "-m", "x", *ca])
        s.check("TLS: -p defaults to 8883", r.code != 0 and "mqtts://127.0.0.1:8883" in r.err,
                "%d %s" % (r.code, r.err))
    finally:
        m.stop()


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
        ternd = Broker([os.path.abspath(args.ternd), "--port", str(port), "--storage", "memory"], port)
        try:
            ternd_scenarios(s, port)
            usage_scenarios(s, port)
        finally:
            ternd.stop()
        interop_scenarios(s, tmp)
        tls_scenarios(s, tmp)
    print("%d checks, %d failed, %.1f s" % (s.count, s.failures, time.time() - start))
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
