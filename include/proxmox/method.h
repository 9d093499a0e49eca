/* libproxmox: method tables of the generated PVE bindings, introspection and validation. */
#ifndef PROXMOX_METHOD_H
#define PROXMOX_METHOD_H

#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif

PMX_BEGIN_DECLS

/*
 * Generated bindings (<proxmox/gen/...h>, one header per top-level path), per PVE method:
 *
 *   int pve_<name>(pmx_client *c, <path params>, const pve_<name>_params *p,
 *                  pmx_done_fn done, void *userdata, pmx_call **out);
 *
 * - <name>: the path without inner {param} segments (trailing ones keep their names), '/' and
 *   '-' as '_', then the lowercase verb: GET /nodes/{node}/qemu/{vmid} -> pve_nodes_qemu_vmid_get.
 * - Path parameters are arguments in path order (integers int64_t, strings const char *, copied
 *   and percent-escaped by the library). A string path parameter must be one non-empty path
 *   segment: "", "." and ".." fail the call with PMX_EINVAL naming the parameter.
 * - pve_<name>_params holds the other parameters; p == NULL means none, else p is borrowed for
 *   the call and copied before return. Initialise it with PMX_PARAMS_INIT():
 *       pve_nodes_qemu_post_params p = PMX_PARAMS_INIT(pve_nodes_qemu_post_params);
 *   Its first member, struct_size, tells the library how much of the struct the caller knows:
 *   members past it are treated as unset, so a program built against older headers keeps
 *   working; a struct_size of 0, or a larger struct whose unknown members are set, fails the
 *   call with PMX_EINVAL. Strings are `const char *` (NULL = not sent); optional integers /
 *   booleans / numbers are pmx_opt_i64 / pmx_opt_bool / pmx_opt_f64 (set = 1 to send, so 0 and
 *   false can be sent), required ones int64_t / int / double. Booleans travel as 0/1.
 * - Indexed parameters ("net[n]") are fixed arrays `const char *net[32]`, slot i sent as
 *   "net<i>"; N comes from PVE's limits (schema/overrides.json "indexed").
 * - `type=array` parameters are `const char *const *x; size_t n_x;`, sent as repeated keys.
 *   "-list" formats (delete=pve-configid-list) stay plain strings.
 * - C names: every character outside [A-Za-z0-9_] becomes '_', C/C++ keywords get a trailing
 *   '_' (delete -> delete_, default -> default_); other renames are in schema/overrides.json
 *   ("field_names"); the wire name is in the member's doc comment and pmx_param_info.name.
 * - Struct layouts are stable: members are never reordered, retyped or removed, new members are
 *   appended (schema/layout.txt records every generated struct; a member the schema drops stays
 *   and is ignored / never set).
 * - Where the schema declares a result, pve_<name>_result is the decoded "data", reached with
 *   the inline accessor pve_<name>_result_of(call) (NULL until the call succeeded). Objects are
 *   structs with every declared property: strings char *, integers int64_t / pmx_opt_i64 when
 *   optional, booleans int / pmx_opt_bool, numbers double / pmx_opt_f64, nested objects struct
 *   pointers, arrays `T **x; size_t n_x` (objects, strings) or `int64_t *x; size_t n_x` (scalars);
 *   anything the schema leaves open is `char *` holding the raw JSON text. Array results are
 *   `{ T **items; size_t n; }`, scalar results `{ T value; }`. Numbers and booleans are accepted
 *   as JSON numbers or strings, booleans also as true/false; missing fields stay unset (NULL,
 *   set = 0, or 0 for required scalars); unknown members are ignored; a value of the wrong type
 *   fails the call with PMX_EDECODE and a message naming the field ("[1].cpu: expected a
 *   number, got ..."). The result belongs to the call (pmx_call_unref frees it).
 * - Secrets (passwords, tickets, token values: PMX_PARAM_SECRET, PMX_FIELD_SECRET) never reach
 *   the log; a call of a method with secrets (PMX_METHOD_SECRET) wipes its request body, its
 *   response body and its decoded result when freed.
 * - Invalid parameters (required, type, enum, bounds, lengths, patterns, common formats, and
 *   the keys of typed property strings) do not reach the server: the call completes
 *   asynchronously with PMX_EINVAL, and pmx_call_error() names each parameter ("vmid: value
 *   must have a minimum value of 100"; "net0: firewall: type check ('boolean') failed ...").
 * - Return value: like pmx_call_start(). done runs exactly once from the event loop, never
 *   inside the function; the functions may be called from callbacks; out (may be NULL) receives
 *   a reference the caller drops with pmx_call_unref().
 *
 * Every method is described by a descriptor: pmx_method_start() runs any method from its
 * descriptor with generic parameters (for language bindings), and the descriptors can be
 * enumerated, looked up and used to validate parameters (a CLI, a mock server).
 *
 * ABI: descriptors (pmx_method_desc, pmx_param_desc, pmx_type_desc, pmx_field_desc,
 * pmx_propstr_desc, pmx_propkey_desc) are opaque handles to static library data: never freed,
 * valid for the life of the process, thread-safe. Their attributes are read with the
 * pmx_*_describe() functions, which fill a caller-allocated info struct whose first member
 * `size` the caller sets (PMX_OPTS_INIT): members past it are not written, so programs built
 * against older headers keep working, and new members are only ever appended. Info strings
 * point into static library data. Enum values and flag bits are fixed.
 */

