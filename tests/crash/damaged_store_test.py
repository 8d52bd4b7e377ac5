#!/usr/bin/python3
"""ternd on a damaged data directory, end to end (the storage unit tests cover
every kind of damage; this checks what an operator sees):

- garbage in the MANIFEST: the store is moved aside (an error log line names
  where), ternd starts empty and serves;
- the same with `on_corruption = "refuse"`: ternd exits 1 naming the
  directory, and leaves it as it was;
- a log file cut short (what a crash during a write leaves): not damage, the
  messages before the cut are recovered;
- a second ternd on a directory in use: exits 1, "is another ternd using it?".

  /usr/bin/python3 tests/crash/damaged_store_test.py --ternd build/asan/bin/ternd
"""
import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def s16(b):
    return len(b).to_bytes(2, "big") + b


def packet(first, body):
    assert len(body) < 128
    return bytes([first, len(body)]) + body


def connect(port):
    for _ in range(200):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            time.sleep(0.025)
    s.sendall(packet(0x10, s16(b"MQTT") + b"\x04\x02\x00\x3c" + s16(b"checker")))
    assert s.recv(4)[:2] == b"\x20\x02"
    return s


def retained_count(port, topic=b"keep/#"):
    """How many retained messages a subscription to `topic` gets."""
    s = connect(port)
    s.sendall(packet(0x82, b"\x00\x01" + s16(topic) + b"\x00"))
    s.settimeout(0.5)
    data = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except socket.timeout:
        pass
    s.close()
    return data.count(b"keep/")


def run(ternd, data, port, config=None, wait_listen=True):
    args = [ternd, "-p", str(port), "--data-dir", data]
    if config:
        args[1:1] = ["-c", config]
    p = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    if wait_listen:
        connect(port).close()
    return p


def stop(p):
    p.terminate()
    _, err = p.communicate(timeout=10)
    return err


def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--ternd", default=os.path.join(root, "build/asan/bin/ternd"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tern-store-")
    try:
        port = free_port()
        data = os.path.join(tmp, "data")
        # A store with retained messages in it.
        p = run(a.ternd, data, port)
        s = connect(port)
        for i in range(5):
            s.sendall(packet(0x31, s16(b"keep/%d" % i) + b"v"))
        s.sendall(packet(0xC0, b""))
        s.recv(2)
        s.close()
        stop(p)
        p = run(a.ternd, data, port)
        check(retained_count(port) == 5, "retained messages survive a restart")
        stop(p)

        # A log file cut short: recovered up to the cut.
        p = run(a.ternd, data, port)
        s = connect(port)
        s.sendall(packet(0x31, s16(b"keep/late") + b"v"))
        s.sendall(packet(0xC0, b""))
        s.recv(2)
        s.close()
        p.kill()
        p.wait()
        logs = sorted(glob.glob(os.path.join(data, "*.log")), key=os.path.getmtime)
        if logs:
            with open(logs[-1], "r+b") as f:
                f.truncate(max(0, os.path.getsize(logs[-1]) - 3))
        p = run(a.ternd, data, port)
        n = retained_count(port)
        err = stop(p)
        check(n >= 5, "a log cut short is recovered up to the cut (%d retained)" % n)
        check(" error " not in err, "a log cut short is not called damage: " + err.strip()[-200:])

        # Garbage in the MANIFEST, on_corruption = refuse: exit 1, nothing moved.
        for m in glob.glob(os.path.join(data, "MANIFEST-*")):
            with open(m, "wb") as f:
                f.write(os.urandom(200))
        conf = os.path.join(tmp, "refuse.toml")
        with open(conf, "w") as f:
            f.write('[storage]\non_corruption = "refuse"\n')
        p = run(a.ternd, data, port, conf, wait_listen=False)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        check(p.returncode == 1, "refuse: ternd exits 1 (got %s)" % p.returncode)
        check(data in err and "damaged" in err, "refuse: the error names the directory: " + err.strip()[-160:])
        check(os.path.isdir(data) and not glob.glob(data + ".damaged-*"), "refuse: the directory is left as it was")

        # The default, move_aside: moved, logged, started empty.
        p = run(a.ternd, data, port)
        n = retained_count(port)
        # A second ternd on the same directory, while the first runs.
        port2 = free_port()
        q = run(a.ternd, data, port2, wait_listen=False)
        _, err2 = q.communicate(timeout=30)
        err = stop(p)
        moved = glob.glob(data + ".damaged-*")
        check(len(moved) == 1, "move_aside: the damaged store was moved to %s" % (moved[0] if moved else "nowhere"))
        check("moved it to" in err and "error" in err, "move_aside: an error log line says where")
        check(n == 0, "move_aside: ternd started with an empty store and serves")
        check(q.returncode == 1 and "another ternd" in err2,
              "a second ternd on a directory in use exits 1: " + err2.strip()[-120:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("damaged_store_test: %s" % ("FAILED: %d" % len(failures) if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
