/* libproxmox: the compact tables of the generated bindings (lib/gen/tables.c, lib/gen/docs.c).
 * Internal.
 *
 * Strings live in one pool (pmx__gen_pool) and are addressed by uint32_t offsets, 0 meaning
 * none; descriptions live in a separate pool (pmx__gen_docs) that only introspection reads.
 * Records refer to each other by index, so the tables need no relocations. Parameter
 * definitions and enum value lists are shared between methods. The public descriptor handles
 * (pmx_method_desc, pmx_param_desc, ...) are pointers to these records; <proxmox/method.h>
 * reads them through functions only.
 */
#ifndef PMX_TABLES_H
#define PMX_TABLES_H

#include "internal.h"

/* Numeric bounds and string lengths, shared (most parameters and keys have none). */
typedef struct pmx__bounds {
    double minimum, maximum;
    int32_t min_length, max_length;
} pmx__bounds;

/* A distinct parameter definition, shared by every method with an identical parameter. */
typedef struct pmx__pdef {
    uint32_t name, c_name, pattern, posix, format, typetext, dflt; /* pool */
    uint32_t desc;                                                 /* docs pool */
    uint16_t bounds;             /* pmx__gen_bounds index + 1, 0: none */
    uint16_t enum_first, n_enum; /* pmx__gen_enums[enum_first ..] */
    uint16_t propstr;            /* format index + 1, 0: none */
    uint16_t count;              /* indexed: number of slots */
    uint16_t flags;              /* PMX_PARAM_* */
    uint8_t type, item_type;     /* pmx_param_type */
} pmx__pdef;

/* A parameter of one method (pmx_param_desc handles point here). */
struct pmx_param_desc {
    uint16_t def;          /* pmx__gen_pdefs index */
    uint16_t method;       /* owning method index */
    uint16_t offset;       /* path: position in the path; else offsetof in the _params struct */
    uint16_t count_offset; /* arrays: offsetof of the size_t count */
};

/* A method (pmx_method_desc handles point here). */
struct pmx_method_desc {
    uint32_t path, name; /* pool */
    uint32_t desc;       /* docs pool */
    uint16_t first_param, n_params; /* pmx__gen_params[first_param ..], path parameters first */
    uint16_t params_size;           /* sizeof the _params struct */
    uint16_t result;                /* pmx__gen_types index + 1, 0: none */
    uint8_t verb, n_path, flags, pad;
};

/* A result type: a struct, or the element type of a scalar array (name 0). */
struct pmx_type_desc {
    uint32_t name;
    uint32_t struct_size;
    uint16_t first_field, n_fields; /* pmx__gen_fields[first_field ..], sorted by JSON name */
    uint8_t kind, flags;            /* pmx_kind, PMX_TYPE_* */
    /* Member lookup: pmx__gen_slots[first_slot .. + 2^slot_bits), each the member's position
     * + 1 (0: empty), at pmx__name_hash(name, len, indexed, seed) and on with linear probing;
     * the generator picks the seed so that nearly every type needs no probing at all. */
    uint16_t first_slot;
    uint8_t slot_bits, seed;
};

/* A member of a result struct. */
struct pmx_field_desc {
    uint32_t name, c_name; /* pool */
    uint32_t desc;         /* docs pool */
    uint16_t offset, count_offset;
    uint16_t type;    /* pmx__gen_types index + 1 */
    uint16_t propstr; /* format index + 1 */
    uint16_t count;   /* indexed: slots */
    uint8_t kind, flags; /* pmx_kind, PMX_FIELD_* */
};

/* A property-string format. */
struct pmx_propstr_desc {
    uint32_t name, default_key;
    uint32_t struct_size;
    uint16_t first_key, n_keys; /* pmx__gen_keys[first_key ..], sorted by name */
};

/* A key of a property-string format. */
struct pmx_propkey_desc {
    uint32_t name, c_name, pattern, posix, format, alias, key_alias, requires, dflt, fmt_desc;
    uint32_t desc;   /* docs pool */
    uint16_t bounds; /* pmx__gen_bounds index + 1, 0: none */
    uint16_t enum_first, n_enum;
    uint16_t offset;
    uint8_t type, flags;
};

extern const char pmx__gen_pool[];
extern const char pmx__gen_docs[];
extern const uint32_t pmx__gen_enums[];
extern const pmx__bounds pmx__gen_bounds[];
extern const pmx__pdef pmx__gen_pdefs[];
extern const struct pmx_param_desc pmx__gen_params[];
extern const struct pmx_method_desc pmx__gen_methods[];
extern const size_t pmx__gen_n_methods;
extern const uint16_t pmx__gen_by_name[]; /* method indexes sorted by function name */
extern const struct pmx_type_desc pmx__gen_types[];
extern const struct pmx_field_desc pmx__gen_fields[];
extern const uint8_t pmx__gen_slots[]; /* member lookup tables (pmx_type_desc.first_slot) */
extern const struct pmx_propstr_desc pmx__gen_propstrs[];
extern const size_t pmx__gen_n_propstrs;
extern const struct pmx_propkey_desc pmx__gen_keys[];
/* Wire names of secret parameters, sorted (strcmp), for generic calls. */
extern const uint32_t pmx__gen_secret_names[];
extern const size_t pmx__gen_n_secret_names;
/* Methods whose results hold secrets (indexes), for generic calls. */
extern const uint16_t pmx__gen_secret_results[];
extern const size_t pmx__gen_n_secret_results;

/* A pool string, NULL for offset 0. */
static inline const char *pmx__str(uint32_t off) { return off ? pmx__gen_pool + off : NULL; }
static inline const char *pmx__doc(uint32_t off) { return off ? pmx__gen_docs + off : NULL; }
static inline const pmx__pdef *pmx__param_def(const pmx_param_desc *p) {
    return &pmx__gen_pdefs[p->def];
}
static inline size_t pmx__method_index(const pmx_method_desc *d) {
    return (size_t)(d - pmx__gen_methods);
}
static inline const pmx_type_desc *pmx__type(uint16_t idx1) {
    return idx1 ? &pmx__gen_types[idx1 - 1] : NULL;
}
/* Bytes of one element of an array of kind k (results): int64_t, int, double or a pointer. */
static inline size_t pmx__elem_size(uint32_t k) {
    return k == PMX_KIND_I64 ? sizeof(int64_t)
           : k == PMX_KIND_BOOL ? sizeof(int)
           : k == PMX_KIND_F64 ? sizeof(double)
                               : sizeof(void *);
}

/* Bounds by index + 1 (none: all zero). */
static inline const pmx__bounds *pmx__bounds_of(uint16_t idx1) {
    static const pmx__bounds none;
    return idx1 ? &pmx__gen_bounds[idx1 - 1] : &none;
}

static inline const pmx_propstr_desc *pmx__propstr(uint16_t idx1) {
    return idx1 ? &pmx__gen_propstrs[idx1 - 1] : NULL;
}

/* lib/desc.c: the parameter named @p name ("net3": *slot = 3) of @p d, or NULL. */
const pmx_param_desc *pmx__param_lookup(const pmx_method_desc *d, const char *name, long *slot);
/* lib/desc.c: whether concrete @p path matches the template of @p d. */
int pmx__path_matches(const pmx_method_desc *d, const char *path);
/* Where parameter @p p travels (pmx_param_loc). */
uint32_t pmx__param_loc(const pmx_param_desc *p);

#endif