typedef struct pmx_method_desc pmx_method_desc;   /* one API method (opaque) */
typedef struct pmx_param_desc pmx_param_desc;     /* one parameter of a method (opaque) */
typedef struct pmx_type_desc pmx_type_desc;       /* a result type (opaque) */
typedef struct pmx_field_desc pmx_field_desc;     /* one member of a result type (opaque) */
typedef struct pmx_propstr_desc pmx_propstr_desc; /* a property-string format (opaque) */
typedef struct pmx_propkey_desc pmx_propkey_desc; /* one key of such a format (opaque) */

/** Parameter value types (pmx_param_info.type and .item_type). */
typedef enum {
    PMX_PARAM_STRING = 1,
    PMX_PARAM_INTEGER = 2,
    PMX_PARAM_BOOLEAN = 3,
    PMX_PARAM_NUMBER = 4,
    PMX_PARAM_ARRAY = 5 /* repeated key; the element type is in item_type */
} pmx_param_type;

/** Where a parameter travels. */
typedef enum {
    PMX_LOC_PATH = 1,  /* a {segment} of the path template */
    PMX_LOC_QUERY = 2, /* GET / DELETE */
    PMX_LOC_BODY = 3   /* POST / PUT */
} pmx_param_loc;

/** pmx_param_info.flags */
enum {
    PMX_PARAM_REQUIRED = 1u << 0,
    PMX_PARAM_HAS_MIN = 1u << 1,        /* minimum is set */
    PMX_PARAM_HAS_MAX = 1u << 2,        /* maximum is set */
    PMX_PARAM_HAS_MIN_LENGTH = 1u << 3, /* min_length is set */
    PMX_PARAM_HAS_MAX_LENGTH = 1u << 4, /* max_length is set */
    PMX_PARAM_PROPERTY_STRING = 1u << 5, /* "k=v,..." property string (format is an object) */
    PMX_PARAM_INDEXED = 1u << 6,        /* "net[n]": wire names name0 .. name<count-1> */
    PMX_PARAM_SECRET = 1u << 7          /* a password, ticket or token: never logged, wiped */
};

