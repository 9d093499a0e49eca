"""The synchronous client against pve-mock."""
import contextlib
import gc
import hashlib
import hmac
import logging
import struct
import time
import weakref

import pytest

import libproxmox
from libproxmox import _core
from libproxmox.paths import method_of, template_of


def test_get_returns_decoded_data(client):
    v = client.get("/version")
    assert v["release"] == "9.0" and v["version"].startswith("9.")
    nodes = client.get("/nodes")
    assert sorted(n["node"] for n in nodes) == ["pve1", "pve2"]


def test_password_login(mock):
    with libproxmox.Client(mock.url, username=mock.user, password=mock.password,
                           fingerprint=mock.fingerprint) as c:
        assert c.get("/version")["release"] == "9.0"
        ticket, csrf = c.ticket()
        assert ticket.startswith("PVE:root@pam:") and csrf


def test_wrong_password_is_authentication_error(mock):
    with libproxmox.Client(mock.url, username=mock.user, password="wrong",
                           fingerprint=mock.fingerprint) as c:
        with pytest.raises(libproxmox.AuthenticationError) as e:
            c.get("/nodes")
    assert e.value.code == -6 and "authentication failure" in e.value.message
    assert isinstance(e.value, libproxmox.Error) and e.value.message


def test_readonly_token_write_is_permission_error(mock):
    with libproxmox.Client(mock.url, token=mock.readonly_token, fingerprint=mock.fingerprint) as c:
        assert c.get("/version")
        with pytest.raises(libproxmox.PermissionDeniedError) as e:
            c.set("/nodes/pve1/qemu/100/config", memory=1024)
    assert e.value.status == 403 and "Permission check failed" in e.value.message


def test_tls_fingerprint_mismatch(mock):
    wrong = ":".join(["00"] * 32)
    with libproxmox.Client(mock.url, token=mock.token, fingerprint=wrong) as c:
        with pytest.raises(libproxmox.TLSError) as e:
            c.get("/version")
    assert e.value.status == 0


def test_tls_ca_file_and_system_store(mock):
    with libproxmox.Client(mock.url, token=mock.token, ca_file=mock.ca_file) as c:
        assert c.get("/version")["release"] == "9.0"
    with libproxmox.Client(mock.url, token=mock.token) as c:  # system CAs do not know the mock
        with pytest.raises(libproxmox.TLSError):
            c.get("/version")
    with libproxmox.Client(mock.url, token=mock.token, insecure=True) as c:
        assert c.get("/version")["release"] == "9.0"


def test_bad_settings_raise_at_once(mock):
    with pytest.raises(libproxmox.ValidationError) as e:
        libproxmox.Client("ftp://x", token=mock.token)
    assert e.value.param == "endpoint"
    with pytest.raises(libproxmox.ValidationError) as e:
        libproxmox.Client(mock.url, token="not a token")
    assert e.value.param == "token"
    with pytest.raises(libproxmox.ValidationError) as e:
        libproxmox.Client(mock.url, fingerprint="AB:CD")
    assert e.value.param == "fingerprint"
    with pytest.raises(libproxmox.ValidationError):
        libproxmox.Client(mock.url, username="root@pam")


_vmids = iter(range(5000, 6000))


def new_vm(client, **params):
    """A fresh stopped VM on pve1 (created through the generic verb), its vmid."""
    vmid = next(_vmids)
    upid = client.create("/nodes/pve1/qemu", vmid=vmid, **params)
    client.wait_task(upid, first_interval=0.05)
    return vmid


def test_generic_verbs_and_parameter_types(client):
    vmid = new_vm(client, name="types", memory=3072, onboot=True, description="a b&c=d;e+f%",
                  start=False, ostype=None)
    cfg = client.get("/nodes/pve1/qemu/%d/config" % vmid)
    assert cfg["name"] == "types"
    assert str(cfg["onboot"]) == "1"
    assert cfg["description"] == "a b&c=d;e+f%"
    assert "ostype" not in cfg  # None is not sent
    cur = client.get("/nodes/pve1/qemu/%d/status/current" % vmid)
    assert cur["status"] == "stopped" and cur["maxmem"] == 3072 * 1024 * 1024
    assert "description" not in client.get("/nodes/pve1/qemu/100/config")


