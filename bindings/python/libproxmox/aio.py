"""The asyncio client: the library's sockets and timer run on the running asyncio loop
(add_reader / add_writer, call_later), so thousands of calls are in flight on one thread, with
no helper thread.

    async with libproxmox.aio.Client(url, token=...) as pve:
        nodes, version = await asyncio.gather(pve.get("/nodes"), pve.get("/version"))
"""
import asyncio
import gc
import itertools
import weakref
from ctypes import byref, c_size_t, c_void_p

from . import _core, _lib
from .errors import Error, from_code

lib = _lib.lib
_OK, _IN, _OUT, _REMOVE = _lib.OK, _lib.POLL_IN, _lib.POLL_OUT, _lib.POLL_REMOVE

# Futures of calls in flight by key (the call's userdata). The done callback runs exactly once per
# accepted call and pops its future, so nothing here outlives a call, nor a loop: once a loop is
# closed, the futures of its calls (and its task waits) are dropped, or they would keep their
# awaiting tasks and clients alive for good.
_futures = {}
_keys = itertools.count(1)
_loops = {}  # id(loop) -> weak reference, for each loop a client attached to


def _watch_loop(loop):
    key = id(loop)
    if key not in _loops:
        _loops[key] = weakref.ref(loop, lambda ref: _loops.pop(key, None))


def _forget_dead_loops():
    """Drop what belongs to loops closed since: futures of calls and task waits in flight."""
    for ref in list(_loops.values()):
        loop = ref()
        if loop is None or not loop.is_closed():
            continue
        _loops.pop(id(loop), None)
        for key, fut in list(_futures.items()):
            if fut.get_loop() is loop:
                _futures.pop(key, None)
        for key, sink in list(_core._registry.items()):
            if isinstance(sink, _TaskSink) and sink.future.get_loop() is loop:
                _core._registry.pop(key, None)


def _on_gc(phase, info):
    # A closed loop's tasks and clients are garbage only without our references to them; the
    # collector is what notices when the program dropped them.
    if phase == "start" and _loops:
        try:
            _forget_dead_loops()
        except Exception:  # never raise into the collector
            pass


gc.callbacks.append(_on_gc)


@_lib.DONE_FN
def _on_done(call, result, ud):
    fut = _futures.pop(ud, None)
    if fut is None or fut.done():
        return  # the awaiting task was cancelled
    try:
        if result == _OK:
            n = c_size_t()
            ptr = lib.pmx_call_data(call, byref(n))
            fut.set_result(_core.decode(ptr, n.value))
        else:
            fut.set_exception(_core.call_error(call, result))
    except BaseException as e:  # a decoding error goes to the awaiting code, not lost
        if not fut.done():
            try:
                fut.set_exception(e)
            except RuntimeError:  # its loop is closed: nobody can await it any more
                pass


class _Driver:
    """The client's sockets and timer on one asyncio loop. Registered with the library as the
    socket and timer callbacks' userdata; released by the library's destructor."""
    __slots__ = ("c", "loop", "fds", "timer", "hooks")

    def __init__(self, c, loop, hooks):
        self.c, self.loop, self.fds, self.timer, self.hooks = c, loop, {}, None, hooks

    def watch(self, fd, events):
        loop = self.loop
        if loop.is_closed():  # nothing runs it any more (closed with calls in flight)
            self.fds.pop(fd, None)
            _forget_dead_loops()
            return
        old = self.fds.get(fd, 0)
        new = 0 if events & _REMOVE else events & (_IN | _OUT)
        if old & _IN and not new & _IN:
            loop.remove_reader(fd)
        if old & _OUT and not new & _OUT:
            loop.remove_writer(fd)
        if new & _IN and not old & _IN:
            loop.add_reader(fd, self.on_io, fd, _IN)
        if new & _OUT and not old & _OUT:
            loop.add_writer(fd, self.on_io, fd, _OUT)
        if new:
            self.fds[fd] = new
        else:
            self.fds.pop(fd, None)

    def on_io(self, fd, what):
        if self.c:
            lib.pmx_client_socket_action(self.c, fd, what)

    def arm(self, ms):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if ms >= 0:
            if self.loop.is_closed():
                _forget_dead_loops()
                return
            self.timer = self.loop.call_later(ms / 1000.0, self.on_timer)

    def on_timer(self):
        self.timer = None
        if self.c:
            lib.pmx_client_timeout_action(self.c)

    def detach(self):
        """After the client is freed: stop watching what it left behind."""
        self.c = None
        if not self.loop.is_closed():
            for fd, ev in self.fds.items():
                if ev & _IN:
                    self.loop.remove_reader(fd)
                if ev & _OUT:
                    self.loop.remove_writer(fd)
        self.fds.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


@_lib.SOCKET_FN
def _on_socket(c, fd, events, ud):
    d = _core._registry.get(ud)
    if d is not None:
        try:
            d.watch(fd, events)
        except BaseException as e:
            d.hooks.failed(e)


@_lib.TIMER_FN
def _on_timer(c, ms, ud):
    d = _core._registry.get(ud)
    if d is not None:
        try:
            d.arm(ms)
        except BaseException as e:
            d.hooks.failed(e)


class _TaskSink:
    """A task wait's future and, for a follow, its queue of lines. Userdata of the wait, kept
    in the registry until the library runs the wait's destructor (task object freed)."""
    __slots__ = ("future", "queue", "hooks")

    def __init__(self, loop, hooks, follow):
        self.future = loop.create_future()
        self.queue = asyncio.Queue() if follow else None
        self.hooks = hooks


