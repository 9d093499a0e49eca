/* pmx-gen: shared declarations of the binding generator.
 *
 * The generator runs in stages, one module each:
 *   schema.c   load and normalise the schema: methods, parameters, result types, property-string
 *              formats, secrets (the model below)
 *   names.c    C names: functions, fields, areas, keywords
 *   layout.c   stable struct layouts: committed field order (schema/layout.txt), read and extended
 *   tables.c   the compact run-time tables (lib/gen/tables.c) and the description pool (docs.c)
 *   headers.c  public headers (include/proxmox/gen/) and the thin endpoint functions (lib/gen/)
 *   pyi.c      the Python binding's type stubs of the attribute paths (libproxmox/_api.pyi)
 *   main.c     options, pin check, driver, statistics
 *   util.c     strings, files, JSON helpers, C text helpers
 *   regex.c    Perl regex -> POSIX ERE
 */
#ifndef PMX_GEN_H
#define PMX_GEN_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stddef.h>

/* ---- util.c ---- */

/* Growable string buffer; aborts on out of memory (a build tool). */
typedef struct sb {
    char *d;
    size_t n, cap;
} sb;
void sb_put(sb *b, const char *s, size_t n);
void sb_puts(sb *b, const char *s);
void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(sb *b);

/* Print "pmx-gen: error: ..." and exit(1). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
/* Append one element to a growable array (*arr, *n, *cap of elements of size sz). */
void *grow(void *arr, size_t *cap, size_t n, size_t sz);
char *read_file(const char *path, size_t *len);
void write_file(const char *path, const sb *b);
cJSON *parse_json(const char *what, const char *text, size_t len);
const char *jstr(const cJSON *o, const char *key);
int jtrue(const cJSON *o, const char *key);
/* A number, or a string holding one (Perl schemas give both); 1 when *out was set. */
int num_of(const cJSON *v, double *out);
/* Canonical JSON text (object members sorted): equal schemas compare equal. malloc'd. */
char *canon_text(const cJSON *j);
/* A schema default as text (strings as is, others as JSON); malloc'd, NULL when d is NULL. */
char *default_string(const cJSON *d);
/* Append s as a C string literal ("NULL" for NULL). */
void c_string(sb *b, const char *s);
/* Append a doc comment wrapped at ~96 columns; extra (may be NULL) is a second paragraph. */
void doc_comment(sb *b, int ind, const char *text, const char *extra);
/* Append prefix + proto + suffix, breaking the argument list to stay within 100 columns. */
void wrap_proto(sb *b, const char *prefix, const char *proto, const char *suffix);

/* ---- regex.c ---- */

/* Translate a Perl regex (as PVE matches it: whole value) into an anchored POSIX ERE.
 * Returns a malloc'd string, or NULL when the pattern uses constructs ERE lacks. */
char *perl_to_ere(const char *perl);

/* ---- names.c ---- */

/* Mangle a wire name into a C identifier (non-alphanumerics '_', keywords get a '_'). */
void mangle(const char *in, char *out, size_t cap);
/* Function name of a method ("pve_nodes_qemu_vmid_get") and its section ("nodes"). */
void method_names(const char *verb, const char *path, char *fn, size_t fncap, char *section,
                  size_t seccap);
/* Area of a path for property-string names ("qemu" for /nodes/{node}/qemu/...). */
void path_area(const char *path, char *out, size_t cap);

/* ---- the model (schema.c) ---- */

enum { T_STRING = 1, T_INTEGER, T_BOOLEAN, T_NUMBER, T_ARRAY };
enum { L_PATH = 1, L_QUERY, L_BODY };
/* kinds of result values: the values of pmx_kind */
enum { K_STR = 1, K_I64, K_OPT_I64, K_BOOL, K_OPT_BOOL, K_F64, K_OPT_F64, K_RAW, K_OBJ, K_ARR };

/* One member of a generated struct as laid out: a name and a layout type token (layout.c). */
typedef struct gmember {
    char cname[136];
    char ctype[320];
    int src; /* index of the schema item it comes from, -1: retired (kept for the ABI) */
} gmember;

typedef struct gparam {
    const char *key;   /* schema key ("net[n]") */
    char wire[128];    /* wire name ("net") */
    char cname[136];
    const cJSON *js;   /* the property */
    const cJSON *cons; /* where constraints live (items for arrays) */
    int type, item_type, loc, required, count, path_pos;
    int fmt;           /* property-string format: index into g_fmt + 1, or 0 */
    int secret;
    size_t def;        /* index of its shared definition in the parameter table */
} gparam;

