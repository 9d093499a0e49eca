"""The C ABI of libproxmox as ctypes declarations: loading, prototypes, constants.

Everything here mirrors <proxmox/*.h>; nothing else in the package calls ctypes.CDLL.
"""
import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int, c_int64, c_size_t,
                    c_uint32, c_void_p)

SONAME = "libproxmox.so.1"


def _load():
    path = os.environ.get("LIBPROXMOX_LIBRARY") or SONAME
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        where = ("LIBPROXMOX_LIBRARY=%s" % path if os.environ.get("LIBPROXMOX_LIBRARY")
                 else "the system loader (ldconfig, LD_LIBRARY_PATH)")
        raise ImportError("libproxmox: cannot load %s through %s: %s" % (SONAME, where, e)) from e


lib = _load()

# ---- constants (error.h, common.h, call.h, loop.h, client.h) --------------------------------
OK = 0
EINVAL, ENOMEM, ETRANSPORT, ETLS, EHTTP, EAUTH, EDECODE, ETIMEOUT = -1, -2, -3, -4, -5, -6, -7, -8
ECANCELLED, EDESTROYED, ERECURSIVE, ETOOBIG, EPENDING, ETASK = -9, -10, -11, -12, -13, -14
ENOTFOUND, EPERM, EBUSY, EFORKED = -15, -16, -17, -18

GET, POST, PUT, DELETE = 1, 2, 3, 4
VERB_NAMES = {GET: "GET", POST: "POST", PUT: "PUT", DELETE: "DELETE"}

CALL_JSON_BODY = 1

POLL_IN, POLL_OUT, POLL_REMOVE, POLL_ERR = 1, 2, 4, 8

LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 1, 2, 3, 4

# ---- callback types ------------------------------------------------------------------------
# Pointers to library objects travel as plain integers (c_void_p): cheaper than typed pointers.
FREE_FN = CFUNCTYPE(None, c_void_p)
DONE_FN = CFUNCTYPE(None, c_void_p, c_int, c_void_p)
SOCKET_FN = CFUNCTYPE(None, c_void_p, c_int, c_int, c_void_p)
TIMER_FN = CFUNCTYPE(None, c_void_p, c_int64, c_void_p)
LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_void_p)
TFA_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p, c_size_t, c_void_p)
TASK_FN = CFUNCTYPE(None, c_void_p, c_int, c_void_p)
TASK_LINE_FN = CFUNCTYPE(None, c_void_p, c_int64, c_char_p, c_void_p)


class CallOpts(Structure):
    """pmx_call_opts (call.h)."""
    _fields_ = [("size", c_uint32), ("flags", c_uint32), ("timeout_ms", c_int64),
                ("userdata_free", FREE_FN)]


class TaskOpts(Structure):
    """pmx_task_opts (task.h)."""
    _fields_ = [("size", c_uint32), ("flags", c_uint32), ("first_interval_ms", c_int64),
                ("max_interval_ms", c_int64), ("factor", c_double), ("timeout_ms", c_int64),
                ("log_lines", ctypes.c_int32),
                ("max_retries", ctypes.c_int32), ("page_lines", ctypes.c_int32),
                ("reserved", ctypes.c_int32), ("userdata_free", FREE_FN)]


P = c_void_p  # any opaque library pointer
PP = POINTER(c_void_p)
SZ = POINTER(c_size_t)

