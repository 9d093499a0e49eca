"""The generated type stubs (libproxmox/_api.pyi) against the library's own method tables, and a
type checker (mypy) reading them as an editor would."""
import ast
import os
import subprocess
import sys
import textwrap

import pytest

import libproxmox
from libproxmox import _lib, _schema

PKG = os.path.dirname(os.path.abspath(libproxmox.__file__))
VERBS = {_lib.GET: "get", _lib.POST: "post", _lib.PUT: "put", _lib.DELETE: "delete"}
KEYWORDS = {"in", "is", "from", "import", "class", "def", "for", "if", "else", "not", "and", "or",
            "as", "with", "while", "try", "except", "raise", "return", "pass", "del", "global",
            "lambda", "yield", "assert", "break", "continue", "finally", "async", "await",
            "nonlocal", "elif", "None", "True", "False"}


def py(name):
    n = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return n + "_" if n in KEYWORDS else n


def stub_classes():
    with open(os.path.join(PKG, "_api.pyi"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def target(annotation):
    """The class named by an annotation "P_x[_R]"."""
    assert isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name)
    return annotation.value.id


def test_every_method_and_parameter_is_in_the_stubs():
    classes = stub_classes()
    seen = []

    def walk(node, cls_name):
        cls = classes[cls_name]
        attrs = {a.target.id: a.annotation for a in cls.body if isinstance(a, ast.AnnAssign)}
        funcs = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        for verb, m in node.methods.items():
            f = funcs[VERBS[verb]]
            params = [p for p in m.params.values() if p.loc != _schema.LOC_PATH]
            kw = {a.arg: d for a, d in zip(f.args.kwonlyargs, f.args.kw_defaults)}
            assert set(kw) == {py(p.name) for p in params if not p.indexed}, m.template
            for p in params:
                if not p.indexed:  # required parameters have no default
                    assert (kw[py(p.name)] is None) == p.required, (m.template, p.name)
            assert (f.args.kwarg is not None) == any(p.indexed for p in params), m.template
            seen.append(m.name)
        for seg, child in node.children.items():
            walk(child, target(attrs[py(seg)]))
        if node.param_child is not None:
            walk(node.param_child, target(funcs["__call__"].returns))

    walk(_schema.root(), "Api")
    assert len(seen) == len(set(seen)) == _lib.lib.pmx_method_count()


def mypy(tmp_path, code):
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent(code))
    env = dict(os.environ, MYPYPATH=os.path.dirname(PKG))
    r = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir",
                        str(tmp_path / "cache"), "--follow-imports=silent", str(prog)],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path))
    return r.returncode, [line for line in r.stdout.splitlines() if "prog.py" in line]


def test_a_type_checker_accepts_good_calls(tmp_path):
    rc, errors = mypy(tmp_path, """
        import asyncio
        import libproxmox
        import libproxmox.aio

        pve = libproxmox.Client("https://pve1:8006", token="root@pam!a=b")
        vms = pve.nodes("pve1").qemu.get(full=True)
        pve.nodes("pve1").qemu(100).status.start.post(skiplock=True, timeout=30)
        pve.nodes("pve1").qemu.create(vmid=100, name="x", net0="virtio,bridge=vmbr0")
        pve.nodes("pve1").qemu(100).config.set(memory="2048", delete="description")
        pve.cluster.resources.get(type="vm")
        print(pve.wait_task("UPID:x").exitstatus)

        async def main() -> None:
            async with libproxmox.aio.Client.from_env() as a:
                v = await a.version.get()
                await a.nodes("pve1").qemu(100).status.start.post()
                async for n, line in a.follow_task("UPID:x"):
                    print(n + 1, line.upper())
        asyncio.run(main())
    """)
    assert rc == 0 and errors == []


def test_a_type_checker_finds_bad_calls(tmp_path):
    rc, errors = mypy(tmp_path, """
        import libproxmox
        pve = libproxmox.Client("https://pve1:8006")
        pve.nodes("pve1").qemu(100).status.start.post(skiplock="yes")
        pve.nodes("pve1").qemu(100).status.start.post(nonsense=1)
        pve.nodes("pve1").qemuu.get()
        pve.nodes("pve1").qemu.post(name="no vmid")
        pve.cluster.resources.get(type="bogus")
    """)
    assert rc == 1
    assert [e.split(":")[1] for e in errors if ": error:" in e] == ["4", "5", "6", "7", "8"]
    text = "\n".join(errors)
    assert '"skiplock"' in text and '"nonsense"' in text and '"qemuu"' in text
    assert '"vmid"' in text and "Literal['vm', 'storage', 'node', 'sdn']" in text
