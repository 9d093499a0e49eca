/* Error texts and version information. */
#include "internal.h"

const char *pmx_strerror(int code) {
    switch (code) {
    case PMX_OK: return "success";
    case PMX_EINVAL: return "invalid argument";
    case PMX_ENOMEM: return "out of memory";
    case PMX_ETRANSPORT: return "transport error";
    case PMX_ETLS: return "TLS error";
    case PMX_EHTTP: return "HTTP error";
    case PMX_EAUTH: return "authentication failed";
    case PMX_EDECODE: return "malformed response";
    case PMX_ETIMEOUT: return "timed out";
    case PMX_ECANCELLED: return "cancelled";
    case PMX_EDESTROYED: return "client destroyed";
    case PMX_ERECURSIVE: return "called from inside a callback";
    case PMX_ETOOBIG: return "response too large";
    case PMX_EPENDING: return "still pending";
    case PMX_ETASK: return "task failed";
    case PMX_ENOTFOUND: return "not found";
    case PMX_EPERM: return "permission denied";
    case PMX_EBUSY: return "calls are pending";
    case PMX_EFORKED: return "client used in a child process after fork()";
    default: return "unknown error";
    }
}

uint32_t pmx_version(const char **str) {
    if (str)
        *str = PMX_VERSION_STRING;
    return PMX_VERSION_NUM;
}

const char *pmx_schema_version(void) { return PMX_GEN_PVE_VERSION; /* schema/pin.json */ }
