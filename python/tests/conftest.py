"""Brokers for the tern Python tests: ternd (the built binary, TERN_TERND,
memory storage) and mosquitto (Debian's), each on a free port of 127.0.0.1,
started once per session. Tests that take `broker` run against both.
`durable_ternd` is a test's own ternd on a RocksDB store, which keeps
sessions and messages across a kill (stop()) and start()."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("broker exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not listen on %d" % port)


class Broker:
    def __init__(self, name, start):
        self.name = name
        self._start = start
        self.port = free_port()
        self.proc = None
        self.start()

    def start(self):
        self.proc = self._start(self.port)
        wait_port(self.port, self.proc)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def __repr__(self):
        return self.name


def _broker_env():
    """The environment for a broker: ASan's runtime is preloaded for the
    interpreter under the asan preset; ternd links its own."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def _ternd_path():
    path = os.environ.get("TERN_TERND")
    if not path or not os.path.exists(path):
        pytest.skip("TERN_TERND is not set to a built ternd (run through ctest)")
    return path


def _ternd(name, *args):
    """A ternd started with `args` (its storage) on a free port."""
    path = _ternd_path()
    env = _broker_env()

    def start(port):
        return subprocess.Popen([path, "-p", str(port)] + list(args), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    return Broker(name, start)


@pytest.fixture(scope="session")
def ternd():
    b = _ternd("ternd", "--storage", "memory")
    yield b
    b.stop()


@pytest.fixture
def durable_ternd(tmp_path):
    """A ternd of the test's own, its RocksDB store in a temporary folder."""
    b = _ternd("ternd-rocksdb", "--storage", "rocksdb", "--data-dir", str(tmp_path / "ternd-data"))
    yield b
    b.stop()


@pytest.fixture(scope="session")
def mosquitto():
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        pytest.skip("mosquitto is not installed (scripts/install-deps)")
    d = tempfile.mkdtemp(prefix="tern-py-mosq-")
    os.chmod(d, 0o755)
    env = _broker_env()

    def start(port):
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 0\n"
                    "max_queued_messages 100000\n" % port)
        os.chmod(conf, 0o644)
        return subprocess.Popen([exe, "-c", conf], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    b = Broker("mosquitto", start)
    yield b
    b.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=["ternd", "mosquitto"])
def broker(request):
    return request.getfixturevalue(request.param)


_counter = [0]


@pytest.fixture
def topic(request):
    """A topic of this test's own."""
    _counter[0] += 1
    return "tern-py/%d/%s" % (_counter[0], request.node.name.replace("[", "-").replace("]", ""))


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()
