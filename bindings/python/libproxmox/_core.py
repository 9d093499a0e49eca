"""What the synchronous and the asyncio clients share: the C client's set-up, parameters,
results and errors, the callback registry, and the PROXMOX_VE_* environment."""
import contextlib
import ctypes
import itertools
import json
import logging
import os
from ctypes import byref, c_char_p, c_size_t, c_void_p

from . import _lib, _schema
from .errors import ClosedError, Error, TaskError, ValidationError, check, from_code

lib = _lib.lib
text = _lib.text
DEFAULT_CONNECT_MS = 10000  # PMX_DEFAULT_CONNECT_MS

# ---- callback registry ----------------------------------------------------------------------
# C holds only an integer key as userdata; the Python object stays here until the library
# runs the matching destructor (pmx_free_fn), so a callback never outlives its object.
_registry = {}
_ids = itertools.count(1)


def keep(obj):
    key = next(_ids)
    _registry[key] = obj
    return key


@_lib.FREE_FN
def _release(ud):
    _registry.pop(ud, None)


def cstr(value, name):
    """A str (or bytes) as the NUL-terminated UTF-8 the C API takes; a NUL inside would cut the
    value short without a word, so it is refused."""
    b = value if isinstance(value, bytes) else str(value).encode()
    if b"\0" in b:
        raise ValidationError("%s: contains a NUL character" % name,
                              errors={name: "contains a NUL character"})
    return b


def _params(kwargs):
    """A pmx_params handle for a dict of name -> value (caller frees), or None when empty.
    bool -> 0/1, int, float, str; list/tuple -> repeated key; None -> not sent."""
    p = lib.pmx_params_new()
    if not p:
        raise MemoryError("pmx_params_new")
    try:
        for name, v in kwargs.items():
            if v is None:
                continue
            k = cstr(name, name)
            if isinstance(v, bool):
                r = lib.pmx_params_set_bool(p, k, 1 if v else 0)
            elif isinstance(v, int):
                r = lib.pmx_params_set_int(p, k, v) if -2**63 <= v < 2**63 else \
                    lib.pmx_params_set_str(p, k, cstr(v, name))
            elif isinstance(v, float):
                r = lib.pmx_params_set_double(p, k, v)
            elif isinstance(v, (list, tuple)):
                r = _lib.OK
                for item in v:
                    item = int(item) if isinstance(item, bool) else item
                    r = r or lib.pmx_params_add_str(p, k, cstr(item, name))
            elif isinstance(v, (str, bytes)):
                r = lib.pmx_params_set_str(p, k, cstr(v, name))
            else:
                raise ValidationError("%s: unsupported value type %s" % (name, type(v).__name__),
                                      errors={name: "unsupported value type"})
            if r != _lib.OK:
                raise ValidationError("%s: %s" % (name, _lib.strerror(r)), code=r,
                                      errors={name: _lib.strerror(r)})
    except BaseException:
        lib.pmx_params_free(p)
        raise
    return p


def params_or_none(kwargs):
    return _params(kwargs) if kwargs else None


def result(call, code):
    """The decoded data of a finished call, or raise its error."""
    if code == _lib.OK:
        n = c_size_t()
        ptr = lib.pmx_call_data(call, byref(n))
        return decode(ptr, n.value)
    raise call_error(call, code)


def decode(ptr, n):
    """The JSON text of a call's data (pointer, length) as Python objects; None when absent."""
    if not ptr:
        return None
    try:
        return json.loads(ctypes.string_at(ptr, n))
    except ValueError as e:  # the library checked the envelope; a data member Python refuses
        raise Error("malformed data in the response: %s" % e, code=_lib.EDECODE) from None


