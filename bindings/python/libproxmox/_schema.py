"""The one module that reads the library's method tables (<proxmox/method.h>).

It gives the rest of the package a tree of PVE API paths (for attribute paths such as
``pve.nodes("pve1").qemu(100).status.start.post()``), each method's parameters, and validation
with the library's own checks (the schema's words), so nothing is sent for a call that PVE
would refuse. The tables are static library data, read once per process.
"""
import ctypes
from ctypes import POINTER, Structure, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint32, c_void_p
from urllib.parse import quote

from . import _lib
from .errors import PathError, ValidationError

lib = _lib.lib
text = _lib.text

PARAM_STRING, PARAM_INTEGER, PARAM_BOOLEAN, PARAM_NUMBER, PARAM_ARRAY = 1, 2, 3, 4, 5
LOC_PATH, LOC_QUERY, LOC_BODY = 1, 2, 3
PARAM_REQUIRED, PARAM_INDEXED = 1 << 0, 1 << 6
VALIDATE_PATH = 1 << 0
VALIDATE_FN = ctypes.CFUNCTYPE(c_int, c_char_p, c_char_p, c_void_p)
lib.pmx_method_validate_each.restype = c_int
lib.pmx_method_validate_each.argtypes = [c_void_p, c_void_p, ctypes.c_uint, VALIDATE_FN, c_void_p]


class Param:
    """One parameter of a method, as the schema describes it."""
    __slots__ = ("handle", "name", "c_name", "type", "item_type", "loc", "flags", "count",
                 "enum", "typetext", "default", "description")

    @property
    def required(self):
        return bool(self.flags & PARAM_REQUIRED)

    @property
    def indexed(self):
        return bool(self.flags & PARAM_INDEXED)


def _param(handle, name, c_name, type_, item_type, loc, flags, count, enum, typetext, default,
           description):
    p = Param()
    p.handle, p.name, p.c_name, p.type, p.item_type = handle, text(name), text(c_name), type_, item_type
    p.loc, p.flags, p.count, p.enum = loc, flags, count, tuple(text(e) for e in enum)
    p.typetext, p.default, p.description = text(typetext), text(default), text(description)
    return p


# ---- reading descriptors: opaque handles, read with the pmx_*_describe() functions ----------

class _MethodInfo(Structure):
    _fields_ = [("size", c_uint32), ("method", c_uint32), ("flags", c_uint32),
                ("n_params", c_uint32), ("n_path_params", c_uint32), ("index", c_uint32),
                ("path", c_char_p), ("name", c_char_p), ("description", c_char_p),
                ("result", c_void_p), ("params_size", c_size_t)]


class _ParamInfo(Structure):
    _fields_ = [("size", c_uint32), ("type", c_uint32), ("item_type", c_uint32),
                ("loc", c_uint32), ("flags", c_uint32), ("count", c_uint32),
                ("n_enum", c_uint32), ("position", c_uint32), ("name", c_char_p),
                ("c_name", c_char_p), ("minimum", c_double), ("maximum", c_double),
                ("min_length", c_int64), ("max_length", c_int64), ("pattern", c_char_p),
                ("posix_pattern", c_char_p), ("format", c_char_p), ("typetext", c_char_p),
                ("default_value", c_char_p), ("description", c_char_p),
                ("propstr", c_void_p)]


for _n, _r, _a in (("pmx_method_describe", c_int, [c_void_p, POINTER(_MethodInfo)]),
                   ("pmx_method_param_at", c_void_p, [c_void_p, c_size_t]),
                   ("pmx_param_describe", c_int, [c_void_p, POINTER(_ParamInfo)]),
                   ("pmx_param_enum_at", c_char_p, [c_void_p, c_size_t])):
    getattr(lib, _n).restype, getattr(lib, _n).argtypes = _r, _a


def _describe(handle):
    i = _MethodInfo(size=ctypes.sizeof(_MethodInfo))
    if lib.pmx_method_describe(handle, ctypes.byref(i)) != _lib.OK:
        raise RuntimeError("pmx_method_describe refused a table entry")
    return i.method, text(i.path), text(i.name), text(i.description), i.n_params


def _params(handle, n):
    out = []
    for k in range(n):
        ph = lib.pmx_method_param_at(handle, k)
        i = _ParamInfo(size=ctypes.sizeof(_ParamInfo))
        if not ph or lib.pmx_param_describe(ph, ctypes.byref(i)) != _lib.OK:
            raise RuntimeError("pmx_param_describe refused a table entry")
        enum = [lib.pmx_param_enum_at(ph, e) for e in range(i.n_enum)]
        out.append(_param(ph, i.name, i.c_name, i.type, i.item_type, i.loc, i.flags, i.count,
                          enum, i.typetext, i.default_value, i.description))
    return out


