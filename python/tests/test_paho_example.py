"""An unmodified paho program (python/examples/paho_sensor.py) gives the same
output on Debian's paho-mqtt 1.6 and, with only its import changed, on tern."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "paho_sensor.py")


def run(source, port):
    p = subprocess.run([sys.executable, "-c", source, str(port)], capture_output=True, timeout=30,
                       env=os.environ.copy())
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def test_same_output(broker):
    try:
        import paho.mqtt.client  # noqa: F401 (Debian's python3-paho-mqtt)
    except ImportError:
        pytest.skip("python3-paho-mqtt is not installed")
    with open(EXAMPLE) as f:
        source = f.read()
    changed = source.replace("import paho.mqtt.client as mqtt", "import tern.paho.mqtt.client as mqtt")
    assert changed != source
    with_paho = run(source, broker.port)
    with_tern = run(changed, broker.port)
    assert with_tern == with_paho
    assert "done, 5 messages" in with_tern
