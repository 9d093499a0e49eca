# Type stubs of libproxmox._core: what Client and aio.Client share (hand-written).
import logging
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, TypeVar, Union

from ._api import Api, _R

_C = TypeVar("_C", bound="Core[Any]")

class TaskResult:
    upid: str
    exitstatus: str
    warnings: int
    log: List[Tuple[int, str]]

class Core(Api[_R]):
    def __init__(self, endpoint: str, *, token: Optional[str] = ..., username: Optional[str] = ...,
                 password: Optional[str] = ..., fingerprint: Optional[str] = ...,
                 ca_file: Optional[Union[str, os.PathLike[str]]] = ..., insecure: bool = ...,
                 timeout: Optional[float] = ..., connect_timeout: Optional[float] = ...,
                 max_connections: Optional[int] = ...,
                 tfa: Optional[Union[str, Callable[[Dict[str, Any]], str]]] = ...,
                 logger: Optional[logging.Logger] = ...) -> None: ...
    @classmethod
    def from_env(cls: Type[_C], environ: Optional[Mapping[str, str]] = ...,
                 **overrides: Any) -> _C: ...
    @property
    def url(self) -> str: ...
    @property
    def pending(self) -> int: ...
    def ticket(self) -> Tuple[str, str]: ...
    def close(self) -> None: ...