def call_error(call, code):
    status = lib.pmx_call_http_status(call)
    message = text(lib.pmx_call_error(call)) or _lib.strerror(code)
    errors = {}
    name, msg = c_char_p(), c_char_p()
    i = 0
    while lib.pmx_call_param_error(call, i, byref(name), byref(msg)) == _lib.OK:
        errors[text(name.value)] = text(msg.value)
        i += 1
    if code == _lib.EINVAL and not errors and ": " in message:
        # a local validation message "vmid: value must ...; name: ..." names the parameters
        for part in message.split("; "):
            k, _, v = part.partition(": ")
            if k and " " not in k:
                errors[k] = v
    return from_code(code, message, status, **({"errors": errors} if errors else {}))


def task_outcome(task, code):
    """A TaskResult for a successful wait, or the exception of a failed one."""
    upid = text(lib.pmx_task_upid(task))
    exitstatus = text(lib.pmx_task_exitstatus(task))
    log = []
    n = ctypes.c_int64()
    for i in range(lib.pmx_task_log_count(task)):
        line = lib.pmx_task_log_line(task, i, byref(n))
        log.append((n.value, text(line)))
    if code == _lib.OK:
        return TaskResult(upid, exitstatus, lib.pmx_task_warnings(task), log)
    message = text(lib.pmx_task_error(task)) or _lib.strerror(code)
    status = lib.pmx_task_http_status(task)
    if code == _lib.ETASK:
        return TaskError(message, status, code, upid=upid, exitstatus=exitstatus, log=log)
    return from_code(code, message, status)


class TaskResult:
    """A task that stopped with "OK" or "WARNINGS: n": ``upid``, ``exitstatus``, ``warnings``
    (the n), ``log`` (lines kept: (number, text) pairs)."""
    __slots__ = ("upid", "exitstatus", "warnings", "log")

    def __init__(self, upid, exitstatus, warnings, log):
        self.upid, self.exitstatus, self.warnings, self.log = upid, exitstatus, warnings, log

    def __repr__(self):
        return "TaskResult(%r, %r)" % (self.upid, self.exitstatus)


def task_opts(timeout, first_interval, max_interval, factor, log_lines, free=None):
    o = _lib.TaskOpts(size=ctypes.sizeof(_lib.TaskOpts))
    if timeout is not None:
        o.timeout_ms = max(1, int(timeout * 1000))
    if first_interval is not None:
        o.first_interval_ms = max(1, int(first_interval * 1000))
    if max_interval is not None:
        o.max_interval_ms = max(1, int(max_interval * 1000))
    if factor is not None:
        o.factor = float(factor)
    if log_lines is not None:
        o.log_lines = int(log_lines) if log_lines > 0 else -1
    if free is not None:
        o.userdata_free = free
    return o


def upid_of(value):
    """A UPID from a string or a task-starting call's result."""
    if not isinstance(value, (str, bytes)):
        raise ValidationError("not a UPID: %r" % (value,), errors={"upid": "not a string"})
    return cstr(value, "upid")


def path_of(path):
    if not isinstance(path, str):
        raise ValidationError("path: expected a str, got %s" % type(path).__name__,
                              errors={"path": "not a string"})
    return cstr(path, "path")


# ---- the environment ------------------------------------------------------------------------

def env_settings(environ=None):
    """Client keyword arguments from PROXMOX_VE_* (as pmx reads them)."""
    e = os.environ if environ is None else environ

    def get(name):
        v = e.get(name)
        return v if v else None

    endpoint = get("PROXMOX_VE_ENDPOINT")
    if not endpoint:
        raise Error("no endpoint: set PROXMOX_VE_ENDPOINT", code=_lib.EINVAL)
    kw = {"fingerprint": get("PROXMOX_VE_FINGERPRINT"),
          "insecure": get("PROXMOX_VE_INSECURE") in ("1", "true")}
    if get("PROXMOX_VE_API_TOKEN"):
        kw["token"] = get("PROXMOX_VE_API_TOKEN")
    elif get("PROXMOX_VE_USERNAME") and get("PROXMOX_VE_PASSWORD"):
        kw["username"] = get("PROXMOX_VE_USERNAME")
        kw["password"] = get("PROXMOX_VE_PASSWORD")
    else:
        raise Error("no credentials: set PROXMOX_VE_API_TOKEN, or PROXMOX_VE_USERNAME and "
                    "PROXMOX_VE_PASSWORD", code=_lib.EAUTH)
    return endpoint, kw