def test_server_validation_error_names_the_parameter(client):
    with pytest.raises(libproxmox.ValidationError) as e:
        client.create("/nodes/pve1/qemu", vmid=5)  # not checked locally: generic call
    assert e.value.status == 400
    assert e.value.param == "vmid" and "minimum" in e.value.errors["vmid"]


def test_unknown_path_is_501(client):
    with pytest.raises(libproxmox.Error) as e:
        client.get("/nodes/pve1/nothing-here")
    assert e.value.status == 501 and "not implemented" in e.value.message


def test_bad_path_refused_before_sending(client, mock):
    before = mock.stats()["requests"]
    with pytest.raises(libproxmox.ValidationError) as e:
        client.get("nodes")  # not starting with '/'
    assert e.value.param == "nodes"
    assert mock.stats()["requests"] == before


def test_attribute_paths(client):
    vms = client.nodes("pve1").qemu.get()
    assert any(vm["vmid"] == 100 for vm in vms)
    assert client.nodes("pve1").qemu(100).status.current.get()["vmid"] == 100
    assert client.version.get()["release"] == "9.0"
    p = client.nodes("pve1").qemu(100).status.start
    assert template_of(p) == "/nodes/{node}/qemu/{vmid}/status/start"
    assert str(p) == "/nodes/pve1/qemu/100/status/start"
    assert str(client.nodes("a b/c")) == "/nodes/a%20b%2Fc"
    assert "start" in dir(client.nodes("pve1").qemu(100).status)
    m = method_of(p, "create")
    assert m.name == "pve_nodes_qemu_status_start_post" and "skiplock" in m.params
    # '-' in a segment is '_' in Python; every name is free for segments ("template")
    assert template_of(client.nodes("pve1").qemu(100).agent.get_fsinfo).endswith("/get-fsinfo")
    assert template_of(client.nodes("pve1").qemu(100).move_disk).endswith("/move_disk")
    assert template_of(client.nodes("pve1").qemu(100).template).endswith("/{vmid}/template")
    with pytest.raises(libproxmox.PathError):
        method_of(client.version, "delete")


def test_attribute_path_validation_before_sending(client, mock):
    before = mock.stats()["requests"]
    with pytest.raises(libproxmox.ValidationError) as e:
        client.nodes("pve1").qemu(5).status.start.post(skiplock=True)
    assert e.value.param == "vmid"
    assert e.value.errors["vmid"] == "value must have a minimum value of 100"
    with pytest.raises(libproxmox.ValidationError) as e:
        client.nodes("pve1").qemu(100).status.start.post(nonsense=1)
    assert "nonsense" in e.value.errors
    assert "not defined in schema" in e.value.errors["nonsense"]
    with pytest.raises(libproxmox.ValidationError) as e:
        client.nodes("pve1").qemu.post(memory=512)  # vmid is required
    assert e.value.param == "vmid"
    with pytest.raises(libproxmox.ValidationError) as e:
        client.nodes("pve1").qemu(100).config.put(memory="lots")
    assert e.value.param == "memory"
    with pytest.raises(libproxmox.ValidationError) as e:
        client.nodes("bad/node").qemu.get()
    assert e.value.param == "node"
    assert mock.stats()["requests"] == before


def test_unknown_attribute_path_raises_at_once(client):
    with pytest.raises(libproxmox.PathError) as e:
        client.nodes("pve1").qemuu
    assert "qemuu" in str(e.value) and "qemu" in str(e.value)
    with pytest.raises(AttributeError):  # PathError is an AttributeError too
        client.nodez
    with pytest.raises(libproxmox.PathError) as e:
        client.version.post()
    assert str(e.value) == "Method 'POST /version' not implemented"
    with pytest.raises(libproxmox.PathError):
        client.version("x")  # /version has no {param}


def test_python_names_of_parameters(client, mock):
    # wire names with '-' are given with '_' ("force-cpu"); unknown names are refused by name
    with pytest.raises(libproxmox.ValidationError) as e:
        client.nodes("pve1").qemu(100).status.start.post(force_cpu="x y z")
    assert list(e.value.errors) == ["force-cpu"]
    with pytest.raises(libproxmox.ValidationError) as e:
        client.nodes("pve1").qemu(100).status.start.post(force_cpux=1)
    assert list(e.value.errors) == ["force_cpux"]