@_lib.TASK_FN
def _on_task_done(task, result, ud):
    sink = _core._registry.get(ud)
    if sink is None or sink.future.done():
        return
    try:
        sink.future.set_result(_core.task_outcome(task, result))
    except BaseException as e:
        if not sink.future.done():
            sink.future.set_exception(e)
    if sink.queue is not None:
        sink.queue.put_nowait(None)


@_lib.TASK_LINE_FN
def _on_task_line(task, n, line, ud):
    sink = _core._registry.get(ud)
    if sink is not None:
        sink.queue.put_nowait((n, _lib.text(line)))


class Client(_core.Core):
    """The asyncio Proxmox VE client: the constructor of libproxmox.Client; ``get``,
    ``create``, ``set``, ``delete``, ``wait_task`` and the verbs of attribute paths are
    coroutines; ``follow_task`` is an async iterator. The client binds to the running loop of its
    first call and stays on it; ``close()`` (or ``async with``) frees it, failing calls still
    pending with ClosedError."""

    def __init__(self, endpoint, **kwargs):
        self._driver = None
        super().__init__(endpoint, **kwargs)

    def _attach(self):
        loop = asyncio.get_running_loop()
        c = self._handle()
        d = self._driver
        if d is not None:
            if d.loop is not loop:
                raise Error("this client runs on another event loop", code=_lib.EINVAL)
            return d
        d = _Driver(c, loop, self._hooks)
        self._hooks.loop = loop
        _watch_loop(loop)
        r = lib.pmx_client_set_socket_cb(c, _on_socket, _core.keep(d), _core._release)
        if r == _OK:
            r = lib.pmx_client_set_timer_cb(c, _on_timer, _core.keep(d), _core._release)
        if r != _OK:
            raise from_code(r, "attaching to the asyncio loop: %s" % _lib.strerror(r))
        self._driver = d
        return d

    async def _request(self, verb, path, params, method=None, args=None):
        """Start a call and await it; returns its data or raises. With ``method`` (an attribute
        path's, already validated), through pmx_method_start() with ``args``."""
        d = self._attach()
        b = _core.path_of(path)
        p = _core.params_or_none(params)
        try:
            fut = d.loop.create_future()
            key = next(_keys)
            _futures[key] = fut
            call = c_void_p()
            if method is not None:
                r = lib.pmx_method_start(d.c, method.handle, method.start_args(args), p, None,
                                         _on_done, key, byref(call))
            else:
                r = lib.pmx_call_start_ex(d.c, verb, b, p, None, _on_done, key, byref(call))
        finally:
            if p:
                lib.pmx_params_free(p)
        if r != _OK:
            del _futures[key]
            from .client import _start_error
            raise _start_error(r, path)
        call = call.value
        try:
            out = await fut
        except asyncio.CancelledError:
            lib.pmx_call_cancel(call)  # completes with PMX_ECANCELLED; its future is gone
            raise
        except Error as e:
            self._raise_callback_errors(e)
        finally:
            lib.pmx_call_unref(call)
        if self._hooks.errors:
            self._raise_callback_errors()
        return out

    # ---- tasks ---------------------------------------------------------------------------
    async def wait_task(self, upid, *, timeout=None, first_interval=None, max_interval=None,
                        factor=None, log_lines=None):
        """Wait for a PVE task to stop (the library's backoff, see libproxmox.Client.wait_task);
        returns a TaskResult or raises TaskError / TimeoutError / ..."""
        sink, task = self._start_task(upid, False, timeout, first_interval, max_interval, factor,
                                      log_lines)
        try:
            out = await sink.future
        except asyncio.CancelledError:
            lib.pmx_task_cancel(task)
            raise
        finally:
            lib.pmx_task_unref(task)
        if isinstance(out, Exception):
            self._raise_callback_errors(out)
        return out

    async def follow_task(self, upid, *, timeout=None, first_interval=None, max_interval=None,
                          factor=None, log_lines=None):
        """Yield a task's log lines as (number, text) while it runs, each once, in order; ends
        when the task stopped and its log is drained, raising TaskError (etc.) if it failed.
        Leaving the loop early cancels the follow."""
        sink, task = self._start_task(upid, True, timeout, first_interval, max_interval, factor,
                                      log_lines)
        try:
            while True:
                item = await sink.queue.get()
                if item is None:
                    break
                yield item
            out = sink.future.result()
            if isinstance(out, Exception):
                raise out
        finally:
            if not sink.future.done():
                lib.pmx_task_cancel(task)
            lib.pmx_task_unref(task)

    def _start_task(self, upid, follow, *opts):
        d = self._attach()
        sink = _TaskSink(d.loop, self._hooks, follow)
        o = _core.task_opts(*opts, free=_core._release)
        key = _core.keep(sink)
        task = c_void_p()
        r = _lib.EINVAL
        try:
            r = self._start_task_call(d, upid, follow, o, key, task)
        finally:
            if r != _OK:
                _core._registry.pop(key, None)  # not accepted: the destructor never runs
        return sink, task.value

    @staticmethod
    def _start_task_call(d, upid, follow, o, key, task):
        if follow:
            r = lib.pmx_task_follow(d.c, _core.upid_of(upid), byref(o), _on_task_line,
                                    _on_task_done, key, byref(task))
        else:
            r = lib.pmx_task_wait(d.c, _core.upid_of(upid), byref(o), _on_task_done, key,
                                  byref(task))
        if r != _OK:
            from .client import _start_error
            raise _start_error(r, "upid")
        return r

    def _free(self):
        super()._free()
        if self._driver is not None:
            self._driver.detach()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