/** What a binding needs to know about one parameter (pmx_param_describe()). */
typedef struct pmx_param_info {
    uint32_t size;          /* set by the caller: sizeof(pmx_param_info) (PMX_OPTS_INIT) */
    uint32_t type;          /* pmx_param_type */
    uint32_t item_type;     /* PMX_PARAM_ARRAY: type of each element, else == type */
    uint32_t loc;           /* pmx_param_loc */
    uint32_t flags;         /* PMX_PARAM_* bits */
    uint32_t count;         /* PMX_PARAM_INDEXED: number of slots, else 0 */
    uint32_t n_enum;        /* allowed values: pmx_param_enum_at(p, 0 .. n_enum-1); 0: any */
    uint32_t position;      /* PMX_LOC_PATH: index among the path parameters, else 0 */
    const char *name;       /* wire name ("net" for "net[n]") */
    const char *c_name;     /* member of the generated _params struct / C argument name */
    double minimum, maximum;          /* with PMX_PARAM_HAS_MIN / HAS_MAX */
    int64_t min_length, max_length;   /* with PMX_PARAM_HAS_MIN_LENGTH / HAS_MAX_LENGTH */
    const char *pattern;       /* the schema's Perl regex (matched whole), or NULL */
    const char *posix_pattern; /* its anchored POSIX ERE translation, or NULL if none exists */
    const char *format;        /* registered format name ("pve-node"), or NULL */
    const char *typetext;      /* the schema's typetext, or NULL */
    const char *default_value; /* the schema's default as text, or NULL */
    const char *description;   /* the schema's description, or NULL */
    /* PMX_PARAM_PROPERTY_STRING: the typed format of the value (of each slot / element), or
     * NULL if untyped. */
    const pmx_propstr_desc *propstr;
} pmx_param_info;

/** Kinds of result values (pmx_type_info.kind, pmx_field_info.kind). */
typedef enum {
    PMX_KIND_STRING = 1,   /* char *, NULL when absent */
    PMX_KIND_I64 = 2,      /* int64_t */
    PMX_KIND_OPT_I64 = 3,  /* pmx_opt_i64 */
    PMX_KIND_BOOL = 4,     /* int 0/1 */
    PMX_KIND_OPT_BOOL = 5, /* pmx_opt_bool */
    PMX_KIND_F64 = 6,      /* double */
    PMX_KIND_OPT_F64 = 7,  /* pmx_opt_f64 */
    PMX_KIND_RAW = 8,      /* char *: the JSON text of a value the schema leaves open */
    PMX_KIND_OBJECT = 9,   /* T *: a struct described by its fields */
    PMX_KIND_ARRAY = 10    /* elements + size_t count (see pmx_field_info.count_offset) */
} pmx_kind;

/** pmx_field_info.flags */
enum {
    PMX_FIELD_SECRET = 1u << 0 /* holds a secret (ticket, token value): wiped when freed */
};

/** One member of a result struct (pmx_field_describe()). */
typedef struct pmx_field_info {
    uint32_t size;        /* set by the caller: sizeof(pmx_field_info) */
    uint32_t kind;        /* pmx_kind */
    uint32_t flags;       /* PMX_FIELD_* */
    /* Indexed members ("net[n]" in the schema): the member is `char *x[count]` and JSON members
     * name0 .. name<count-1> fill its slots (name is then the base, "net"); 0 otherwise. */
    uint32_t count;
    const char *name;     /* JSON member name */
    const char *c_name;   /* C member name */
    const char *description; /* the schema's description, or NULL */
    /* PMX_KIND_OBJECT: the struct; PMX_KIND_ARRAY: the element type, whose elements are
     * stored as T ** (objects), char ** (strings, raw), int64_t *, int * or double *. */
    const pmx_type_desc *type;
    /* String members holding a property string (a config's "net0"): its typed format. */
    const pmx_propstr_desc *propstr;
    size_t offset;        /* offsetof the member in its struct */
    size_t count_offset;  /* PMX_KIND_ARRAY: offsetof the size_t count */
} pmx_field_info;

/** pmx_type_info.flags */
enum {
    /* The JSON value is not an object but decodes into field 0 of the result struct (array
     * results: `items` + `n`; scalar results: `value`). */
    PMX_TYPE_WRAPPED = 1u << 0
};

/** A result type: a struct, or an array element type (pmx_type_describe()). */
typedef struct pmx_type_info {
    uint32_t size;        /* set by the caller: sizeof(pmx_type_info) */
    uint32_t kind;        /* pmx_kind */
    uint32_t flags;       /* PMX_TYPE_* */
    uint32_t n_fields;    /* PMX_KIND_OBJECT: pmx_type_field_at(t, 0 .. n_fields-1), by name */
    const char *name;     /* C type name, e.g. "pve_version_get_result" (NULL for scalars) */
    size_t struct_size;   /* PMX_KIND_OBJECT: sizeof the struct */
} pmx_type_info;

