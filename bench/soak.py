#!/usr/bin/python3
"""Soak test: a mixed load against ternd for a while, sampling its memory.

Publishers at QoS 0, 1 and 2 (some retained), subscribers on wildcards,
persistent subscribers that disconnect and come back, clients with wills that
die abruptly, and clients that reconnect over and over. Every 10 seconds it
prints ternd's resident memory (VmRSS) and the message counts; at the end a
JSON summary with the first and last minutes' memory.

    /usr/bin/python3 bench/soak.py --ternd build/release/bin/ternd --minutes 10

Memory is "flat" when the last minute's RSS is within a few MiB of the
second minute's (the first minute includes warm-up).
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt

stop = threading.Event()
counts = {"published": 0, "received": 0, "wills": 0, "reconnects": 0, "errors": 0}
lock = threading.Lock()


def bump(k, n=1):
    with lock:
        counts[k] += n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client(port, cid="", clean=True, version=mqtt.MQTTv311, will=None):
    c = mqtt.Client(client_id=cid, clean_session=clean if version != mqtt.MQTTv5 else None, protocol=version)
    if will:
        c.will_set(*will)
    c.on_message = lambda *a: bump("received")
    c.connect("127.0.0.1", port, keepalive=20)
    c.loop_start()
    return c


def publisher(port, qos, retain, rate):
    c = client(port, version=random.choice([mqtt.MQTTv311, mqtt.MQTTv5]))
    i = 0
    while not stop.is_set():
        t = "soak/%d/%d" % (qos, i % 100)
        info = c.publish(t, os.urandom(64), qos=qos, retain=retain and i % 10 == 0)
        if qos:
            info.wait_for_publish(5)
        bump("published")
        i += 1
        time.sleep(1.0 / rate)
    c.disconnect()
    c.loop_stop()


def subscriber(port, filt, qos):
    c = client(port)
    c.subscribe(filt, qos)
    stop.wait()
    c.disconnect()
    c.loop_stop()


def persistent(port, n):
    cid = "soak-persist-%d" % n
    while not stop.is_set():
        c = client(port, cid=cid, clean=False)
        c.subscribe("soak/1/#", 1)
        stop.wait(random.uniform(1, 4))
        c.disconnect()
        c.loop_stop()
        bump("reconnects")
        stop.wait(random.uniform(0.5, 2))


def will_dier(port):
    while not stop.is_set():
        c = client(port, will=("soak/wills", b"gone", 1, False))
        stop.wait(random.uniform(0.5, 2))
        c.loop_stop()
        try:
            c.socket().close()  # abrupt: the will goes out
        except Exception:
            bump("errors")
        bump("wills")


def churner(port):
    while not stop.is_set():
        c = client(port, cid="churn-" + uuid.uuid4().hex[:6], version=mqtt.MQTTv5)
        c.subscribe("soak/0/+", 0)
        stop.wait(0.2)
        c.disconnect()
        c.loop_stop()
        bump("reconnects")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ternd", required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=200, help="messages/s per publisher")
    args = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([args.ternd, "-p", str(port), "--storage", "memory"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    threads = []
    for q in (0, 1, 2):
        for r in (False, True):
            threads.append(threading.Thread(target=publisher, args=(port, q, r, args.rate)))
    for f, q in (("soak/#", 0), ("soak/1/#", 1), ("soak/2/+", 2), ("soak/wills", 1)):
        threads.append(threading.Thread(target=subscriber, args=(port, f, q)))
    threads += [threading.Thread(target=persistent, args=(port, n)) for n in range(3)]
    threads += [threading.Thread(target=will_dier, args=(port,)) for _ in range(2)]
    threads += [threading.Thread(target=churner, args=(port,)) for _ in range(2)]
    for t in threads:
        t.daemon = True
        t.start()
    samples = []
    start = time.time()
    end = start + args.minutes * 60
    try:
        while time.time() < end:
            time.sleep(10)
            if proc.poll() is not None:
                print("ternd exited with", proc.returncode, file=sys.stderr)
                return 1
            kib = rss_kib(proc.pid)
            samples.append((time.time() - start, kib))
            with lock:
                print("t=%4.0fs rss=%6d KiB %s" % (samples[-1][0], kib, json.dumps(counts)), file=sys.stderr,
                      flush=True)
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    minute = lambda lo, hi: [k for t, k in samples if lo <= t < hi]
    second = minute(60, 120) or [samples[0][1]]
    last = minute(max(0, samples[-1][0] - 60), samples[-1][0] + 1)
    summary = {"minutes": args.minutes, "rss_kib_second_minute_max": max(second),
               "rss_kib_last_minute_max": max(last), "rss_kib_max": max(k for _, k in samples), **counts}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