_PROTOTYPES = {
    # common.h / error.h / version.h
    "pmx_free": (None, [P]),
    "pmx_secret_free": (None, [P]),
    "pmx_strerror": (c_char_p, [c_int]),
    "pmx_version": (c_uint32, [POINTER(c_char_p)]),
    "pmx_schema_version": (c_char_p, []),
    # client.h
    "pmx_client_new": (c_int, [PP, c_char_p]),
    "pmx_client_free": (None, [P]),
    "pmx_client_set_token": (c_int, [P, c_char_p]),
    "pmx_client_set_password": (c_int, [P, c_char_p, c_char_p]),
    "pmx_client_set_ticket": (c_int, [P, c_char_p, c_char_p]),
    "pmx_client_get_ticket": (c_int, [P, PP, PP]),
    "pmx_client_set_tfa_cb": (c_int, [P, TFA_FN, P, FREE_FN]),
    "pmx_client_set_tfa_response": (c_int, [P, c_char_p]),
    "pmx_client_set_fingerprint": (c_int, [P, c_char_p]),
    "pmx_client_set_ca_file": (c_int, [P, c_char_p]),
    "pmx_client_set_insecure": (c_int, [P, c_int]),
    "pmx_client_set_timeouts": (c_int, [P, c_int64, c_int64]),
    "pmx_client_set_max_connections": (c_int, [P, c_int]),
    "pmx_client_set_log_cb": (c_int, [P, c_int, LOG_FN, P, FREE_FN]),
    "pmx_client_url": (c_char_p, [P]),
    "pmx_client_pending": (c_size_t, [P]),
    # call.h
    "pmx_params_new": (P, []),
    "pmx_params_free": (None, [P]),
    "pmx_params_set_str": (c_int, [P, c_char_p, c_char_p]),
    "pmx_params_set_int": (c_int, [P, c_char_p, c_int64]),
    "pmx_params_set_bool": (c_int, [P, c_char_p, c_int]),
    "pmx_params_set_double": (c_int, [P, c_char_p, c_double]),
    "pmx_params_add_str": (c_int, [P, c_char_p, c_char_p]),
    "pmx_call_start_ex": (c_int, [P, c_int, c_char_p, P, POINTER(CallOpts), DONE_FN, P, PP]),
    "pmx_call_wait": (c_int, [P]),
    "pmx_call_cancel": (c_int, [P]),
    "pmx_call_ref": (None, [P]),
    "pmx_call_unref": (None, [P]),
    "pmx_call_result": (c_int, [P]),
    "pmx_call_http_status": (c_int, [P]),
    "pmx_call_data": (P, [P, SZ]),
    "pmx_call_error": (c_char_p, [P]),
    "pmx_call_param_error": (c_int, [P, c_size_t, POINTER(c_char_p), POINTER(c_char_p)]),
    # loop.h
    "pmx_client_run": (c_int, [P, c_int64]),
    "pmx_client_set_socket_cb": (c_int, [P, SOCKET_FN, P, FREE_FN]),
    "pmx_client_set_timer_cb": (c_int, [P, TIMER_FN, P, FREE_FN]),
    "pmx_client_socket_action": (c_int, [P, c_int, c_int]),
    "pmx_client_timeout_action": (c_int, [P]),
    # task.h
    "pmx_task_wait": (c_int, [P, c_char_p, POINTER(TaskOpts), TASK_FN, P, PP]),
    "pmx_task_follow": (c_int, [P, c_char_p, POINTER(TaskOpts), TASK_LINE_FN, TASK_FN, P, PP]),
    "pmx_task_wait_sync": (c_int, [P]),
    "pmx_task_cancel": (c_int, [P]),
    "pmx_task_result": (c_int, [P]),
    "pmx_task_unref": (None, [P]),
    "pmx_task_upid": (c_char_p, [P]),
    "pmx_task_exitstatus": (c_char_p, [P]),
    "pmx_task_warnings": (c_int64, [P]),
    "pmx_task_error": (c_char_p, [P]),
    "pmx_task_http_status": (c_int, [P]),
    "pmx_task_log_count": (c_size_t, [P]),
    "pmx_task_log_line": (c_char_p, [P, c_size_t, POINTER(c_int64)]),
    # method.h (used only by _schema.py)
    "pmx_method_count": (c_size_t, []),
    "pmx_method_at": (P, [c_size_t]),
    "pmx_method_find": (P, [c_int, c_char_p]),
    "pmx_method_start": (c_int, [P, P, POINTER(c_char_p), P, POINTER(CallOpts), DONE_FN, P, PP]),
    "pmx_method_param": (P, [P, c_char_p]),
    "pmx_param_check": (c_char_p, [P, c_char_p, c_char_p, c_size_t]),
}


def _declare():
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


_declare()


def has(name):
    """True when the loaded library exports @name (for functions newer than 1.0.0)."""
    return hasattr(lib, name)


def text(b):
    """A C string (bytes or None) as str, undecodable bytes replaced."""
    return None if b is None else b.decode("utf-8", "replace")


def strerror(code):
    return text(lib.pmx_strerror(code))


# NULL function pointers, for "no callback"
NULL_DONE = ctypes.cast(None, DONE_FN)
NULL_TASK = ctypes.cast(None, TASK_FN)