/** pmx_method_info.flags */
enum {
    PMX_METHOD_PROTECTED = 1u << 0,  /* runs in the privileged daemon (proxied) */
    PMX_METHOD_ALLOWTOKEN = 1u << 1, /* API tokens may call it */
    PMX_METHOD_UNSTABLE = 1u << 2,   /* marked unstable in the schema */
    PMX_METHOD_SECRET = 1u << 3      /* secret parameters or result fields: bodies are wiped */
};

/** One PVE API method (pmx_method_describe()). */
typedef struct pmx_method_info {
    uint32_t size;            /* set by the caller: sizeof(pmx_method_info) */
    uint32_t method;          /* pmx_method */
    uint32_t flags;           /* PMX_METHOD_* */
    uint32_t n_params;        /* pmx_method_param_at(d, 0 .. n_params-1), path parameters first */
    uint32_t n_path_params;   /* how many of them are path parameters (the first ones) */
    uint32_t index;           /* position: pmx_method_at(index) == d */
    const char *path;         /* template, "/nodes/{node}/qemu/{vmid}" */
    const char *name;         /* function name, "pve_nodes_qemu_vmid_get" */
    const char *description;  /* NULL when none */
    const pmx_type_desc *result; /* NULL when the schema declares no result */
    size_t params_size;       /* sizeof the generated <name>_params struct */
} pmx_method_info;

/** Number of methods in the table (646 for the PVE 9 schema). Since: 1.0 */
PMX_API size_t pmx_method_count(void);

/**
 * Method @p i (0 .. pmx_method_count()-1), ordered by path template then verb; NULL past the
 * end. Static data: never freed. Thread-safe. Since: 1.0
 */
PMX_API const pmx_method_desc *pmx_method_at(size_t i);

/**
 * Look a method up by its generated function name ("pve_nodes_qemu_vmid_get"); NULL when
 * unknown. Binary search. Thread-safe. Since: 1.0
 */
PMX_API const pmx_method_desc *pmx_method_by_name(const char *fn_name);

/**
 * Find the method for verb @p m and @p path: either a template ("/nodes/{node}/qemu/{vmid}")
 * or a concrete path relative to /api2/json ("/nodes/pve1/qemu/100"; a trailing '/' and a
 * query string are ignored). Literal segments win over {param} segments. NULL when no method
 * matches. Thread-safe. Since: 1.0
 */
PMX_API const pmx_method_desc *pmx_method_find(pmx_method m, const char *path);

/**
 * Fill @p out (whose size the caller set) with the attributes of method @p d. Strings point to
 * static data. @return PMX_OK, or PMX_EINVAL (NULL argument, out->size < 4). Thread-safe.
 * Since: 1.0
 */
PMX_API int pmx_method_describe(const pmx_method_desc *d, pmx_method_info *out);

/** The verb of @p d (0 for NULL). Thread-safe. Since: 1.0 */
PMX_API pmx_method pmx_method_verb(const pmx_method_desc *d);
/** The path template of @p d ("/nodes/{node}/qemu"; NULL for NULL). Thread-safe. Since: 1.0 */
PMX_API const char *pmx_method_path(const pmx_method_desc *d);
/** The function name of @p d ("pve_nodes_qemu_get"; NULL for NULL). Thread-safe. Since: 1.0 */
PMX_API const char *pmx_method_name(const pmx_method_desc *d);

/**
 * Parameter @p i of @p d (0 .. n_params-1: path parameters first, in path order, then by
 * name); NULL past the end. Thread-safe. Since: 1.0
 */
PMX_API const pmx_param_desc *pmx_method_param_at(const pmx_method_desc *d, size_t i);

/** Find the parameter @p name ("vmid", or an indexed wire name such as "net3") of @p d. */
PMX_API const pmx_param_desc *pmx_method_param(const pmx_method_desc *d, const char *name);

/** Fill @p out with the attributes of parameter @p p; like pmx_method_describe(). Since: 1.0 */
PMX_API int pmx_param_describe(const pmx_param_desc *p, pmx_param_info *out);

/** Allowed value @p i of parameter @p p (static), NULL past the end. Since: 1.0 */
PMX_API const char *pmx_param_enum_at(const pmx_param_desc *p, size_t i);

/** Fill @p out with the attributes of result type @p t. Since: 1.0 */
PMX_API int pmx_type_describe(const pmx_type_desc *t, pmx_type_info *out);