# ---- methods and the path tree --------------------------------------------------------------

class Method:
    """One PVE API method: verb, path template, parameters; builds validated requests."""

    def __init__(self, handle, verb, template, name, description, n_params):
        self.handle, self.verb, self.template, self.name = handle, verb, template, name
        self.description, self._n_params, self._params = description, n_params, None

    @property
    def params(self):
        """Parameters by wire name, path parameters first; an indexed parameter by its schema
        key "net[n]" (a method may have both "numa" and "numa[n]")."""
        if self._params is None:
            self._params = {p.name + ("[n]" if p.indexed else ""): p
                            for p in _params(self.handle, self._n_params)}
        return self._params

    def _wire_name(self, key):
        ps = self.params
        if key in ps and not ps[key].indexed:
            return key
        base = key[:-1] if key.endswith("_") else key  # a Python keyword escaped as "in_"
        for p in ps.values():  # the C name of the generated struct ("delete_"), or '-' as '_'
            if key == p.c_name or base == p.name or base == p.name.replace("-", "_"):
                return p.name
        return key  # unknown: the validation names it

    def request(self, path_values, kwargs, to_params):
        """Validate ``path_values`` (one per path parameter, in order) and ``kwargs`` against the
        schema; return (concrete path, the other parameters by wire name, the path values as
        text). Raises ValidationError naming each offending parameter."""
        path_params = [p for p in self.params.values() if p.loc == LOC_PATH]
        wire = {self._wire_name(k): v for k, v in kwargs.items() if v is not None}
        for p, v in zip(path_params, path_values):
            wire[p.name] = v
        check = to_params(wire)
        try:
            errors = {}

            def collect(name, message, ud):
                errors[text(name)] = text(message)
                return 0

            n = lib.pmx_method_validate_each(self.handle, check, VALIDATE_PATH,
                                             VALIDATE_FN(collect), None)
        finally:
            lib.pmx_params_free(check)
        if n < 0:
            raise ValidationError("validation failed: %s" % _lib.strerror(n), code=n)
        if n:
            msg = "; ".join("%s: %s" % kv for kv in errors.items())
            raise ValidationError("%s %s: %s" % (_lib.VERB_NAMES[self.verb], self.template, msg),
                                  errors=errors)
        segs = iter(_segment(v) for v in path_values)
        path = "/".join(next(segs) if s.startswith("{") else s for s in self.template.split("/"))
        for p in path_params:
            del wire[p.name]
        args = [str(int(v) if isinstance(v, bool) else v) for v in path_values]
        return path, wire, args

    def start_args(self, args):
        """The path values as the char ** of pmx_method_start(), or None when there are none."""
        return (ctypes.c_char_p * len(args))(*[a.encode() for a in args]) if args else None


def _segment(value):
    if isinstance(value, bool):
        value = int(value)
    return quote(str(value), safe="")


class Node:
    """A node of the path tree: literal children, an optional {param} child, methods."""
    __slots__ = ("template", "children", "param", "param_child", "methods")

    def __init__(self, template):
        self.template, self.children, self.param, self.param_child = template, {}, None, None
        self.methods = {}

    def child(self, attr):
        """The literal child for a Python attribute name: as written, with '_' as '-', or
        without the trailing '_' that escapes a keyword ("in_")."""
        for seg in (attr, attr.replace("_", "-"), attr[:-1] if attr.endswith("_") else None):
            if seg and seg in self.children:
                return self.children[seg]
        return None

    def names(self):
        return sorted(self.children) + (["{%s}" % self.param] if self.param else [])


_root = None


def root():
    """The root of the path tree of every method the library knows (built once)."""
    global _root
    if _root is None:
        r = Node("")
        for i in range(lib.pmx_method_count()):
            h = lib.pmx_method_at(i)
            verb, template, name, desc, n = _describe(h)
            node = r
            for seg in template.strip("/").split("/"):
                if seg.startswith("{"):
                    if node.param_child is None:
                        node.param = seg[1:-1]
                        node.param_child = Node(node.template + "/" + seg)
                    node = node.param_child
                else:
                    if seg not in node.children:
                        node.children[seg] = Node(node.template + "/" + seg)
                    node = node.children[seg]
            node.methods[verb] = Method(h, verb, template, name, desc, n)
        _root = r
    return _root


def not_found(verb, template):
    return PathError("Method '%s %s' not implemented" % (verb, template or "/"), status=0,
                     errors={})


def find(verb, path):
    """The Method for a verb (1..4) and a concrete path, or None."""
    h = lib.pmx_method_find(verb, path.encode())
    if not h:
        return None
    v, template, name, desc, n = _describe(h)
    node = root()
    for seg in template.strip("/").split("/"):
        node = node.param_child if seg.startswith("{") else node.children[seg]
    return node.methods[v]