# ---- log and second-factor callbacks ----------------------------------------------------------

_LEVELS = {_lib.LOG_ERROR: logging.ERROR, _lib.LOG_WARN: logging.WARNING,
           _lib.LOG_INFO: logging.INFO, _lib.LOG_DEBUG: logging.DEBUG}


class Hooks:
    """What the library's client-level callbacks reach: the program's tfa and logger, and where
    an exception they raise goes. Kept in the registry without a reference to the client, so
    an unused client is still collected (its free releases the hooks)."""
    __slots__ = ("tfa", "logger", "errors", "loop")

    def __init__(self, tfa, logger):
        self.tfa, self.logger, self.errors, self.loop = tfa, logger, [], None

    def failed(self, exc):
        """An exception raised in a Python callback: kept for the method that runs the loop (it
        re-raises it), and with asyncio also passed to the loop's exception handler."""
        self.errors.append(exc)
        if self.loop is not None:
            self.loop.call_exception_handler({"message": "exception in a libproxmox callback",
                                              "exception": exc})


@_lib.LOG_FN
def _on_log(c, level, msg, ud):
    hooks = _registry.get(ud)
    if hooks is None:
        return
    try:
        hooks.logger.log(_LEVELS.get(level, logging.DEBUG), "%s", text(msg))
    except BaseException as e:  # reported, never lost
        hooks.failed(e)


@_lib.TFA_FN
def _on_tfa(c, challenge, out, out_size, ud):
    hooks = _registry.get(ud)
    if hooks is None:
        return 1
    try:
        answer = hooks.tfa(json.loads(challenge or b"{}"))
        if not isinstance(answer, (str, bytes)):  # str(None) would go to the server as "None"
            raise ValueError("the tfa callback returned %s, not the second factor as a str"
                             % type(answer).__name__)
        data = answer.encode() if isinstance(answer, str) else answer
        if not data or len(data) >= out_size or b"\0" in data:
            raise ValueError("second factor answer is empty, holds a NUL or is longer than %d "
                             "bytes" % (out_size - 1))
        ctypes.memmove(out, data, len(data))
        ctypes.memset(out + len(data), 0, 1)
        return 0
    except BaseException as e:  # the login fails (AuthenticationError, caused by e)
        hooks.failed(e)
        return 1


