"""pytest fixtures: a pve-mock per session (and one with --tfa), the library from the build.

PMX_BUILD names the build directory (default: build/ of the source tree); LIBPROXMOX_LIBRARY,
when not set, points at that build's libproxmox.so.1.
"""
import json
import os
import ssl
import subprocess
import sys
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BUILD = os.path.join(TOP, os.environ.get("PMX_BUILD") or "build")
os.environ.setdefault("LIBPROXMOX_LIBRARY", os.path.join(BUILD, "lib", "libproxmox.so.1"))
sys.path.insert(0, os.path.dirname(HERE))


class Mock:
    """A running pve-mock: its ready line's fields as attributes, and its control routes."""

    def __init__(self, *args):
        self.ca_file = os.path.join(BUILD, "pytest-ca-%d-%d.pem" % (os.getpid(), id(self)))
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "bin", "pve-mock"), "--listen", "127.0.0.1:0", "--quiet",
             "--ca-out", self.ca_file] + list(args), stdout=subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})  # see SAN=1
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise RuntimeError("pve-mock did not start")
        self.__dict__.update(json.loads(line))
        self._ctx = ssl.create_default_context(cafile=self.ca_file)

    def control(self, route, body=None):
        req = urllib.request.Request(self.url + "/_mock/" + route, method="POST" if body is not
                                     None else "GET",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self._ctx, timeout=10) as r:
            return json.loads(r.read())

    def stats(self):
        return self.control("stats")

    def faults(self, **kw):
        self.control("faults", kw)

    def reset(self):
        self.control("reset", {})

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        os.unlink(self.ca_file)


@pytest.fixture(scope="session")
def mock():
    m = Mock("--auth-delay-ms", "50", "--task-ms", "300")
    yield m
    m.stop()


@pytest.fixture(scope="session")
def tfa_mock():
    m = Mock("--auth-delay-ms", "50", "--tfa")
    yield m
    m.stop()


@pytest.fixture(autouse=True)
def _reset(request):
    yield
    if "mock" in request.fixturenames:
        request.getfixturevalue("mock").reset()


@pytest.fixture
def client(mock):
    import libproxmox
    c = libproxmox.Client(mock.url, token=mock.token, fingerprint=mock.fingerprint)
    yield c
    c.close()
