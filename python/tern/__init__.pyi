from tern.aio import AsyncClient as AsyncClient
from tern.broker import Broker as Broker
from tern.client import Client as Client

__version__: str
__all__ = ["Client", "AsyncClient", "Broker"]
