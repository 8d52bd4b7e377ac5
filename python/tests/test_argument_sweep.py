"""A sweep of odd argument values through the whole public Python API: every
public callable of tern.paho.mqtt.client.Client, tern.paho.mqtt.publish and
.subscribe, tern.Client, tern.AsyncClient, tern.Broker, tern.amqtt's
MQTTClient and Broker and the objects of tern._tern, called with each odd
value (ODD) in each argument position in turn, the others sane; then the
same objects driven in odd orders (publish before connect, twice after
disconnect, loop_start twice, collected while their loop runs...).

Issue 17: wrong argument types or values raise TypeError/ValueError naming
the argument, and nothing crashes the interpreter. Each group runs in a
subprocess (python3 -c 'import sweep; sweep.main(group)'),
which must exit 0 with no fatal error, segfault, AddressSanitizer or
UBSan report on stderr. Inside it, any exception is an answer except
SystemError, a RuntimeError where the callable does not document one
(sweep.RUNTIME_OK), and the sweep's own per-call time limit (a hang). What each
callable raised is printed as JSON (run a group by hand to see it:
python3 test_argument_sweep.py paho).
"""
import json
import os
import subprocess
import sys
import time

import pytest

import sweep

HERE = os.path.dirname(os.path.abspath(__file__))

# ------------------------------------------------------------------ the tests

FATAL = ("Fatal Python error", "Segmentation", "AddressSanitizer", "runtime error:", "LeakSanitizer",
         "terminate called", "Aborted")


@pytest.mark.parametrize("group", list(sweep.GROUPS))
def test_sweep(group, tmp_path):
    progress = tmp_path / "progress"
    env = dict(os.environ, SWEEP_PROGRESS=str(progress), PYTHONPATH=os.pathsep.join(
        [HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    code = "import sweep; sweep.main(%r)" % group
    try:
        p = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path), capture_output=True,
                           text=True, errors="replace", timeout=120)
    except subprocess.TimeoutExpired:
        last = progress.read_text(errors="replace").splitlines()[-1:] if progress.exists() else []
        pytest.fail("the %s sweep hung at %s" % (group, last))
    last = progress.read_text(errors="replace").splitlines()[-1:] if progress.exists() else []
    fatal = [line for line in p.stderr.splitlines() if any(f in line for f in FATAL)]
    assert p.returncode == 0 and not fatal, "the %s sweep ended with %s at %s:\n%s" % (
        group, p.returncode, last, p.stderr[-6000:])
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert not out["faults"], "\n".join(out["faults"])


if __name__ == "__main__":
    for g in sys.argv[1:] or sweep.GROUPS:
        print(g, file=sys.stderr)
        sweep.main(g)


def test_paho_disconnect_then_loop_stop_closes_the_connection():
    """paho's usual ending, disconnect() then loop_stop(): the DISCONNECT
    goes out before the loop thread stops (paho writes it at once). It
    stayed unsent, the connection open for ~2 s and is_connected() True."""
    import tern
    import tern.paho.mqtt.client as mqtt

    with tern.Broker({"listeners": [{"port": 0}]}, storage="memory") as b:
        with tern.Client("mqtt://127.0.0.1:%d" % b.port) as watcher:
            watcher.subscribe("will/#")
            c = mqtt.Client()
            c.will_set("will/x", b"gone")
            c.connect("127.0.0.1", b.port, 5)
            c.loop_start()
            assert c.disconnect() == mqtt.MQTT_ERR_SUCCESS
            c.loop_stop()
            assert not c.is_connected()
            end = time.monotonic() + 0.5
            while b.connections > 1 and time.monotonic() < end:
                time.sleep(0.01)
            assert b.connections == 1
            assert watcher.get_message(0.2) is None  # a DISCONNECT: no will
