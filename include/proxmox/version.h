/* libproxmox: version numbers. The Makefile reads the three PMX_VERSION_* lines. */
#ifndef PROXMOX_VERSION_H
#define PROXMOX_VERSION_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

/** Major version of these headers: the SONAME is libproxmox.so.MAJOR. */
#define PMX_VERSION_MAJOR 1
/** Minor version: new functions, nothing removed. */
#define PMX_VERSION_MINOR 0
/** Patch version: fixes only. */
#define PMX_VERSION_PATCH 0
/** The version as one number, 0xMMmmpp, to compare with pmx_version(). */
#define PMX_VERSION_NUM ((PMX_VERSION_MAJOR << 16) | (PMX_VERSION_MINOR << 8) | PMX_VERSION_PATCH)
/** The version as text, "MAJOR.MINOR.PATCH". */
#define PMX_VERSION_STRING "1.0.0"
/** True when the headers are at least version x.y.z. */
#define PMX_VERSION_AT_LEAST(x, y, z) (PMX_VERSION_NUM >= (((x) << 16) | ((y) << 8) | (z)))

PMX_BEGIN_DECLS

/**
 * The library's run-time version as PMX_VERSION_NUM (0xMMmmpp); @p str, if not NULL, receives
 * static text such as "1.0.0". May be called from anywhere. Since: 1.0
 */
PMX_API uint32_t pmx_version(const char **str);

/** The PVE version the typed bindings were generated from (static text, e.g. "9.0"). Since: 1.0 */
PMX_API const char *pmx_schema_version(void);

PMX_END_DECLS
#endif
