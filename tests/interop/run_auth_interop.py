#!/usr/bin/python3
"""Interop of ternd's password file and ACL with real clients and tools:
mosquitto_pub/sub with -u/-P and paho's username_pw_set against a ternd
whose password file holds one user written by Debian's mosquitto_passwd
($7$, 101 iterations) and one written by `tern passwd` (the default cost),
and an ACL file in mosquitto's syntax; SIGHUP re-reading both files.

    /usr/bin/python3 tests/interop/run_auth_interop.py --ternd build/asan/bin/ternd --tern build/asan/bin/tern

ternd listens on 127.0.0.1 (a loopback listener: anonymous clients allowed,
as [auth] allow_anonymous says) and on 127.0.0.1 with allow_anonymous = false.
Prints one line per scenario and "N passed, M failed"; exits non-zero when
any failed.
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid

import paho.mqtt.client as mqtt

from run_interop import Broker, Paho, background, finish, free_port, run, run_scenarios, wait_subscribed

TIMEOUT = 10

ACL = """# anonymous clients
topic read public/#

user mosq
topic readwrite mosq/#
topic read public/#
topic write public/mosq

user ternu
topic readwrite ternu/#
topic read mosq/#
topic deny mosq/secret

pattern readwrite devices/%c/#
"""


class Setup(Broker):
    def __init__(self, ternd, tern):
        super().__init__(ternd)
        self.tern = tern
        self.dir = tempfile.mkdtemp(prefix="tern-auth-interop-")
        self.open_port = self.closed_port = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_files(self):
        passwd = self.path("passwd")
        r = run(["mosquitto_passwd", "-c", "-b", passwd, "mosq", "mosq-pw"])
        assert r.returncode == 0, r.stderr
        r = run([self.tern, "passwd", "-b", passwd, "ternu", "tern-pw"], timeout=60)
        assert r.returncode == 0, r.stderr
        with open(self.path("acl"), "w") as f:
            f.write(ACL)

    def start(self):
        self.write_files()
        for _ in range(5):
            self.open_port, self.closed_port = free_port(), free_port()
            with open(self.path("ternd.toml"), "w") as f:
                f.write("""log_level = "debug"
