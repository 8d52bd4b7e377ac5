"""paho-mqtt's API on tern: tern.paho.mqtt.client, .publish, .subscribe, ..."""
