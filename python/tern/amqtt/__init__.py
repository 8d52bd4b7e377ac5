"""tern.amqtt: amqtt's client (tern.amqtt.client.MQTTClient, asyncio) and its
embeddable broker (tern.amqtt.broker.Broker), on tern's C++ core.

An amqtt program runs unchanged but for `amqtt.` -> `tern.amqtt.` in its imports.
"""