sys_interval = 0
[[listeners]]
address = "127.0.0.1"
port = {open}
[[listeners]]
address = "127.0.0.1"
port = {closed}
allow_anonymous = false
[storage]
backend = "memory"
[auth]
password_file = "{passwd}"
acl_file = "{acl}"
""".format(open=self.open_port, closed=self.closed_port, passwd=self.path("passwd"), acl=self.path("acl")))
            if self.launch([self.ternd, "-c", self.path("ternd.toml")], (self.open_port, self.closed_port)):
                return
        raise RuntimeError("ternd did not start: " + self.output())

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def topic(prefix):
    return prefix + "/" + uuid.uuid4().hex[:12]


def pub(port, t, msg, *args):
    return run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", t, "-m", msg, "-q", "1"] + list(args))


def sub(port, t, count, *args):
    return background(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", t, "-C", str(count),
                       "-W", str(TIMEOUT)] + list(args))


def roundtrip(s, user, password, t, v):
    creds = ["-u", user, "-P", password, "-V", v]
    p = sub(s.closed_port, t, 1, *creds)
    wait_subscribed(1.5)  # its password is hashed first: 210,000 PBKDF2 iterations for tern passwd's user
    r = pub(s.closed_port, t, "hello", *creds)
    assert r.returncode == 0, r.stderr
    out, err = finish(p)
    assert out.strip() == "hello", (out, err)


for _v in ("311", "5"):
    def _a(s, v=_v):
        roundtrip(s, "mosq", "mosq-pw", topic("mosq"), v)
    _a.__name__ = "mosquitto_passwd_user_v" + _v
    scenario(_a)

    def _b(s, v=_v):
        roundtrip(s, "ternu", "tern-pw", topic("ternu"), v)
    _b.__name__ = "tern_passwd_user_v" + _v
    scenario(_b)

    def _c(s, v=_v):
        r = pub(s.closed_port, topic("mosq"), "x", "-u", "mosq", "-P", "wrong", "-V", v)
        assert r.returncode != 0, "published with a wrong password"
        # mosquitto_pub names the refusal: bad user name or password (4 / 0x86)
        assert "user name or password" in r.stderr.lower() or "not authori" in r.stderr.lower(), r.stderr
    _c.__name__ = "wrong_password_refused_v" + _v
    scenario(_c)


@scenario
def anonymous_refused_where_the_listener_says(s):
    r = pub(s.closed_port, "public/x", "x")
    assert r.returncode != 0, "an anonymous client published on a listener with allow_anonymous = false"
    r = pub(s.open_port, "devices/anon-ok/state", "x", "-i", "anon-ok")  # loopback default: anonymous allowed
    assert r.returncode == 0, r.stderr


@scenario
def passwords_never_logged(s):
    out = s.output()
    for secret in ("mosq-pw", "tern-pw", "wrong"):
        assert secret not in out, "the log holds a password"


@scenario
def paho_username_pw_set(s):
    for version, bad in ((mqtt.MQTTv311, 4), (mqtt.MQTTv5, 0x86)):
        ok = Paho(s.closed_port, version)
        ok.c.username_pw_set("ternu", "tern-pw")
        _, rc = ok.connect()
        assert rc == 0, rc
        t = topic("ternu")
        ok.subscribe(t, 1)
        ok.publish(t, b"paho", qos=1)
        assert ok.expect(1)[0].payload == b"paho"
        ok.stop()
        wrong = Paho(s.closed_port, version)
        wrong.c.username_pw_set("ternu", "nope")
        _, rc = wrong.connect()
        assert rc == bad, (version, rc)
        wrong.stop(clean=False)


@scenario
def acl_read_write_and_deny(s):
    # ternu reads mosq/# but not mosq/secret; mosq may not write ternu/...
    p = sub(s.closed_port, "mosq/#", 2, "-u", "ternu", "-P", "tern-pw", "-v")
    wait_subscribed(1.5)
    for t in ("mosq/secret", "mosq/a", "mosq/b"):
        assert pub(s.closed_port, t, t, "-u", "mosq", "-P", "mosq-pw").returncode == 0
    out, err = finish(p)
    assert out.split("\n")[:2] == ["mosq/a mosq/a", "mosq/b mosq/b"], (out, err)
    # A refused SUBSCRIBE: mosquitto_sub reports the SUBACK's failure code.
    for v in ("311", "5"):
        r = run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(s.closed_port), "-u", "mosq", "-P", "mosq-pw",
                 "-V", v, "-t", "ternu/#", "-C", "1", "-W", "2"])
        assert "All subscription requests were denied" in r.stderr, (v, r.stdout, r.stderr)
    # A refused PUBLISH (5.0, QoS 1): PUBACK 0x87.
    r = pub(s.closed_port, "ternu/x", "x", "-u", "mosq", "-P", "mosq-pw", "-V", "5", "-d")
    assert "reason code: 135" in r.stdout + r.stderr or "not authori" in (r.stdout + r.stderr).lower() \
        or r.returncode != 0, (r.stdout, r.stderr)


@scenario
def acl_pattern_client_id_and_retained(s):
    assert pub(s.open_port, "devices/d1/state", "on", "-i", "d1", "-r").returncode == 0
    assert pub(s.open_port, "devices/d1/state", "off", "-i", "d2", "-r").returncode == 0  # refused: d2's not d1's
    r = run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(s.open_port), "-i", "d1", "-t", "devices/d1/#",
             "-C", "1", "-W", "3"])
    assert r.stdout.strip() == "on", (r.stdout, r.stderr)
    # An anonymous client may not read devices/d1 (only d1 may): retained message withheld.
    r = run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(s.open_port), "-i", "d3", "-t", "public/#",
             "-C", "1", "-W", "2"])
    assert r.stdout.strip() == "", r.stdout


def hangup_until(s, text):
    """Sends ternd SIGHUP and waits (5 s at most) for `text` in its log."""
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while text not in s.output() and time.time() < deadline:
        time.sleep(0.05)
    assert text in s.output(), s.output()


@scenario
def sighup_reloads_both_files(s):
    passwd = s.path("passwd")
    r = run(["mosquitto_passwd", "-b", passwd, "mosq", "new-pw"])
    assert r.returncode == 0, r.stderr
    with open(s.path("acl"), "a") as f:
        f.write("user mosq\ntopic readwrite ternu/shared\n")
    hangup_until(s, "remembered decisions dropped")
    assert pub(s.closed_port, topic("mosq"), "x", "-u", "mosq", "-P", "mosq-pw").returncode != 0
    assert pub(s.closed_port, topic("mosq"), "x", "-u", "mosq", "-P", "new-pw").returncode == 0
    r = pub(s.closed_port, "ternu/shared", "x", "-u", "mosq", "-P", "new-pw", "-V", "5", "-d")
    assert r.returncode == 0 and "reason code: 135" not in r.stdout, (r.stdout, r.stderr)
    # A bad ACL: refused naming file and line; the one in force stays.
    with open(s.path("acl"), "a") as f:
        f.write("topik read x\n")
    hangup_until(s, "keeping the ACL in force")
    assert s.path("acl") + ":17:" in s.output(), s.output()
    assert pub(s.closed_port, topic("mosq"), "x", "-u", "mosq", "-P", "new-pw").returncode == 0
    assert s.proc.poll() is None, "ternd exited"


def bad_acl_refused_at_start(s):
    bad = s.path("bad.acl")
    with open(bad, "w") as f:
        f.write("topic read a\ntopik read b\n")
    cfg = s.path("bad.toml")
    with open(cfg, "w") as f:
        f.write('[[listeners]]\nport = %d\n[storage]\nbackend = "memory"\n[auth]\nacl_file = "%s"\n'
                % (free_port(), bad))
    r = run([s.ternd, "-c", cfg])
    assert r.returncode != 0, (r.returncode, r.stdout, r.stderr)
    assert bad + ":2:" in r.stdout + r.stderr, (r.stdout, r.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ternd", required=True)
    ap.add_argument("--tern", required=True)
    ap.add_argument("-k", "--filter", default="")
    args = ap.parse_args()
    return run_scenarios(Setup(args.ternd, args.tern), SCENARIOS, args.filter, [bad_acl_refused_at_start])

if __name__ == "__main__":
    sys.exit(main())
