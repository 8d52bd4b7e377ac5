"""The machinery of the argument sweep (test_argument_sweep.py): the odd
values, Sweep (calls a callable with each odd value in each argument
position, records what it raised, flags SystemError, undocumented
RuntimeError and hangs), and what the groups share. The groups are in
sweep_paho.py, sweep_tern.py, sweep_amqtt.py and sweep_native.py; main(group)
runs one in the subprocess the test starts."""
import asyncio
import importlib
import json
import os
import pathlib
import socket
import sys
import tempfile
import threading
import time

# ------------------------------------------------------------------ the odd values


class Boom(Exception):
    """What the odd values themselves raise (a raising __index__, a raising
    callable): it may come back out of the call as it is."""


class Str(str):
    pass


class BadIndex(int):
    def __index__(self):
        raise Boom("__index__")


def raiser(*args, **kwargs):
    raise Boom("called")


def odd_values():
    return [
        ("None", None), ("True", True), ("-1", -1), ("0", 0), ("2**64", 2 ** 64), ("-2**63", -2 ** 63),
        ("nan", float("nan")), ("inf", float("inf")), ('""', ""), ('"\\x00"', "\x00"), ('"a"*70000', "a" * 70000),
        ("b'\\xff'*3", b"\xff" * 3), ("bytearray", bytearray(b"x")), ("memoryview", memoryview(b"x")), ("[]", []),
        ("{}", {}), ("object()", object()), ("Str", Str("s")), ("BadIndex", BadIndex(1)),
        ("PathLike", pathlib.PurePosixPath("sweep-path")), ("raiser", raiser)]


# What waits for ever when asked to (a timeout of None or a huge one where
# nothing completes): not swept with those values.
FOREVER = {"None", "inf", "2**64"}
# A timeout of True or BadIndex(1) is one second of waiting: valid, and slow.
SLOW = {"True", "BadIndex"}
TRUTHY = {"True", "-1", "2**64", "-2**63", "nan", "inf", '"\\x00"', '"a"*70000', "b'\\xff'*3", "bytearray",
          "memoryview", "object()", "Str", "BadIndex", "PathLike", "raiser"}

# RuntimeError is an answer only where documented:
RUNTIME_OK = {
    # paho's MQTTMessageInfo: "Message publish failed" for an rc set to an error (paho raises it too).
    "MessageInfo.rc=;wait_for_publish",
}

CALL_LIMIT = 20.0  # seconds: a call that takes longer is a hang


class P:
    """A parameter: its name, a sane value, keyword-only or not, and the odd
    values not to try (they wait for ever by design)."""

    def __init__(self, name, sane, kw=False, skip=()):
        self.name, self.sane, self.kw, self.skip = name, sane, kw, set(skip)


# ------------------------------------------------------------------ the sweep's machinery


class Sweep:
    def __init__(self, group):
        self.group = group
        self.results = {}   # callable -> {exception name or "ok": [what]}
        self.faults = []    # what fails the test
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.progress = os.environ.get("SWEEP_PROGRESS")
        self.fd = os.open(self.progress, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if self.progress else None
        self.unraisable = []
        self.times = {}
        sys.unraisablehook = lambda u: self.unraisable.append((type(u.exc_value).__name__, str(u.exc_value)[:200]))

    def note(self, what):
        if self.fd is not None:
            os.write(self.fd, (what[:300] + "\n").encode("utf-8", "backslashreplace"))

    def run(self, name, what, thunk, timeout=5.0, waits=False):
        """Calls thunk() (awaiting what it returns when a coroutine), records
        what it raised under `name`. `waits`: it waits for ever by design
        (HANG is its answer, not a fault)."""
        self.note("%s(%s)" % (name, what))
        t0 = time.monotonic()
        try:
            r = thunk()
            if asyncio.iscoroutine(r) or isinstance(r, asyncio.Future):
                r = self.loop.run_until_complete(self._limit(r, timeout))
            outcome = "ok"
        except _Hang:
            outcome = "HANG"
            r = None
        except BaseException as e:  # noqa: B902 - everything is recorded
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            outcome = type(e).__name__
            r = e
        if time.monotonic() - t0 > CALL_LIMIT:
            outcome = "HANG"
        self.results.setdefault(name, {}).setdefault(outcome, []).append(what)
        self.times[name.split("[")[0].split(":")[0]] = self.times.get(name.split("[")[0].split(":")[0], 0) + \
            time.monotonic() - t0
        if outcome == "HANG" and waits:
            return None
        if outcome == "SystemError" or outcome == "HANG" or (outcome == "RuntimeError" and name not in RUNTIME_OK):
            self.faults.append("%s(%s): %s %s" % (name, what, outcome, str(r)[:200] if r is not None else ""))
        return r if outcome == "ok" else None

    async def _limit(self, coro, timeout):
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait([task], timeout=timeout)
        if not done:
            task.cancel()
            try:
                await asyncio.wait_for(task, 2.0)
            except BaseException:  # noqa: B902
                pass
            raise _Hang()
        return task.result()

    def sweep(self, name, make, params, then=None, timeout=5.0):
        """For each parameter and odd value: make() gives the callable, which
        is called with that value there and the sane ones elsewhere; then(r)
        uses what it returned (an object made: connect it...)."""
        for i, p in enumerate(params):
            for label, value in odd_values():
                if label in p.skip:
                    continue
                args, kwargs = [], {}
                for j, q in enumerate(params):
                    v = value if j == i else q.sane
                    if q.kw:
                        kwargs[q.name] = v
                    else:
                        args.append(v)
                what = "%s=%s" % (p.name, label)
                f = self.run(name + ":make", what, make)
                if f is None:
                    continue
                r = self.run(name, what, lambda: f(*args, **kwargs), timeout)
                if then is not None and r is not None:
                    self.run(name + ":then", what, lambda: then(r), timeout)
                del f, r

    def report(self):
        for u in self.unraisable:
            if u[0] == "SystemError":
                self.faults.append("unraisable SystemError: %s" % (u,))
        out = {"group": self.group, "faults": self.faults,
               "raised": self.results,
               "unraisable": self.unraisable[:20],
               "times": {k: round(v, 2) for k, v in sorted(self.times.items(), key=lambda kv: -kv[1])[:15]}}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


class _Hang(Exception):
    pass


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process_broker():
    import tern
    return tern.Broker({"listeners": [{"port": 0}]}, storage="memory").start()


class RaisingLogger:
    def log(self, *args, **kwargs):
        raise Boom("log")


def after_a_moment(f, then):
    threading.Timer(0.3, f).start()
    return then()


async def gather_two(f, g):
    return await asyncio.gather(f(), g(), return_exceptions=True)


# The module that holds each group's group_<name>(sweep).
GROUPS = {"paho": "sweep_paho", "helpers": "sweep_paho", "client": "sweep_tern", "aio": "sweep_tern",
          "broker": "sweep_tern", "amqtt_client": "sweep_amqtt", "amqtt_broker": "sweep_amqtt",
          "native": "sweep_native", "orders": "sweep_native"}


def main(group):
    s = Sweep(group)
    run = getattr(importlib.import_module(GROUPS[group]), "group_" + group)
    tmp = tempfile.mkdtemp(prefix="tern-sweep-")
    os.chdir(tmp)  # stores, persistence dirs and files the odd values name land here
    run(s)
    s.report()
