from tern.aio import AsyncClient as AsyncClient
from tern.broker import Broker as Broker
from tern.client import Client as Client
from tern.client import Connack as Connack
from tern.client import Message as Message
from tern.client import PublishHandle as PublishHandle
from tern.client import Will as Will
from tern.errors import ConnectError as ConnectError
from tern.errors import ConnectionLost as ConnectionLost
from tern.errors import PublishError as PublishError
from tern.errors import SubscribeError as SubscribeError
from tern.errors import TernError as TernError

__version__: str
__all__ = ["Client", "AsyncClient", "Broker", "Message", "PublishHandle", "Connack", "Will", "TernError",
           "ConnectError", "ConnectionLost", "PublishError", "SubscribeError"]