/** Field @p i of struct type @p t (sorted by JSON name); NULL past the end. Since: 1.0 */
PMX_API const pmx_field_desc *pmx_type_field_at(const pmx_type_desc *t, size_t i);

/** Fill @p out with the attributes of result field @p f. Since: 1.0 */
PMX_API int pmx_field_describe(const pmx_field_desc *f, pmx_field_info *out);

/**
 * For a concrete @p path matched by pmx_method_find(), copy the value of path parameter
 * @p i (0 .. n_path_params-1), percent-decoded, into a new string (*out; caller frees with
 * pmx_free()). @return PMX_OK, PMX_EINVAL (path does not match the template), PMX_ENOMEM.
 * Since: 1.0
 */
PMX_API int pmx_method_path_param(const pmx_method_desc *d, const char *path, size_t i,
                                  char **out);

/**
 * Start any method by its descriptor: the one entry point for language bindings. The path is
 * built from @p path_args (one string per path parameter, in path order; integers as decimal
 * text), each checked and percent-escaped ("", "." and ".." are refused); @p params (may be
 * NULL) are checked against the method like pmx_method_validate() and sent; a declared result
 * is decoded into the typed struct (pmx_call_typed()) as by the pve_* functions, which are thin
 * wrappers of the same code. @p opts (may be NULL) are the per-call options of
 * pmx_call_start_ex(). Invalid arguments complete the call asynchronously with PMX_EINVAL and
 * a message naming each parameter (pmx_call_error(), pmx_call_param_error()).
 * @param path_args  d's n_path_params strings, borrowed for the call (NULL when none).
 * @param params     borrowed for the call, copied.
 * @return like pmx_call_start(); PMX_EINVAL at once for a NULL client or descriptor.
 * May be called from a callback. Since: 1.0
 */
PMX_API int pmx_method_start(pmx_client *c, const pmx_method_desc *d,
                             const char *const *path_args, const pmx_params *params,
                             const pmx_call_opts *opts, pmx_done_fn done, void *userdata,
                             pmx_call **out);

/** pmx_method_validate flags */
enum {
    /* params also carry the path parameters (by wire name); check them and require them */
    PMX_VALIDATE_PATH = 1u << 0,
    /* the parameters go as a JSON body (PMX_CALL_JSON_BODY on a POST or PUT), where "" is a
     * value. Without it an empty value counts as absent, as PVE reads "key=" in a form or a
     * query: a required parameter given "" is missing. Since: 1.0 */
    PMX_VALIDATE_JSON_BODY = 1u << 1
};

/**
 * Called once per invalid parameter: @p name is the wire name, @p message PVE's wording
 * ("value must have a minimum value of 100"). Both borrowed for the call. Return 0 to go on.
 */
typedef int (*pmx_validate_fn)(const char *name, const char *message, void *userdata);

/**
 * Check generic parameters against a method: required parameters, types (integer, number,
 * boolean 0/1/true/false...), enums, bounds, string lengths, patterns (where they translate to
 * POSIX) and common formats (pve-node, pve-vmid, pve-configid, pve-storage-id, ipv4, ipv6,
 * mac-addr), and names the method does not know. Calls @p fn per error (in parameter order).
 * @return the number of errors (0: valid), or PMX_EINVAL (NULL desc), PMX_ENOMEM.
 * Thread-safe. Since: 1.0
 */
PMX_API int pmx_method_validate_each(const pmx_method_desc *d, const pmx_params *params,
                                     unsigned int flags, pmx_validate_fn fn, void *userdata);

/**
 * Like pmx_method_validate_each(), collecting the errors into one message
 * ("vmid: value must have a minimum value of 100; name: property is missing…"), stored in
 * *errmsg when @p errmsg is not NULL and there are errors (caller frees with pmx_free()).
 * @return 0 when valid, the number of errors, or PMX_EINVAL / PMX_ENOMEM. Since: 1.0
 */
PMX_API int pmx_method_validate(const pmx_method_desc *d, const pmx_params *params,
                                unsigned int flags, char **errmsg);

/**
 * Check one textual value against a parameter's constraints. Returns NULL when valid, else a
 * message in PVE's wording written into @p buf (size @p bufsize, always NUL-terminated).
 * Since: 1.0
 */
