"""Threads, the GIL and the end of the process: Ctrl-C interrupts
loop_forever() and loop(timeout), a program that never stops its loop exits, a client
collected inside its own callback does not hang."""
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import tern.paho.mqtt.client as mqtt

from conftest import wait_for


def run_script(body, port, timeout=20, sigint_after=None):
    code = "import sys, time\nimport tern.paho.mqtt.client as mqtt\nPORT = %d\n" % port + textwrap.dedent(body)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=os.environ.copy())
    if sigint_after is not None:
        # wait for the script to say it is in the loop
        line = p.stdout.readline()
        assert line.strip() == b"looping", (line, p.stderr.read())
        time.sleep(sigint_after)
        p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out.decode(), err.decode()


def message_to(on_message, port, topic, payload, qos=0):
    """A client with its loop thread and `on_message`, subscribed to `topic`,
    and a message on its way to it."""
    c = mqtt.Client()
    c.on_message = on_message
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    c.subscribe(topic, qos)
    time.sleep(0.2)
    c.publish(topic, payload, qos)
    return c


def test_ctrl_c_interrupts_loop_forever(ternd):
    rc, out, err = run_script("""
        c = mqtt.Client()
        c.connect("127.0.0.1", PORT, 30)
        print("looping", flush=True)
        try:
            c.loop_forever()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """, ternd.port, sigint_after=0.5)
    assert rc == 0, err
    assert "interrupted" in out


def test_ctrl_c_interrupts_a_long_loop_call(ternd):
    # loop(timeout) waited out its whole timeout before Ctrl-C was seen.
    rc, out, err = run_script("""
        c = mqtt.Client()
        c.connect("127.0.0.1", PORT, 30)
        print("looping", flush=True)
        t0 = time.monotonic()
        try:
            c.loop(60)
        except KeyboardInterrupt:
            print("interrupted after %.1f s" % (time.monotonic() - t0), flush=True)
    """, ternd.port, sigint_after=0.5)
    assert rc == 0, err
    assert "interrupted after" in out, out
    assert float(out.split("after ")[1].split()[0]) < 5, out


def test_exit_with_loop_running(ternd):
    t0 = time.monotonic()
    rc, out, err = run_script("""
        got = []
        c = mqtt.Client()
        c.on_message = lambda cl, u, m: got.append(m)
        c.connect("127.0.0.1", PORT, 30)
        c.loop_start()
        c.subscribe("exit/#", 1)
        for i in range(100):
            c.publish("exit/t", b"x", 1)
        print("bye", flush=True)
        # no loop_stop(), no disconnect()
    """, ternd.port)
    assert rc == 0, err
    assert "bye" in out
    assert time.monotonic() - t0 < 15


def test_client_collected_inside_its_callback(ternd, topic):
    box = {}
    done = []

    def on_message(client, userdata, m):
        box.clear()  # the last reference goes, on the loop thread
        del client
        gc.collect()
        done.append(True)

    c = message_to(on_message, ternd.port, topic, b"bye")
    box["c"] = c
    del c
    assert wait_for(lambda: done)
    time.sleep(0.2)


def test_clients_come_and_go(ternd, topic):
    for i in range(20):
        c = mqtt.Client()
        c.on_message = lambda cl, u, m: None
        c.connect("127.0.0.1", ternd.port, 30)
        c.loop_start()
        c.subscribe(topic, 1)
        c.publish(topic, b"x", 1)
        if i % 2:
            c.disconnect()
            c.loop_stop()
        del c
        gc.collect()


def test_wait_for_publish_inside_a_callback_returns_at_once(ternd, topic):
    """wait_for_publish(timeout) in a callback cannot be completed by the loop
    running the callback: it returns at once (it spun for `timeout` before)."""
    spent = []

    def on_message(client, userdata, m):
        t0 = time.monotonic()
        client.publish(topic + "/x", b"y", 1).wait_for_publish(5)
        spent.append(time.monotonic() - t0)

    c = message_to(on_message, ternd.port, topic, b"go", 1)
    assert wait_for(lambda: spent, 15)
    c.disconnect()
    c.loop_stop()
    assert spent[0] < 1.0
