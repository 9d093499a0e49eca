"""The asyncio client against pve-mock: many calls in flight on the running loop."""
import asyncio
import gc
import threading
import weakref

import pytest

import libproxmox
import libproxmox.aio
from libproxmox import _core, aio

from test_client import FailingLogger, new_vm


def run(coro):
    return asyncio.run(coro)


def aclient(mock, **kw):
    kw.setdefault("token", mock.token)
    return libproxmox.aio.Client(mock.url, fingerprint=mock.fingerprint, **kw)


def test_same_methods_as_coroutines(mock):
    async def main():
        async with aclient(mock) as pve:
            v = await pve.get("/version")
            nodes = await pve.nodes.get()
            vm = await pve.nodes("pve1").qemu(100).status.current.get()
            return v, nodes, vm
    v, nodes, vm = run(main())
    assert v["release"] == "9.0" and len(nodes) == 2 and vm["vmid"] == 100


def test_thousand_calls_in_flight_on_one_thread(mock):
    threads = threading.active_count()

    async def main():
        async with aclient(mock, max_connections=8) as pve:
            coros = [pve.get("/version" if i % 2 else "/nodes") for i in range(1000)]
            results = await asyncio.gather(*coros)
            peak = threading.active_count()
            return results, peak, pve.pending
    results, peak, pending = run(main())
    assert len(results) == 1000 and pending == 0
    assert all(r["release"] == "9.0" for r in results[1::2])
    assert all(len(r) == 2 for r in results[0::2])
    assert peak == threads  # no helper thread
    assert not aio._futures


def test_errors_are_raised_from_the_awaiting_code(mock):
    async def main():
        async with aclient(mock) as pve:
            with pytest.raises(libproxmox.Error) as e:
                await pve.get("/nodes/pve1/nothing-here")
            assert e.value.status == 501
            with pytest.raises(libproxmox.ValidationError) as e:
                await pve.create("/nodes/pve1/qemu", vmid=5)
            assert e.value.status == 400 and e.value.param == "vmid"
            with pytest.raises(libproxmox.ValidationError) as e:
                pve.nodes("pve1").qemu(5).status.start.post()  # raises before any await
            assert e.value.param == "vmid"
    run(main())


def test_client_closed_with_calls_pending(mock):
    mock.faults(latency_ms=300)

    async def main():
        pve = aclient(mock)
        tasks = [asyncio.ensure_future(pve.get("/version")) for _ in range(50)]
        await asyncio.sleep(0.05)  # all sent, none answered
        assert pve.pending == 50
        pve.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, libproxmox.ClosedError) for r in results), results
        with pytest.raises(libproxmox.ClosedError):
            await pve.get("/version")
        await asyncio.sleep(0.4)  # nothing of the freed client fires any more
        return pve._driver
    d = run(main())
    assert not d.fds and d.timer is None and not aio._futures


def test_cancelling_the_awaiting_task_cancels_the_call(mock):
    mock.faults(latency_ms=2000)

    async def main():
        async with aclient(mock) as pve:
            t = asyncio.ensure_future(pve.get("/version"))
            await asyncio.sleep(0.05)
            assert pve.pending == 1
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            for _ in range(100):
                if pve.pending == 0:
                    break
                await asyncio.sleep(0.01)
            return pve.pending
    assert run(main()) == 0


def test_timers_drive_timeouts(mock):
    """The library's timer runs on the loop: a call timeout fires while nothing else happens."""
    mock.faults(latency_ms=3000)

    async def main():
        loop = asyncio.get_running_loop()
        async with aclient(mock, timeout=0.25) as pve:
            t = loop.time()
            with pytest.raises(libproxmox.TimeoutError):
                await pve.get("/version")
            return loop.time() - t
    took = run(main())
    assert 0.2 <= took < 2.5


def test_tasks(mock):
    async def main():
        async with aclient(mock) as pve:
            vmid = next(iter_vmids)
            await pve.wait_task(await pve.create("/nodes/pve1/qemu", vmid=vmid), first_interval=0.05)
            upid = await pve.nodes("pve1").qemu(vmid).status.start.post()
            lines = [x async for x in pve.follow_task(upid, first_interval=0.05)]
            res = await pve.wait_task(upid)
            mock.faults(task_exitstatus="WARNINGS: 2")
            warn = await pve.wait_task(await pve.nodes("pve1").qemu(vmid).status.stop.post(),
                                       first_interval=0.05)
            mock.faults(task_exitstatus="boom")
            with pytest.raises(libproxmox.TaskError) as e:
                async for _ in pve.follow_task(await pve.nodes("pve1").qemu(vmid).status.start
                                               .post(), first_interval=0.05):
                    pass
            return lines, res, warn, e.value
    lines, res, warn, err = run(main())
    assert [n for n, _ in lines] == list(range(1, len(lines) + 1)) and lines[-1][1] == "TASK OK"
    assert res.exitstatus == "OK"
    assert warn.warnings == 2
    assert err.exitstatus == "boom"