typedef struct gmethod {
    const char *path, *verb;
    const cJSON *info;
    char fn[256], section[64];
    gparam *params; /* path parameters first in path order, then by wire name */
    size_t np, n_path;
    gmember *lay;   /* the _params struct members in layout order */
    size_t nlay;
    int result;     /* g_types index + 1, 0: none */
    int secret;     /* secret parameters or result fields */
    int rkind;      /* result statistics: 1 struct, 2 array, 3 scalar, 4 raw */
} gmethod;

typedef struct gfield {
    char json[128];  /* JSON member name; the base of an indexed member ("net") */
    char cname[136];
    char count[150]; /* arrays: name of the size_t count member */
    char ctype[320]; /* layout token */
    const char *desc;
    const cJSON *js;
    int kind, slots, type, fmt, secret; /* type: g_types index + 1; fmt: g_fmt index + 1 */
} gfield;

typedef struct gtype {
    char name[300];   /* C type name; "" for scalar element types */
    int kind;         /* K_OBJ, or the scalar kind of an element type */
    int wrapped;      /* result whose "data" is not an object: fields[0] is items / value */
    int top;          /* a method's result type */
    const char *doc;  /* schema description of a top type */
    const char *top_note;
    gfield *f;        /* sorted by JSON name, a plain member before an indexed one */
    size_t nf;
    gmember *lay;     /* struct members in layout order */
    size_t nlay;
    size_t method;    /* the method that defines it (header section) */
} gtype;

typedef struct gkey {
    const cJSON *js;
    const char *name;
    char cname[136]; /* "" for aliases */
    int type;        /* T_*, 0 for aliases */
} gkey;

/* One distinct property-string format, struct pve_fmt_<area>_<name>. */
typedef struct gfmt {
    char name[256];   /* "pve_fmt_qemu_net" */
    char origin[800]; /* first use: "POST /nodes/{node}/qemu net[n]" */
    const char *pname;
    const cJSON *js;
    char *canon;
    size_t uses;
    gkey *keys;       /* sorted by name, aliases included */
    size_t nkeys;
    const char *default_key;
    gmember *lay;
    size_t nlay;
    size_t index;     /* position in name order */
} gfmt;

extern gmethod *g_m;
extern size_t g_nm;
extern gtype *g_types;
extern size_t g_ntypes;
extern gfmt *g_fmt; /* sorted by name after schema_load() */
extern size_t g_nfmt;
extern cJSON *g_over;

typedef struct gstats {
    size_t methods, params, path_params, p_string, p_int, p_bool, p_num, p_array, p_indexed;
    size_t p_enum, p_pattern, p_pattern_posix, p_format, p_propstring, p_secret;
    size_t results, results_struct, results_array, results_scalar, results_raw, results_none;
    size_t fields, fields_typed, fields_raw, fields_secret;
    size_t fmt_uses, fmt_param_uses, fmt_result_uses, fmt_keys, fmt_aliases;
    size_t secret_methods;
} gstats;
extern gstats st;

/* Load the schema tree (parsed JSON root) into the model. */
void schema_load(const cJSON *root);
void schema_free(void);
/* Layout token of a parameter's _params member. */
const char *param_ctype(const gparam *g);

/* ---- layout.c ---- */

void layout_read(const char *path);
/* Order the fresh members (schema order) of struct @p sname: committed members keep their
 * place (retired ones stay with src -1), new ones are appended and recorded. Dies when a
 * committed member changes type. Returns a malloc'd array. */
gmember *layout_apply(const char *sname, const gmember *fresh, size_t nfresh, size_t *nout);
void layout_write(const char *path);
/* C declaration of member @p name with token @p ctype, e.g. "char *x;" or
 * "const char *const *x;\n    size_t n_x;" (indent: continuation lines). */
void layout_decl(sb *b, const char *ctype, const char *name, const char *indent);

/* ---- tables.c / headers.c ---- */

typedef struct gout {
    char **written;
    size_t n, cap;
    const char *include_dir, *src_dir, *header, *version, *sha;
} gout;
void out_file(gout *o, const char *dir, const char *name, const sb *b);
void emit_tables(gout *o);
void emit_headers(gout *o);

/* ---- pyi.c ---- */

/* The Python binding's type stubs of the attribute paths, written to @p path. */
void emit_pyi(const char *path, const char *version, const char *sha);

#endif