class Core:
    """A pmx_client and its settings; base of Client and aio.Client."""

    # What a thread holds while it uses the C client (Client: an RLock shared by its threads)
    _lock = contextlib.nullcontext()

    def __init__(self, endpoint, *, token=None, username=None, password=None, fingerprint=None,
                 ca_file=None, insecure=False, timeout=None, connect_timeout=None,
                 max_connections=None, tfa=None, logger=None):
        self._c = None
        self._hooks = Hooks(tfa, logger)
        c = c_void_p()
        r = lib.pmx_client_new(byref(c), cstr(endpoint, "endpoint"))
        check(r, "endpoint")
        self._c = c.value
        try:
            if fingerprint:
                check(lib.pmx_client_set_fingerprint(self._c, cstr(fingerprint, "fingerprint")), "fingerprint")
            if ca_file:
                check(lib.pmx_client_set_ca_file(self._c, os.fsencode(ca_file)), "ca_file")
            if insecure:
                check(lib.pmx_client_set_insecure(self._c, 1), "insecure")
            if token:
                check(lib.pmx_client_set_token(self._c, cstr(token, "token")), "token")
            elif username is not None or password is not None:
                if not username or password is None:
                    raise ValidationError("username and password go together",
                                          errors={"password" if username else "username":
                                                  "property is missing and it is not optional"})
                check(lib.pmx_client_set_password(self._c, cstr(username, "username"),
                                                    cstr(password, "password")),
                      "username")
            if timeout is not None or connect_timeout is not None:
                connect = DEFAULT_CONNECT_MS if connect_timeout is None else _ms(connect_timeout)
                check(lib.pmx_client_set_timeouts(self._c, connect, _ms(timeout)),
                      "timeout")
            if max_connections is not None:
                check(lib.pmx_client_set_max_connections(self._c, int(max_connections)),
                      "max_connections")
            if isinstance(tfa, str):
                check(lib.pmx_client_set_tfa_response(self._c, cstr(tfa, "tfa")), "tfa")
            elif tfa is not None:
                check(lib.pmx_client_set_tfa_cb(self._c, _on_tfa, keep(self._hooks), _release),
                      "tfa")
            if logger is not None:
                level = logger.getEffectiveLevel()
                max_level = (_lib.LOG_DEBUG if level <= logging.DEBUG else _lib.LOG_INFO
                             if level <= logging.INFO else _lib.LOG_WARN
                             if level <= logging.WARNING else _lib.LOG_ERROR)
                check(lib.pmx_client_set_log_cb(self._c, max_level, _on_log, keep(self._hooks),
                                            _release),
                      "logger")
        except BaseException:
            lib.pmx_client_free(self._c)
            self._c = None
            raise

    @classmethod
    def from_env(cls, environ=None, **overrides):
        """A client configured from PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN (or
        PROXMOX_VE_USERNAME + PROXMOX_VE_PASSWORD), PROXMOX_VE_FINGERPRINT and
        PROXMOX_VE_INSECURE ("1" or "true"), as pmx reads them; keyword arguments override."""
        endpoint, kw = env_settings(environ)
        kw.update(overrides)
        return cls(endpoint, **kw)

    @property
    def url(self):
        """The endpoint's base URL as the library parsed it."""
        with self._lock:
            return text(lib.pmx_client_url(self._handle()))

    @property
    def pending(self):
        """Calls started and not completed yet."""
        with self._lock:
            return lib.pmx_client_pending(self._handle()) if self._c else 0

    def ticket(self):
        """The current (ticket, csrf_token) of a password login, for reuse elsewhere."""
        t, csrf = c_void_p(), c_void_p()
        with self._lock:  # a call on another thread may be renewing it
            r = lib.pmx_client_get_ticket(self._handle(), byref(t), byref(csrf))
        check(r, "ticket")
        try:
            return ctypes.string_at(t.value).decode(), ctypes.string_at(csrf.value).decode()
        finally:
            lib.pmx_secret_free(t.value)
            lib.pmx_secret_free(csrf.value)

    def _handle(self):
        if not self._c:
            raise ClosedError("the client is closed", code=_lib.EDESTROYED)
        return self._c

    def _raise_callback_errors(self, primary=None):
        """Re-raise an exception a Python callback (tfa, logger) raised while the loop ran."""
        errors = self._hooks.errors
        if errors:
            exc = errors[0]
            errors.clear()
            if primary is not None:
                primary.__cause__ = exc
                raise primary
            raise exc
        if primary is not None:
            raise primary

    def _request(self, verb, path, params):  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    # pvesh's verbs, as pmx has them
    def get(self, path, /, **params):
        """GET ``path`` (relative to /api2/json); returns the decoded ``data``."""
        return self._request(_lib.GET, path, params)

    def create(self, path, /, **params):
        """POST ``path``; returns the decoded ``data`` (often a task's UPID)."""
        return self._request(_lib.POST, path, params)

    def set(self, path, /, **params):
        """PUT ``path``; returns the decoded ``data``."""
        return self._request(_lib.PUT, path, params)

    def delete(self, path, /, **params):
        """DELETE ``path``; returns the decoded ``data``."""
        return self._request(_lib.DELETE, path, params)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        from .paths import Path
        return getattr(Path(self, _schema.root(), ()), name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(_schema.root().children))

    def _free(self):
        with self._lock:
            c, self._c = self._c, None
            if c:
                lib.pmx_client_free(c)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self._free()
        except Exception:
            pass

    def close(self):
        """Free the client: pending calls fail with ClosedError. Idempotent."""
        self._free()


def _ms(seconds):
    return 0 if seconds is None else max(1, int(seconds * 1000))
