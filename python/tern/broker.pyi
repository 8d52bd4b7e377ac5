import os
from typing import Any, Callable, Mapping, Optional, Union

__all__ = ["Broker", "BrokerClient", "BrokerMessage", "to_toml"]

class BrokerClient:
    """The client a hook is about."""
    client_id: str
    username: Optional[str]
    password: Optional[bytes]  # on_connect only
    peer: str                  # "address:port"
    protocol: int              # 3 (3.1), 4 (3.1.1) or 5
    clean_start: bool          # on_connect only

class BrokerMessage:
    """The PUBLISH an on_publish hook sees (paho's MQTTMessage shape)."""
    topic: str
    payload: Union[bytes, str]
    qos: int
    retain: bool
    mid: int
    properties: Any

ConnectHook = Callable[[BrokerClient], Union[None, bool, int]]
PublishHook = Callable[[BrokerClient, BrokerMessage], Union[None, bool, str, int]]
SubscribeHook = Callable[[BrokerClient, str, int], Union[None, bool, int]]
DisconnectHook = Callable[[BrokerClient, str], Any]

def to_toml(config: Mapping[str, Any]) -> str: ...

class Broker:
    def __init__(self, config: Union[Mapping[str, Any], str, None] = ..., *,
                 on_connect: Optional[ConnectHook] = ...,
                 on_publish: Optional[PublishHook] = ...,
                 on_subscribe: Optional[SubscribeHook] = ...,
                 on_disconnect: Optional[DisconnectHook] = ...,
                 data_dir: Union[str, os.PathLike[str], None] = ...,
                 storage: Optional[str] = ...) -> None: ...
    def start(self) -> Broker: ...
    def stop(self) -> None: ...
    def reload(self) -> bool: ...
    @property
    def running(self) -> bool: ...
    @property
    def ports(self) -> list[int]: ...
    @property
    def port(self) -> Optional[int]: ...
    @property
    def addresses(self) -> list[str]: ...
    @property
    def connections(self) -> int: ...
    @property
    def stats(self) -> dict[str, int]: ...
    def __enter__(self) -> Broker: ...
    def __exit__(self, *exc: Any) -> None: ...
