"""libproxmox: a Proxmox VE API client over the libproxmox C library (ctypes, no compiler).

    import libproxmox
    pve = libproxmox.Client("https://pve1:8006", token="root@pam!ci=...", fingerprint="AB:...")
    pve.get("/nodes")                                   # pvesh verbs: get, create, set, delete
    upid = pve.nodes("pve1").qemu(100).status.start.post(skiplock=True)   # checked first
    pve.wait_task(upid)

``libproxmox.aio.Client`` has the same constructor and the methods as coroutines, on the running
asyncio loop. The shared library is libproxmox.so.1 from the system loader, or the file named by
the environment variable LIBPROXMOX_LIBRARY.
"""
import importlib

from . import _lib
from ._core import TaskResult
from .client import Client
from .errors import (AuthenticationError, CancelledError, ClosedError, ConnectionError, Error,
                     PathError, PermissionDeniedError, TaskError, TimeoutError, TLSError,
                     ValidationError)

__version__ = "1.0.0"


def library_version():
    """The loaded C library's version text ("1.0.0")."""
    s = _lib.c_char_p()
    _lib.lib.pmx_version(_lib.ctypes.byref(s))
    return _lib.text(s.value)


def schema_version():
    """The PVE version the library's method tables come from ("9.0")."""
    return _lib.text(_lib.lib.pmx_schema_version())


__all__ = ["Client", "Error", "AuthenticationError", "PermissionDeniedError", "ValidationError",
           "PathError", "TLSError", "TimeoutError", "ConnectionError", "CancelledError",
           "ClosedError", "TaskError", "TaskResult", "library_version", "schema_version", "aio"]


def __getattr__(name):
    if name == "aio":  # asyncio is imported only by programs that use it
        # not "from . import aio": its hasattr(package, "aio") check would come back here
        return importlib.import_module(__name__ + ".aio")
    raise AttributeError(name)
