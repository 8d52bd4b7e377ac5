from tern.aio import AsyncClient as AsyncClient
from tern.broker import Broker as Broker
from tern.client import Client as Client
from tern.errors import ConnectError as ConnectError
from tern.errors import ConnectionLost as ConnectionLost
from tern.errors import MQTTError as MQTTError
from tern.errors import PublishError as PublishError
from tern.errors import SubscribeError as SubscribeError

__version__: str
__all__ = ["Client", "AsyncClient", "Broker", "MQTTError", "ConnectError", "ConnectionLost", "PublishError",
           "SubscribeError"]