def test_task_wait_and_follow(client, mock):
    vmid = new_vm(client)
    upid = client.nodes("pve1").qemu(vmid).status.start.post()
    assert upid.startswith("UPID:pve1:")
    lines = []
    res = client.follow_task(upid, lambda n, t: lines.append((n, t)), first_interval=0.05)
    assert res.exitstatus == "OK" and res.upid == upid
    assert [n for n, _ in lines] == list(range(1, len(lines) + 1)) and len(lines) >= 2
    assert lines[-1][1] == "TASK OK"
    assert client.wait_task(upid).exitstatus == "OK"  # already stopped: at once
    client.wait_task(client.nodes("pve1").qemu(vmid).status.stop.post(), first_interval=0.05)


def test_task_failure_is_task_error(client, mock):
    vmid = new_vm(client)
    mock.faults(task_exitstatus="disk full")
    upid = client.nodes("pve1").qemu(vmid).status.start.post()
    with pytest.raises(libproxmox.TaskError) as e:
        client.wait_task(upid, first_interval=0.05)
    assert e.value.exitstatus == "disk full" and e.value.upid == upid
    assert e.value.log and e.value.log[-1][1].endswith("disk full")


def test_task_timeout(client, mock):
    vmid = new_vm(client)
    mock.faults(task_ms=5000)
    upid = client.nodes("pve1").qemu(vmid).status.start.post()
    t = time.monotonic()
    with pytest.raises(libproxmox.TimeoutError) as e:
        client.wait_task(upid, timeout=0.3, first_interval=0.05)
    assert isinstance(e.value, TimeoutError)  # also the built-in
    assert time.monotonic() - t < 4


def test_call_timeout(mock):
    mock.faults(latency_ms=2000)
    with libproxmox.Client(mock.url, token=mock.token, fingerprint=mock.fingerprint,
                           timeout=0.2) as c:
        with pytest.raises(libproxmox.TimeoutError):
            c.get("/version")


def test_closed_client(mock):
    c = libproxmox.Client(mock.url, token=mock.token, fingerprint=mock.fingerprint)
    c.close()
    c.close()
    with pytest.raises(libproxmox.ClosedError):
        c.get("/version")


