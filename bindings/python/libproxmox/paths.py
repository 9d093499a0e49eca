"""Attribute paths: ``pve.nodes("pve1").qemu(100).status.start.post(skiplock=True)``.

Each step is checked against the method tables at once (an unknown segment raises PathError);
the verb methods check the path values and parameters with the library's validation before
anything is sent (ValidationError naming each parameter, in the schema's words), then start the
call on the client (blocking for Client, a coroutine for aio.Client).
"""
from . import _lib, _schema
from .errors import PathError

_VERBS = {"get": _lib.GET, "post": _lib.POST, "put": _lib.PUT, "delete": _lib.DELETE,
          "create": _lib.POST, "set": _lib.PUT}


class Path:
    """A position in the PVE API path tree with the values given for its {params}."""
    __slots__ = ("_client", "_node", "_values")

    def __init__(self, client, node, values):
        self._client, self._node, self._values = client, node, values

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        child = self._node.child(name)
        if child is None:
            raise PathError("no path %s/%s in the PVE API (below %s: %s)" % (
                self._node.template, name, self._node.template or "/",
                ", ".join(self._node.names()) or "nothing"), errors={})
        return Path(self._client, child, self._values)

    def __call__(self, *values):
        """Fill the next {param} segment(s): ``nodes("pve1")``, ``qemu(100)``."""
        node = self._node
        for v in values:
            if node.param_child is None:
                raise PathError("no path %s/%s in the PVE API (below %s: %s)" % (
                    node.template, v, node.template or "/", ", ".join(node.names()) or "nothing"),
                    errors={})
            node = node.param_child
        return Path(self._client, node, self._values + tuple(values))

    def __getitem__(self, value):
        return self(value)

    def __dir__(self):
        names = [s.replace("-", "_") for s in self._node.children]
        return sorted(names + [v for v, m in _VERBS.items() if m in self._node.methods])

    def __repr__(self):
        return "<libproxmox path %s>" % self

    def __str__(self):
        """The concrete path with the values given so far, "/nodes/pve1/qemu"."""
        values = iter(self._values)
        return "/".join(_schema._segment(next(values)) if s.startswith("{") else s
                        for s in self._node.template.split("/"))

    def _start(self, verb, params):
        m = method_of(self, verb)
        path, wire, args = m.request(self._values, params, _params)
        return self._client._request(m.verb, path, wire, m, args)

    def get(self, **params):
        return self._start("get", params)

    def post(self, **params):
        return self._start("post", params)

    def put(self, **params):
        return self._start("put", params)

    def delete(self, **params):
        return self._start("delete", params)

    create = post
    set = put


# Helpers are functions, not attributes: every attribute name is free for a PVE path segment
# (there are segments named "template", "pending", "ticket" ...).

def template_of(path):
    """The path template of an attribute path, "/nodes/{node}/qemu"."""
    return path._node.template


def method_of(path, verb):
    """The schema's Method for ``verb`` ("get", "post", "put", "delete", "create", "set") at an
    attribute path: its ``template``, ``name`` ("pve_nodes_qemu_post"), ``description`` and
    ``params`` (by wire name). Raises PathError when the path has no such method."""
    m = path._node.methods.get(_VERBS[verb])
    if m is None:
        raise _schema.not_found(_lib.VERB_NAMES[_VERBS[verb]], path._node.template)
    return m


def _params(wire):
    from ._core import _params as make
    return make(wire)