PMX_API const char *pmx_param_check(const pmx_param_desc *p, const char *value, char *buf,
                                    size_t bufsize);

/* ---- typed property strings ------------------------------------------------------------------
 *
 * Parameters whose schema "format" is an object take a property string ("k=v,k=v"; PVE's
 * parse_property_string / print_property_string in pve-common JSONSchema.pm). Each distinct
 * format has a generated struct pve_fmt_<area>_<name> (<proxmox/gen/propstr.h>) with
 *
 *   int  pve_fmt_X_decode(const char *text, pve_fmt_X **out, char **err);
 *   int  pve_fmt_X_encode(const pve_fmt_X *v, char **out, char **err);
 *   void pve_fmt_X_free(pve_fmt_X *v);
 *
 * Fields follow the bindings: strings (enums included) `char *` (NULL = absent), integers,
 * booleans and numbers pmx_opt_i64 / pmx_opt_bool / pmx_opt_f64. The rules are PVE's:
 * - pairs "k=v" separated by ','; a value may contain '=' but never ',': PVE's property
 *   strings have no quoting, so encoding a value with ',' fails with PMX_EINVAL naming the key,
 *   and '"' is an ordinary character;
 * - the default key (pmx_propstr_desc.default_key) may stand bare ("local:vm-100-disk-0");
 * - alias keys ("volume" for "file") store into their target; an alias with a key alias also
 *   stores its own name into that key: qemu net "virtio=AA:BB:..." is model=virtio plus
 *   macaddr=AA:BB:...;
 * - booleans decode from 1/0, yes/no, on/off, true/false (any case) and encode as 1/0;
 *   integers and numbers are checked with their bounds, enums, lengths and patterns are
 *   checked, disk sizes ("32G") stay strings matched against \d+(\.\d+)?[KMGT]?;
 * - unknown keys, duplicate keys, missing required keys and invalid values are errors naming
 *   the key ("firewall: type check ('boolean') failed - got 'maybe'");
 * - encoding writes the default key first (bare, or combined with its key alias as
 *   "virtio=MAC"), then the required keys, then the others, each group sorted by name: the
 *   canonical form PVE writes to its configs, so canonical strings round-trip unchanged.
 *
 * A caller-allocated struct for encoding starts with struct_size (PMX_PARAMS_INIT()); decoding
 * sets it. Descriptors are opaque handles, read with pmx_propstr_describe() and friends.
 */

/** pmx_propkey_info.flags */
enum {
    PMX_PROPKEY_REQUIRED = 1u << 0,    /* not optional in the schema */
    PMX_PROPKEY_DEFAULT_KEY = 1u << 1, /* the value may stand without "key=" */
    PMX_PROPKEY_HAS_MIN = 1u << 2,
    PMX_PROPKEY_HAS_MAX = 1u << 3,
    PMX_PROPKEY_HAS_MAX_LENGTH = 1u << 4,
    PMX_PROPKEY_ALIAS = 1u << 5,       /* no member: another name for key `alias` */
    PMX_PROPKEY_DISK_SIZE = 1u << 6    /* format disk-size: \d+(\.\d+)?[KMGT]? */
};

/** One key of a property-string format (pmx_propkey_describe()). */
typedef struct pmx_propkey_info {
    uint32_t size;            /* set by the caller: sizeof(pmx_propkey_info) */
    uint32_t type;            /* pmx_param_type (STRING, INTEGER, BOOLEAN, NUMBER); 0: alias */
    uint32_t flags;           /* PMX_PROPKEY_* */
    uint32_t n_enum;          /* allowed values: pmx_propkey_enum_at(); 0: any */
    const char *name;         /* key as written ("macaddr") */
    const char *c_name;       /* member of the generated struct, NULL for aliases */
    size_t offset;            /* offsetof the member (char *, pmx_opt_i64, _bool or _f64) */
    double minimum, maximum;  /* with PMX_PROPKEY_HAS_MIN / HAS_MAX */
    int64_t max_length;       /* with PMX_PROPKEY_HAS_MAX_LENGTH */
    const char *pattern;       /* the schema's Perl regex, or NULL */
    const char *posix_pattern; /* its anchored POSIX ERE translation, or NULL */
    const char *format;        /* registered format ("mac-addr", "disk-size"), or NULL */
    const char *alias;         /* PMX_PROPKEY_ALIAS: the key this one stands for */
    const char *key_alias;     /* aliases: the key that receives this key's name ("model") */
    const char *requires;      /* another key that must be present with this one, or NULL */
    const char *default_value; /* the schema's default as text (informative), or NULL */
    const char *format_description; /* placeholder text ("XX:XX:XX:XX:XX:XX"), or NULL */
    const char *description;   /* the schema's description, or NULL */
} pmx_propkey_info;

