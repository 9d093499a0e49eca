"""make bench, Python part: calls/s of the libproxmox binding next to proxmoxer, against the same
pve-mock (GET /version, TLS verified against the mock's CA for both). Prints a table; never
fails on the figures. Usage: bench_python.py URL FINGERPRINT TOKEN CA_FILE [SECONDS]
Each scenario runs SECONDS (default 3) of wall time and at most 200,000 calls."""
import asyncio
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
import libproxmox  # noqa: E402
import libproxmox.aio  # noqa: E402

MAX_CALLS = 200000


def cpu():
    t = os.times()
    return t.user + t.system


def measure(fn):
    c0, t0 = cpu(), time.monotonic()
    n = fn()
    dt, dc = time.monotonic() - t0, cpu() - c0
    return n / dt, dc / n * 1e6


def lp_sync(url, fp, token, seconds):
    with libproxmox.Client(url, token=token, fingerprint=fp) as c:
        c.get("/version")
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end and n < MAX_CALLS:
            c.get("/version")
            n += 1
        return n


def lp_aio(url, fp, token, seconds, flight):
    async def main():
        async with libproxmox.aio.Client(url, token=token, fingerprint=fp) as c:
            await c.get("/version")
            end = time.monotonic() + seconds
            count = [0]

            async def worker():
                while time.monotonic() < end and count[0] < MAX_CALLS:
                    await c.get("/version")
                    count[0] += 1
            await asyncio.gather(*[worker() for _ in range(flight)])
            return count[0]
    return asyncio.run(main())


def proxmoxer_api(url, token, ca_file):
    from proxmoxer import ProxmoxAPI
    u = urlsplit(url)
    user, _, rest = token.partition("!")
    name, _, value = rest.partition("=")
    return ProxmoxAPI(u.hostname, port=u.port, user=user, token_name=name, token_value=value,
                      verify_ssl=ca_file, timeout=30)


def px(url, token, ca_file, seconds, flight):
    local = threading.local()
    end = time.monotonic() + seconds
    lock = threading.Lock()
    count = [0]

    def worker():
        api = getattr(local, "api", None)
        if api is None:
            api = local.api = proxmoxer_api(url, token, ca_file)
            api.version.get()
        n = 0
        while time.monotonic() < end:
            with lock:
                if count[0] >= MAX_CALLS:
                    break
                count[0] += 1
            api.version.get()
            n += 1
        return n
    if flight == 1:
        return worker()
    with ThreadPoolExecutor(flight) as ex:
        return sum(ex.map(lambda _: worker(), range(flight)))


def main():
    url, fp, token, ca_file = sys.argv[1:5]
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 3.0
    try:
        import proxmoxer
        px_version = proxmoxer.__version__
    except ImportError:
        px_version = None
    rows = []

    def row(name, fn):
        try:
            rate, us = measure(fn)
            rows.append((name, rate, us))
        except Exception as e:  # report, do not fail the benchmark
            rows.append((name, None, str(e)))

    row("libproxmox Client, 1 in flight", lambda: lp_sync(url, fp, token, seconds))
    row("libproxmox aio.Client, 1 in flight", lambda: lp_aio(url, fp, token, seconds, 1))
    row("libproxmox aio.Client, 64 in flight", lambda: lp_aio(url, fp, token, seconds, 64))
    if px_version:
        row("proxmoxer %s, 1 in flight" % px_version, lambda: px(url, token, ca_file, seconds, 1))
        row("proxmoxer %s, 64 threads" % px_version, lambda: px(url, token, ca_file, seconds, 64))
    print()
    print("Python (%s), GET /version, %g s per scenario:" % (sys.version.split()[0], seconds))
    print("| scenario | calls/s | client CPU µs/call |")
    print("|---|---|---|")
    for name, rate, us in rows:
        if rate is None:
            print("| %s | failed: %s | |" % (name, us))
        else:
            print("| %s | %.0f | %.0f |" % (name, rate, us))
    rates = {name: rate for name, rate, _ in rows if rate}
    if px_version:
        p1 = rates.get("proxmoxer %s, 1 in flight" % px_version)
        p64 = rates.get("proxmoxer %s, 64 threads" % px_version)
        a64 = rates.get("libproxmox aio.Client, 64 in flight")
        s1 = rates.get("libproxmox Client, 1 in flight")
        if p1 and s1:
            print("libproxmox Client / proxmoxer at 1 in flight: %.1fx" % (s1 / p1))
        if p64 and a64:
            print("libproxmox aio.Client / proxmoxer at 64 in flight: %.1fx (target >= 5x)"
                  % (a64 / p64))
    else:
        print("(proxmoxer not installed: Debian python3-proxmoxer)")


if __name__ == "__main__":
    main()