def test_from_env(mock, monkeypatch):
    for k in ("PROXMOX_VE_API_TOKEN", "PROXMOX_VE_USERNAME", "PROXMOX_VE_PASSWORD"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("PROXMOX_VE_ENDPOINT", mock.url)
    monkeypatch.setenv("PROXMOX_VE_FINGERPRINT", mock.fingerprint)
    with pytest.raises(libproxmox.Error):
        libproxmox.Client.from_env()  # no credentials
    monkeypatch.setenv("PROXMOX_VE_USERNAME", mock.user)
    monkeypatch.setenv("PROXMOX_VE_PASSWORD", mock.password)
    with libproxmox.Client.from_env() as c:
        assert c.get("/version")["release"] == "9.0"
        assert c.ticket()[0].startswith("PVE:root@pam:")
    monkeypatch.setenv("PROXMOX_VE_API_TOKEN", "bad")  # the token wins, as in pmx
    with pytest.raises(libproxmox.ValidationError):
        libproxmox.Client.from_env()
    monkeypatch.setenv("PROXMOX_VE_API_TOKEN", mock.token)
    monkeypatch.setenv("PROXMOX_VE_FINGERPRINT", "")
    monkeypatch.setenv("PROXMOX_VE_INSECURE", "true")
    with libproxmox.Client.from_env() as c:
        assert c.get("/version")["release"] == "9.0"
    monkeypatch.delenv("PROXMOX_VE_ENDPOINT")
    with pytest.raises(libproxmox.Error):
        libproxmox.Client.from_env()


def totp(secret_b32, t=None):
    import base64
    key = base64.b32decode(secret_b32)
    counter = struct.pack(">Q", int((time.time() if t is None else t) // 30))
    h = hmac.new(key, counter, hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def test_tfa_callback(tfa_mock):
    seen = []

    def answer(challenge):
        seen.append(challenge)
        return "totp:" + totp(tfa_mock.totp_secret)
    with libproxmox.Client(tfa_mock.url, username=tfa_mock.tfa_user,
                           password=tfa_mock.tfa_password, fingerprint=tfa_mock.fingerprint,
                           tfa=answer) as c:
        assert c.get("/version")["release"] == "9.0"
    assert seen and seen[0].get("totp") is True


def test_exception_in_tfa_callback_is_raised(tfa_mock):
    def broken(challenge):
        raise KeyError("no authenticator at hand")
    with libproxmox.Client(tfa_mock.url, username=tfa_mock.tfa_user,
                           password=tfa_mock.tfa_password, fingerprint=tfa_mock.fingerprint,
                           tfa=broken) as c:
        with pytest.raises(libproxmox.AuthenticationError) as e:
            c.get("/version")
    assert isinstance(e.value.__cause__, KeyError)


@pytest.mark.parametrize("answer", [None, "", b"", 123456])
def test_tfa_callback_without_an_answer_fails_the_login(tfa_mock, answer):
    """Only a non-empty str (or bytes) is a second factor: None went to the server as the text
    "None" (a failed second factor in its log)."""
    before = len(tfa_mock.control("requests")["data"])
    with libproxmox.Client(tfa_mock.url, username=tfa_mock.tfa_user,
                           password=tfa_mock.tfa_password, fingerprint=tfa_mock.fingerprint,
                           tfa=lambda challenge: answer) as c:
        with pytest.raises(libproxmox.AuthenticationError) as e:
            c.get("/version")
    assert isinstance(e.value.__cause__, ValueError)
    sent = [(r["method"], r["path"]) for r in tfa_mock.control("requests")["data"][before:]]
    assert sent == [("POST", "/api2/json/access/ticket")]  # the password, no second factor


class Boom(Exception):
    pass


class ListHandler(logging.Handler):
    def __init__(self, fail=False):
        super().__init__(logging.DEBUG)
        self.records, self.fail = [], fail

    def emit(self, record):
        self.records.append(record.getMessage())
        if self.fail:
            raise Boom(record.getMessage())


def test_logger_gets_the_library_log_without_secrets(mock):
    log = logging.getLogger("libproxmox.test.ok")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    h = ListHandler()
    log.addHandler(h)
    with libproxmox.Client(mock.url, username=mock.user, password=mock.password,
                           fingerprint=mock.fingerprint, logger=log) as c:
        c.get("/version")
    log.removeHandler(h)
    assert h.records
    assert not any(mock.password in r or "PVE:root@pam:" in r for r in h.records)


class FailingLogger:
    """A logger whose log() raises (a broken handler that does not swallow its errors)."""

    def getEffectiveLevel(self):
        return logging.DEBUG

    def log(self, level, fmt, *args):
        raise Boom(fmt % args)


def test_exception_in_logger_is_not_lost(mock):
    with libproxmox.Client(mock.url, token=mock.token, fingerprint=mock.fingerprint,
                           logger=FailingLogger()) as c:
        with pytest.raises(Boom):
            c.get("/version")
        assert c.get.__self__ is c


def test_callbacks_do_not_outlive_the_client(mock):
    """The registry holds userdata only until the library's destructor runs."""
    base = len(_core._registry)
    log = logging.getLogger("libproxmox.test.gc")
    c = libproxmox.Client(mock.url, token=mock.token, fingerprint=mock.fingerprint, logger=log,
                          tfa=lambda ch: "totp:000000")
    assert len(_core._registry) == base + 2
    c.get("/version")
    lines = []
    c.follow_task(c.nodes("pve1").qemu(new_vm(c)).status.start.post(),
                  lambda n, t: lines.append(t), first_interval=0.05)
    assert lines[-1] == "TASK OK"
    assert len(_core._registry) == base + 2  # the follow's line sink is released
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is None
    assert len(_core._registry) == base


def test_versions():
    assert libproxmox.library_version() == libproxmox.__version__
    assert isinstance(libproxmox.schema_version(), str)


def test_bad_input_from_the_caller(client, mock):
    before = mock.stats()["requests"]
    with pytest.raises(libproxmox.ValidationError) as e:
        client.get("/version\0/x")
    assert e.value.param == "path"
    with pytest.raises(libproxmox.ValidationError) as e:
        client.get(42)
    assert e.value.param == "path"
    with pytest.raises(libproxmox.ValidationError) as e:
        client.set("/nodes/pve1/qemu/100/config", description="cut\0here")
    assert e.value.param == "description"
    with pytest.raises(libproxmox.ValidationError) as e:
        client.set("/nodes/pve1/qemu/100/config", description={"a": 1})
    assert e.value.param == "description"
    with pytest.raises(libproxmox.ValidationError):
        libproxmox.Client(mock.url, token=mock.token + "\0")
    with pytest.raises(libproxmox.ValidationError):
        client.wait_task(None)
    with pytest.raises(libproxmox.ValidationError):
        client.wait_task("UPID:not-one")
    assert mock.stats()["requests"] == before
    assert client.get("/version")["release"] == "9.0"  # the client goes on working


def test_bad_answers_from_the_server(client, mock):
    mock.faults(malformed=1)
    with pytest.raises(libproxmox.Error) as e:
        client.get("/version")
    assert e.value.code == -7  # PMX_EDECODE
    mock.faults(fail_5xx=1, fail_status=500)
    with pytest.raises(libproxmox.Error) as e:
        client.create("/nodes/pve1/qemu/100/status/start")  # a POST: not retried
    assert e.value.status == 500
    mock.faults(close_mid_response=1)
    with pytest.raises(libproxmox.ConnectionError):
        client.create("/nodes/pve1/qemu/100/status/start")
    assert client.get("/version")["release"] == "9.0"


def test_threads_sharing_a_client_take_turns(client):
    import threading
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(client.get("/version")["release"])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == ["9.0"] * 80


def test_calling_the_client_from_its_own_callback_is_refused(client):
    vmid = new_vm(client)
    seen = []

    def on_line(n, text):
        try:
            client.get("/version")
        except libproxmox.Error as e:
            seen.append(e.code)
    client.follow_task(client.nodes("pve1").qemu(vmid).status.start.post(), on_line,
                       first_interval=0.05)
    assert seen and set(seen) == {-11}  # PMX_ERECURSIVE


def test_attribute_paths_go_through_pmx_method_start(client, monkeypatch):
    from libproxmox import _lib
    calls = []
    real = _lib.lib.pmx_method_start

    def spy(*args):
        calls.append(args[1])
        return real(*args)
    monkeypatch.setattr(_lib.lib, "pmx_method_start", spy)
    assert client.nodes("pve1").qemu(100).status.current.get()["vmid"] == 100
    m = method_of(client.nodes("pve1").qemu(100).status.current, "get")
    assert calls == [m.handle]
    assert client.get("/version")["release"] == "9.0"  # generic calls stay generic
    assert len(calls) == 1


@pytest.mark.parametrize("code", ["from libproxmox import aio; aio.Client",
                                  "import libproxmox; libproxmox.aio.Client",
                                  "from libproxmox import *; aio.Client",
                                  "import libproxmox.aio; libproxmox.aio.Client"])
def test_aio_submodule_every_spelling(code):
    """libproxmox.aio is imported on first use; each spelling in a fresh interpreter (the package's
    __getattr__ ran "from . import aio", whose check for the attribute came back to it:
    RecursionError)."""
    import os
    import subprocess
    import sys
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(libproxmox.__file__)))
    p = subprocess.run([sys.executable, "-c", code + "; print('ok')"], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, PYTHONPATH=pkg))
    assert p.returncode == 0 and p.stdout == "ok\n", p.stderr[-2000:]


def test_a_parameter_named_path(client, mock):
    """PVE has parameters called "path" (PUT /access/acl requires one): the generic verbs take
    their path positionally, so path= is a parameter (it was a TypeError, multiple values)."""
    assert client.set("/access/acl", path="/", roles="PVEAuditor", users="root@pam") is None
    assert client.get("/access/permissions", path="/vms") == {}
    sent = [(r["method"], r["path"], r["query"], r["status"])
            for r in mock.control("requests")["data"][-2:]]
    assert sent == [("PUT", "/api2/json/access/acl", None, 200),
                    ("GET", "/api2/json/access/permissions", "path=%2Fvms", 200)]


def test_ticket_while_another_thread_renews_it():
    """ticket() takes the client's turn like every call: it read the ticket while a call on
    another thread renewed (and freed) it (ASan: heap-use-after-free in pmx_client_get_ticket)."""
    import ctypes
    import threading
    from conftest import Mock
    from libproxmox import _lib
    set_lifetime = _lib.lib.pmx_client_set_ticket_lifetime
    set_lifetime.argtypes, set_lifetime.restype = [ctypes.c_void_p, ctypes.c_int], ctypes.c_int
    mock = Mock("--ticket-lifetime", "3", "--auth-delay-ms", "100")
    with mock_stopped(mock), libproxmox.Client(mock.url, username=mock.user,
                                               password=mock.password,
                                               fingerprint=mock.fingerprint) as c:
        assert set_lifetime(c._c, 2) == 0  # renewed once older than 1 s
        c.get("/version")
        stop = time.monotonic() + 4
        seen, errors = set(), []

        def reader():
            while time.monotonic() < stop:
                try:
                    ticket, csrf = c.ticket()
                    assert ticket.startswith("PVE:root@pam:") and csrf
                    seen.add(ticket)
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(e)
        t = threading.Thread(target=reader)
        t.start()
        while time.monotonic() < stop:
            c.get("/version")
        t.join()
        assert not errors and len(seen) >= 2  # renewed while read
        # the race is rare: whether each of them waits its turn, for certain
        for read in (c.ticket, lambda: c.url, lambda: c.pending):
            out = []
            with c._lock:  # what a call on this thread holds while it runs
                t = threading.Thread(target=lambda: out.append(read()))
                t.start()
                t.join(0.2)
                assert t.is_alive() and not out
            t.join()
            assert out


@contextlib.contextmanager
def mock_stopped(mock):
    try:
        yield mock
    finally:
        mock.stop()


def test_close_from_another_thread_fails_the_waiting_call(mock):
    """close() does not wait for a call in flight on another thread: that call fails with
    ClosedError at once (close() blocked until the server answered, 3 s here)."""
    import threading
    mock.faults(task_ms=3000)
    for faults, wait in (({}, lambda c, upid: c.wait_task(upid, first_interval=0.05)),
                         ({"latency_ms": 3000}, lambda c, upid: c.get("/version"))):
        c = libproxmox.Client(mock.url, token=mock.token, fingerprint=mock.fingerprint)
        upid = c.create("/nodes/pve1/qemu/100/status/stop")
        mock.faults(**faults)
        out = []

        def call():
            try:
                out.append(wait(c, upid))
            except Exception as e:
                out.append(e)
        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        c.close()
        t.join(2)
        assert time.monotonic() - t0 < 1 and not t.is_alive()
        assert len(out) == 1 and isinstance(out[0], libproxmox.ClosedError), out
        with pytest.raises(libproxmox.ClosedError):
            c.get("/version")


INTERRUPTED = """
import sys, time, libproxmox
c = libproxmox.Client(sys.argv[1], token=sys.argv[2], fingerprint=sys.argv[3])
try:
    print("waiting", flush=True)
    if sys.argv[4]:
        c.wait_task(sys.argv[4], first_interval=0.05)
    else:
        c.get("/version")
    print("returned")
except KeyboardInterrupt:
    print("interrupted", c.pending)
"""


@pytest.mark.parametrize("task", [False, True])
def test_ctrl_c_interrupts_a_call(client, mock, task):
    """Ctrl-C during a call (or a task wait) raises KeyboardInterrupt within a slice of the wait
    and cancels the call (it came only when the server answered, 4 s here)."""
    import os
    import signal
    import subprocess
    import sys
    upid = ""
    if task:
        mock.faults(task_ms=4000)
        upid = client.create("/nodes/pve1/qemu/100/status/stop")
    else:
        mock.faults(latency_ms=4000)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(libproxmox.__file__)))
    p = subprocess.Popen([sys.executable, "-c", INTERRUPTED, mock.url, mock.token,
                          mock.fingerprint, upid], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=pkg))
    try:
        assert p.stdout.readline() == "waiting\n"
        time.sleep(0.5)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=10)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert out == "interrupted 0\n" and p.returncode == 0 and took < 1.5, (out, took)


def test_interrupt_right_after_the_start_leaves_nothing_running(client, mock, monkeypatch):
    """A KeyboardInterrupt may come between any two bytecodes, also just after the call
    started and before its wait: the call is cancelled and released all the same (it was left
    pending on the client, driven by the next call). Simulated at the params' free, the first
    thing after the start."""
    from libproxmox import client as client_mod
    real_free = client_mod.lib.pmx_params_free

    class Lib:
        def __getattr__(self, name):
            return getattr(real_lib, name)

        def pmx_params_free(self, p):
            real_free(p)
            raise KeyboardInterrupt

    real_lib = client_mod.lib
    monkeypatch.setattr(client_mod, "lib", Lib())
    mock.faults(latency_ms=1500)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client.get("/nodes", full=1)
    monkeypatch.setattr(client_mod, "lib", real_lib)
    assert time.monotonic() - t0 < 1.0  # not waited for
    assert client.pending == 0
    mock.faults(latency_ms=0)
    assert client.get("/version")["version"]