/** A property-string format (pmx_propstr_describe()). */
typedef struct pmx_propstr_info {
    uint32_t size;            /* set by the caller: sizeof(pmx_propstr_info) */
    uint32_t n_keys;          /* pmx_propstr_key_at(d, 0 .. n_keys-1), sorted, aliases included */
    const char *name;         /* C type, "pve_fmt_qemu_net" */
    const char *default_key;  /* the key that may stand bare, or NULL */
    size_t struct_size;       /* sizeof that struct */
} pmx_propstr_info;

/** Fill @p out with the attributes of format @p d; like pmx_method_describe(). Since: 1.0 */
PMX_API int pmx_propstr_describe(const pmx_propstr_desc *d, pmx_propstr_info *out);

/** Key @p i of format @p d (sorted by name), NULL past the end. Since: 1.0 */
PMX_API const pmx_propkey_desc *pmx_propstr_key_at(const pmx_propstr_desc *d, size_t i);

/** Fill @p out with the attributes of key @p k. Since: 1.0 */
PMX_API int pmx_propkey_describe(const pmx_propkey_desc *k, pmx_propkey_info *out);

/** Allowed value @p i of key @p k (static), NULL past the end. Since: 1.0 */
PMX_API const char *pmx_propkey_enum_at(const pmx_propkey_desc *k, size_t i);

/** Number of typed property-string formats. Thread-safe. Since: 1.0 */
PMX_API size_t pmx_propstr_count(void);

/** Format @p i (0 .. pmx_propstr_count()-1), sorted by name; NULL past the end. Since: 1.0 */
PMX_API const pmx_propstr_desc *pmx_propstr_at(size_t i);

/** Look a format up by its C type name ("pve_fmt_qemu_net"); NULL when unknown. Since: 1.0 */
PMX_API const pmx_propstr_desc *pmx_propstr_find(const char *name);

/**
 * Decode property string @p text with format @p d into a new struct of struct_size bytes
 * (*out; free it with pmx_propstr_free(d, *out) or the generated pve_fmt_X_free()).
 * @param text borrowed for the call.
 * @param err  may be NULL; on PMX_EINVAL receives a message naming the key (caller frees with
 *             pmx_free()).
 * @return PMX_OK, PMX_EINVAL (invalid text or arguments), PMX_ENOMEM. Thread-safe, may be
 * called from callbacks. Since: 1.0
 */
PMX_API int pmx_propstr_decode(const pmx_propstr_desc *d, const char *text, void **out,
                               char **err);

/**
 * Encode struct @p v (of format @p d, borrowed) into its canonical property string (*out,
 * caller frees with pmx_free()). @p err as for pmx_propstr_decode(). @return PMX_OK,
 * PMX_EINVAL (missing required key, bad enum or bounds, a ',' in a value...), PMX_ENOMEM.
 * Thread-safe, may be called from callbacks. Since: 1.0
 */
PMX_API int pmx_propstr_encode(const pmx_propstr_desc *d, const void *v, char **out,
                               char **err);

/** Free a struct decoded with @p d (its strings and itself). NULL is a no-op. Since: 1.0 */
PMX_API void pmx_propstr_free(const pmx_propstr_desc *d, void *v);

/**
 * Check property string @p text against format @p d without keeping the result. Returns NULL
 * when valid, else a message naming the key written into @p buf (size @p bufsize). Thread-safe.
 * Since: 1.0
 */
PMX_API const char *pmx_propstr_check(const pmx_propstr_desc *d, const char *text, char *buf,
                                      size_t bufsize);

PMX_END_DECLS
#endif
