"""tern.amqtt.broker: amqtt's embeddable broker on tern's C++ broker (see broker.py for the configuration).

    broker = Broker({"listeners": {"default": {"type": "tcp", "bind": "0.0.0.0:1883"}}})
    await broker.start()
    ...
    await broker.shutdown()
"""
import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import tern.broker

__all__ = ["Broker", "BrokerException", "BrokerError"]

from .errors import BrokerError as BrokerError

# amqtt 0.10's name for amqtt.errors.BrokerError (0.11's), the same class: a configuration it cannot
# use, a start() or shutdown() at the wrong time, a listener that cannot be bound.
BrokerException = BrokerError

DEFAULT_PORTS: dict[str, int]
logger: logging.Logger

class Broker:
    """amqtt's Broker; `loop` and `plugin_namespace` are accepted, not needed."""
    logger: logging.Logger
    config: dict[str, Any]
    plugin_namespace: str
    listeners_config: dict[str, dict[str, Any]]

    def __init__(self, config: Mapping[str, Any] | None = None, loop: asyncio.AbstractEventLoop | None = None,
                 plugin_namespace: str | None = None) -> None: ...
    async def start(self) -> None:
        """Opens the listeners; BrokerException when it cannot, or when the broker is not new or stopped."""
    async def shutdown(self) -> None:
        """Closes every connection and listener; sessions stay in the store for the next start()."""
    @property
    def tern_broker(self) -> tern.broker.Broker | None:
        """The tern.Broker underneath (None before the first start())."""
    @property
    def ports(self) -> list[int]: ...
    @property
    def addresses(self) -> list[str]: ...
