/* libproxmox: value checks shared by parameters and property-string keys (lib/value.c).
 * Internal. */
#ifndef PMX_VALUE_H
#define PMX_VALUE_H

#include "tables.h"

#include <locale.h>

enum {
    PMX__HAS_MIN = 1u << 0,
    PMX__HAS_MAX = 1u << 1,
    PMX__HAS_MIN_LENGTH = 1u << 2,
    PMX__HAS_MAX_LENGTH = 1u << 3,
    PMX__DISK_SIZE = 1u << 4 /* \d+(\.\d+)?[KMGT]? */
};

/* The constraints of one textual value: a parameter or a property-string key. */
typedef struct pmx__constraints {
    uint32_t type;  /* pmx_param_type of the value (of each element) */
    uint32_t flags; /* PMX__* */
    double minimum, maximum;
    int64_t min_length, max_length;
    const uint32_t *enums; /* pool offsets */
    size_t n_enum;
    const char *posix;  /* anchored ERE, or NULL */
    const char *format; /* registered format, or NULL */
    const pmx_propstr_desc *propstr; /* typed property string, or NULL */
} pmx__constraints;

void pmx__constraints_of_param(const pmx_param_desc *p, pmx__constraints *k);
void pmx__constraints_of_key(const pmx_propkey_desc *p, pmx__constraints *k);
/* NULL when valid, else PVE's message written into buf. */
const char *pmx__check_value(const pmx__constraints *k, const char *value, char *buf,
                             size_t bufsize);

/* Strict number parsing (no locale words, no hex, no inf/nan); 0 when *v was set. */
int pmx__parse_i64(const char *s, int64_t *v);
int pmx__parse_f64(const char *s, double *v);
/* The shortest text of finite x that reads back as x, in the C locale ("0.5" in any program
 * locale); buf of at least 32 bytes. -1: not finite, or no C locale (out of memory). */
int pmx__f64_text(double x, char *buf, size_t n);
/* The C locale for strtod_l, made once (NULL when out of memory). */
locale_t pmx__c_locale(void);

/* A caller-allocated struct starting with uint32_t struct_size, of which this library knows
 * `known` bytes: *used gets how many bytes to read. -1: struct_size not set; -2: members this
 * library does not know are set. */
int pmx__struct_size_check(const void *v, size_t known, size_t *used);

#endif
