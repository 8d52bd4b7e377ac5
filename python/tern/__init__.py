"""tern for Python: MQTT on tern's C++ core (issue 17).

    import tern.paho.mqtt.client as mqtt      # paho-mqtt's API, on tern::Client

The native half, tern._tern, is built beside this package (scripts/install-python
installs both; a build tree is found through PYTHONPATH, see docs/python.md).
"""
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__version__ = "0.1.0"
