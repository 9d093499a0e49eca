"""The synchronous client: each method runs the library's loop until its call is done."""
import threading
from ctypes import byref, c_void_p

from . import _core, _lib
from .errors import ValidationError

lib = _lib.lib

# The longest the library's loop runs without returning to Python while a method waits: how soon
# a signal handler (Ctrl-C) runs and a close() from another thread is seen.
_SLICE_MS = 100


class Client(_core.Core):
    """A Proxmox VE client; every method blocks until the server answered.

    ``Client(endpoint, *, token=None, username=None, password=None, fingerprint=None,
    ca_file=None, insecure=False, timeout=None, connect_timeout=None, max_connections=None,
    tfa=None, logger=None)``: ``endpoint`` "https://host[:8006]" (or a comma-separated list of one
    cluster's endpoints where the library supports it); ``token`` "USER@REALM!ID=SECRET", or
    ``username`` + ``password``; ``fingerprint`` the server certificate's SHA-256 as PVE shows
    it; ``ca_file`` a PEM file of trusted CAs; ``timeout`` seconds per call; ``tfa`` a second
    factor ("totp:123456") or a callable(challenge dict) -> str; ``logger`` a logging.Logger for
    the library's log (never secrets).

    ``get``/``create``/``set``/``delete(path, **params)`` return the decoded ``data``; failures
    raise libproxmox.Error subclasses. Attribute paths: ``pve.nodes("pve1").qemu.get()``.
    Threads sharing a client take turns; the GIL is released while it waits. Ctrl-C
    (KeyboardInterrupt) during a method cancels its call; ``close()`` from another thread makes
    the method waiting there raise ClosedError.
    """

    def __init__(self, endpoint, **kwargs):
        # The C client belongs to one thread at a time: threads sharing this object take turns.
        self._lock = threading.RLock()
        self._closing = False
        super().__init__(endpoint, **kwargs)

    def close(self):
        """Free the client: a call waiting on another thread fails with ClosedError (that thread
        frees the client between two slices of its wait), later ones too. Idempotent."""
        self._closing = True
        self._free()

    def _drive(self, done):
        """Run the library's loop in slices until ``done()``: between two slices the signal
        handlers run (a KeyboardInterrupt goes up to the method, whose finally cancels the call
        or task wait), and a close() from another thread frees the client, which completes the
        call with PMX_EDESTROYED. Returns with the call finished, or to its blocking wait, which
        reports what the loop refused (PMX_ERECURSIVE in a callback)."""
        while not done():
            if self._closing:
                self._free()
            c = self._c
            if not c:
                return
            r = lib.pmx_client_run(c, _SLICE_MS)
            if r != _lib.ETIMEOUT and (r != _lib.OK or not done()):
                return

    def _request(self, verb, path, params, method=None, args=None):
        """Start a call and wait for it; returns its data or raises. With ``method`` (an
        attribute path's, already validated), through pmx_method_start() with ``args``."""
        with self._lock:
            return self._request_locked(verb, path, params, method, args)

    def _request_locked(self, verb, path, params, method, args):
        b = _core.path_of(path)
        p = _core.params_or_none(params)
        call = c_void_p()
        # One try from the start: a KeyboardInterrupt may arrive between any two bytecodes, also
        # right after the call started; the finally then cancels and releases it all the same.
        try:
            try:
                if method is not None:
                    r = lib.pmx_method_start(self._handle(), method.handle,
                                             method.start_args(args), p, None, _lib.NULL_DONE,
                                             None, byref(call))
                else:
                    r = lib.pmx_call_start_ex(self._handle(), verb, b, p, None, _lib.NULL_DONE,
                                              None, byref(call))
            finally:
                if p:
                    lib.pmx_params_free(p)
            if r != _lib.OK:
                raise _start_error(r, path)
            self._drive(lambda: lib.pmx_call_result(call) != _lib.EPENDING)
            code = lib.pmx_call_wait(call)
            try:
                out = _core.result(call, code)
            except Exception as e:
                self._raise_callback_errors(e)
            self._raise_callback_errors()
            return out
        finally:
            if call.value:
                if lib.pmx_call_result(call) == _lib.EPENDING:  # interrupted: not left running
                    lib.pmx_call_cancel(call)
                    lib.pmx_call_wait(call)
                lib.pmx_call_unref(call)

    # ---- tasks ---------------------------------------------------------------------------
    def wait_task(self, upid, *, timeout=None, first_interval=None, max_interval=None,
                  factor=None, log_lines=None):
        """Wait for a PVE task to stop, polling its status with the library's backoff (first
        interval 1 s, doubling up to 30 s unless given, in seconds). Returns a TaskResult;
        raises TaskError (its exit status and last log lines) when it failed, TimeoutError when
        ``timeout`` passed first."""
        o = _core.task_opts(timeout, first_interval, max_interval, factor, log_lines)
        b = _core.upid_of(upid)
        task = c_void_p()
        with self._lock:
            try:
                r = lib.pmx_task_wait(self._handle(), b, byref(o), _lib.NULL_TASK, None,
                                      byref(task))
                return self._finish_task(r, task)
            finally:
                _release_task(task)

    def follow_task(self, upid, on_line=None, *, timeout=None, first_interval=None,
                    max_interval=None, factor=None, log_lines=None):
        """Follow a task's log until the task stopped: ``on_line(n, text)`` gets each new line
        once, in order. Returns and raises like wait_task()."""
        o = _core.task_opts(timeout, first_interval, max_interval, factor, log_lines,
                            _core._release)
        b = _core.upid_of(upid)
        task = c_void_p()
        with self._lock:
            c = self._handle()
            key = _core.keep(_LineSink(self._hooks, on_line))
            r = _lib.ENOMEM
            try:
                r = lib.pmx_task_follow(c, b, byref(o), _on_line, _lib.NULL_TASK, key,
                                        byref(task))
                return self._finish_task(r, task)
            finally:
                if r != _lib.OK:
                    _core._registry.pop(key, None)  # not accepted: the destructor never runs
                _release_task(task)

    def _finish_task(self, r, task):
        if r != _lib.OK:
            raise _start_error(r, "task")
        self._drive(lambda: lib.pmx_task_result(task) != _lib.EPENDING)
        code = lib.pmx_task_wait_sync(task)
        out = _core.task_outcome(task, code)
        _release_task(task)
        if isinstance(out, Exception):
            self._raise_callback_errors(out)
        self._raise_callback_errors()
        return out


def _release_task(task):
    """Let go of a task wait (once: task.value is cleared): one still pending, left by an
    exception such as KeyboardInterrupt, is cancelled first."""
    if task.value:
        if lib.pmx_task_result(task) == _lib.EPENDING:
            lib.pmx_task_cancel(task)
            lib.pmx_task_wait_sync(task)
        lib.pmx_task_unref(task)
        task.value = None


class _LineSink:
    __slots__ = ("hooks", "fn")

    def __init__(self, hooks, fn):
        self.hooks, self.fn = hooks, fn


@_lib.TASK_LINE_FN
def _on_line(task, n, line, ud):
    sink = _core._registry.get(ud)
    if sink is None or sink.fn is None:
        return
    try:
        sink.fn(n, _lib.text(line))
    except BaseException as e:  # re-raised by the method that runs the loop; stop following
        sink.hooks.failed(e)
        lib.pmx_task_cancel(task)


def _start_error(r, what):
    from .errors import from_code
    e = from_code(r, "%s: %s" % (what, _lib.strerror(r)))
    if isinstance(e, ValidationError):
        e.errors = {what: _lib.strerror(r)}
        e.param = what
    return e