iter_vmids = iter(range(7000, 8000))


def test_leaving_a_follow_early_cancels_it(mock):
    mock.faults(task_ms=3000)

    async def main():
        async with aclient(mock) as pve:
            vmid = next(iter_vmids)
            mock.faults(task_ms=0)
            await pve.wait_task(await pve.create("/nodes/pve1/qemu", vmid=vmid), first_interval=0.05)
            mock.faults(task_ms=3000)
            upid = await pve.nodes("pve1").qemu(vmid).status.start.post()
            agen = pve.follow_task(upid, first_interval=0.05)
            first = await agen.__anext__()
            await agen.aclose()
            for _ in range(100):
                if pve.pending == 0:
                    break
                await asyncio.sleep(0.01)
            return first, pve.pending
    first, pending = run(main())
    assert first[0] == 1 and pending == 0


def test_one_loop_per_client(mock):
    pve = aclient(mock)
    run(pve.get("/version"))
    with pytest.raises(libproxmox.Error):
        run(pve.get("/version"))  # a second asyncio.run is another loop
    pve.close()


def test_exception_in_a_callback_reaches_the_loop_and_the_caller(mock):
    async def main():
        seen = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: seen.append(ctx))
        async with aclient(mock, logger=FailingLogger()) as pve:
            with pytest.raises(Exception) as e:
                await pve.get("/version")
        return seen, e.value
    seen, exc = run(main())
    assert type(exc).__name__ == "Boom"
    assert seen and type(seen[0]["exception"]).__name__ == "Boom"


def test_unused_client_is_collected(mock):
    base = len(_core._registry)

    async def main():
        pve = aclient(mock)
        await pve.get("/version")
        assert len(_core._registry) == base + 2  # socket and timer userdata
        ref = weakref.ref(pve)
        del pve
        gc.collect()
        return ref
    ref = run(main())
    assert ref() is None and len(_core._registry) == base


def test_a_parameter_named_path(mock):
    async def main():
        async with aclient(mock) as pve:
            await pve.set("/access/acl", path="/", roles="PVEAuditor", users="root@pam")
            return await pve.get("/access/permissions", path="/vms")
    assert run(main()) == {}
    sent = [(r["method"], r["path"], r["query"], r["status"])
            for r in mock.control("requests")["data"][-2:]]
    assert sent == [("PUT", "/api2/json/access/acl", None, 200),
                    ("GET", "/api2/json/access/permissions", "path=%2Fvms", 200)]


DEAD_LOOP = """
import asyncio, gc, sys, weakref
import libproxmox.aio as aio
from libproxmox import _core
url, token, fingerprint = sys.argv[1:4]
base = len(_core._registry)
for close in (True, False):
    pve = aio.Client(url, token=token, fingerprint=fingerprint)
    loop = asyncio.new_event_loop()
    t = loop.create_task(pve.get("/version"))
    w = loop.create_task(pve.wait_task("UPID:pve1:00001234:00000000:00000000:qmstart:100:root@pam:"))
    loop.run_until_complete(asyncio.sleep(0.1))
    loop.close()  # not through asyncio.run: the calls are still in flight
    assert pve.pending == 2, pve.pending
    ref = weakref.ref(pve)
    if close:
        pve.close()
    del pve, t, w
    gc.collect()
    print(close, ref() is None, len(aio._futures), len(_core._registry) - base, flush=True)
"""


def test_loop_closed_with_calls_in_flight(mock):
    """A loop closed (not through asyncio.run) with calls in flight: nothing is scheduled on it any
    more (close() printed "Event loop is closed" from the timer callback), and its futures are
    dropped, so the tasks and the client are collected (aio._futures kept them for good)."""
    import os
    import subprocess
    import sys
    mock.faults(latency_ms=2000)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(libproxmox.__file__)))
    p = subprocess.run([sys.executable, "-c", DEAD_LOOP, mock.url, mock.token, mock.fingerprint],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=pkg))
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout == "True True 0 0\nFalse True 0 0\n", (p.stdout, p.stderr[-2000:])
    assert "Event loop is closed" not in p.stderr and "libproxmox callback" not in p.stderr, \
        p.stderr[-2000:]
