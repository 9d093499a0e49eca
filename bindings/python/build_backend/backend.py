"""A minimal PEP 517 build backend for the pure-Python libproxmox package (standard library
only): wheels and sdists of the files under libproxmox/, metadata from pyproject.toml."""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "libproxmox"


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    try:
        import tomllib
        return tomllib.loads(text)["project"]
    except ImportError:  # Python < 3.11: the few keys we use are plain strings
        section = text.split("[project]", 1)[1]
        return {k: v for k, v in re.findall(r'^(\w[\w-]*) = "([^"]*)"', section, re.M)}


def _metadata():
    p = _project()
    lines = ["Metadata-Version: 2.1", "Name: %s" % p["name"], "Version: %s" % p["version"],
             "Summary: %s" % p.get("description", "")]
    if p.get("requires-python"):
        lines.append("Requires-Python: %s" % p["requires-python"])
    for c in p.get("classifiers", []) if isinstance(p.get("classifiers"), list) else []:
        lines.append("Classifier: %s" % c)
    readme = os.path.join(ROOT, "README.md")
    body = ""
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            body = "\n" + f.read()
    return "\n".join(lines) + "\n" + body, p["name"], p["version"]


def _package_files():
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".pyi")) or name == "py.typed":
                full = os.path.join(dirpath, name)
                out.append((os.path.relpath(full, ROOT).replace(os.sep, "/"), full))
    return out


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _dist_info(name, version):
    return "%s-%s.dist-info" % (name.replace("-", "_"), version)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    meta, name, version = _metadata()
    d = os.path.join(metadata_directory, _dist_info(name, version))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(meta)
    return os.path.basename(d)


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def _wheel(wheel_directory, files):
    meta, name, version = _metadata()
    info = _dist_info(name, version)
    wheel_name = "%s-%s-py3-none-any.whl" % (name.replace("-", "_"), version)
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data):
            zi = zipfile.ZipInfo(arcname, date_time=(2026, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
            records.append(_record_line(arcname, data))
        for arcname, data in files:
            add(arcname, data)
        add(info + "/METADATA", meta.encode())
        add(info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: libproxmox-backend\n"
                             b"Root-Is-Purelib: true\nTag: py3-none-any\n")
        records.append(info + "/RECORD,,")
        z.writestr(zipfile.ZipInfo(info + "/RECORD", date_time=(2026, 1, 1, 0, 0, 0)),
                   "\n".join(records) + "\n")
    return wheel_name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for arcname, full in _package_files():
        with open(full, "rb") as f:
            files.append((arcname, f.read()))
    return _wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, [("libproxmox.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    _, name, version = _metadata()
    base = "%s-%s" % (name, version)
    path = os.path.join(sdist_directory, base + ".tar.gz")
    members = ["pyproject.toml", "README.md", "build_backend/backend.py"]
    members += [arc for arc, _ in _package_files()]
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
        for arc in members:
            full = os.path.join(ROOT, arc)
            if os.path.exists(full):
                t.add(full, arcname=base + "/" + arc, recursive=False)
        pkg = io.BytesIO(("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
                         .encode())
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg.getvalue())
        t.addfile(ti, pkg)
    return os.path.basename(path)


if __name__ == "__main__":
    # `backend.py metadata DIR`: the .dist-info that `make install` puts beside the package, so
    # pip and importlib.metadata see the installed version.
    import sys
    if len(sys.argv) != 3 or sys.argv[1] != "metadata":
        sys.exit("usage: backend.py metadata SITE-PACKAGES-DIR")
    info = prepare_metadata_for_build_wheel(sys.argv[2])
    with open(os.path.join(sys.argv[2], info, "INSTALLER"), "w") as f:
        f.write("make\n")
