"""Exceptions raised by libproxmox. Every failure is an Error with .status, .message and .code."""
import builtins

from . import _lib


class Error(Exception):
    """A failed call or setting. ``status`` is the HTTP status (0 when none arrived), ``message``
    what went wrong (PVE's message, a transport or TLS error, a validation message), ``code`` the
    library's PMX_E* code (negative int)."""

    def __init__(self, message, status=0, code=_lib.EHTTP):
        Exception.__init__(self, message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self):
        if self.status:
            return "%s (HTTP %d)" % (self.message, self.status)
        return self.message


class AuthenticationError(Error):
    """Login or credentials refused (HTTP 401, bad login, missing second factor)."""


class PermissionDeniedError(Error):
    """The server refused the call for lack of permission (HTTP 403)."""


class ValidationError(Error, ValueError):
    """A parameter failed the schema's checks (before sending, or PVE's 400 answer).
    ``param`` names the first offending parameter (None when unknown); ``errors`` maps every
    offending parameter to its message, in the schema's words."""

    def __init__(self, message, status=0, code=_lib.EINVAL, errors=None):
        Error.__init__(self, message, status, code)
        self.errors = dict(errors or {})
        self.param = next(iter(self.errors), None)

    def __str__(self):
        text = Error.__str__(self)
        details = "; ".join("%s: %s" % kv for kv in self.errors.items() if kv[0] not in text)
        return "%s: %s" % (text, details) if details else text


class PathError(ValidationError, AttributeError):
    """An attribute path that names no PVE method ("Method 'GET /x' not implemented")."""


class TLSError(Error):
    """TLS handshake, certificate or fingerprint mismatch."""


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 (shadows on purpose)
    """A connect or total timeout, or a task wait's deadline."""

    def __init__(self, message, status=0, code=_lib.ETIMEOUT):
        builtins.TimeoutError.__init__(self, message)
        Error.__init__(self, message, status, code)


class ConnectionError(Error, builtins.ConnectionError):  # noqa: A001
    """Connection failed or dropped, DNS or protocol error."""

    def __init__(self, message, status=0, code=_lib.ETRANSPORT):
        builtins.ConnectionError.__init__(self, message)
        Error.__init__(self, message, status, code)


class CancelledError(Error):
    """The call or task wait was cancelled (client.cancel, or the awaiting task cancelled)."""


class ClosedError(Error):
    """The client was closed while the call was pending, or before it started."""


class TaskError(Error):
    """A PVE task ended in failure. ``upid``, ``exitstatus`` and ``log`` (the last lines, as
    (number, text) pairs) describe it."""

    def __init__(self, message, status=0, code=_lib.ETASK, upid=None, exitstatus=None, log=()):
        Error.__init__(self, message, status, code)
        self.upid = upid
        self.exitstatus = exitstatus
        self.log = list(log)


_BY_CODE = {
    _lib.EAUTH: AuthenticationError,
    _lib.EPERM: PermissionDeniedError,
    _lib.EINVAL: ValidationError,
    _lib.ETLS: TLSError,
    _lib.ETIMEOUT: TimeoutError,
    _lib.ETRANSPORT: ConnectionError,
    _lib.ECANCELLED: CancelledError,
    _lib.EDESTROYED: ClosedError,
    _lib.ETASK: TaskError,
}


def from_code(code, message=None, status=0, **extra):
    """The exception for a PMX_E* code (message defaults to pmx_strerror's text)."""
    cls = _BY_CODE.get(code, Error)
    if status == 400 and code == _lib.EHTTP and extra.get("errors"):
        cls = ValidationError
    if message is None:
        message = _lib.strerror(code)
    if cls in (ValidationError, TaskError):
        return cls(message, status, code, **extra)
    return cls(message, status, code)


def check(code, what):
    """Raise for a non-zero return code of a setter: ``what`` names the setting."""
    if code != _lib.OK:
        e = from_code(code, "%s: %s" % (what, _lib.strerror(code)))
        if isinstance(e, ValidationError):
            e.param = what
            e.errors = {what: _lib.strerror(code)}
        raise e
