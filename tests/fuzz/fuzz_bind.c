/* Typed result decoding: pmx__bind_decode for a method chosen by the input's first two bytes
 * (big-endian index into the methods that declare a result; 646 methods do not fit one byte),
 * then pmx__bind_result_free. The rest is the "data" JSON, in an exact-size buffer. Every
 * decoded field is read back so that ASan sees dangling or uninitialised pointers. Reads the
 * compact tables directly (lib/tables.h). */
#include "bind.h"

#include "fuzz_common.h"

static volatile size_t g_sink;

static void touch_str(const char *s) {
    if (s)
        g_sink += strlen(s);
}

static void walk(const pmx_type_desc *t, const char *base, int depth);

static void walk_value(uint32_t kind, const pmx_type_desc *type, const char *slot, int depth) {
    switch (kind) {
    case PMX_KIND_STRING:
    case PMX_KIND_RAW: {
        const char *s;
        memcpy(&s, slot, sizeof s);
        touch_str(s);
        break;
    }
    case PMX_KIND_OBJECT: {
        const char *o;
        memcpy(&o, slot, sizeof o);
        if (o && type)
            walk(type, o, depth + 1);
        break;
    }
    case PMX_KIND_I64: case PMX_KIND_F64: g_sink += (unsigned char)slot[7]; break;
    case PMX_KIND_BOOL: g_sink += (unsigned char)slot[3]; break;
    case PMX_KIND_OPT_I64: g_sink += (unsigned char)slot[sizeof(pmx_opt_i64) - 1]; break;
    case PMX_KIND_OPT_BOOL: g_sink += (unsigned char)slot[sizeof(pmx_opt_bool) - 1]; break;
    case PMX_KIND_OPT_F64: g_sink += (unsigned char)slot[sizeof(pmx_opt_f64) - 1]; break;
    default: break;
    }
}

static void walk(const pmx_type_desc *t, const char *base, int depth) {
    if (depth > 64 || t->kind != PMX_KIND_OBJECT)
        return;
    g_sink += (unsigned char)base[t->struct_size ? t->struct_size - 1 : 0];
    for (size_t i = 0; i < t->n_fields; i++) {
        const pmx_field_desc *f = &pmx__gen_fields[t->first_field + i];
        const pmx_type_desc *ft = pmx__type(f->type);
        if (f->kind == PMX_KIND_ARRAY) {
            const char *items;
            size_t n;
            memcpy(&items, base + f->offset, sizeof items);
            memcpy(&n, base + f->count_offset, sizeof n);
            if (n && !items)
                abort();
            uint32_t ek = ft ? ft->kind : PMX_KIND_RAW;
            for (size_t k = 0; k < n; k++)
                walk_value(ek, ft, items + k * pmx__elem_size(ek), depth);
        } else if (f->count) {
            for (uint32_t k = 0; k < f->count; k++)
                walk_value(f->kind, ft, base + f->offset + k * sizeof(char *), depth);
        } else {
            walk_value(f->kind, ft, base + f->offset, depth);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n_methods;
    const pmx_method_desc **methods = fuzz_result_methods(&n_methods);
    if (size < 2)
        return 0;
    const pmx_method_desc *d = methods[((size_t)data[0] << 8 | data[1]) % n_methods];
    char *json = fuzz_span(data + 2, size - 2);
    void *res = NULL;
    char *err = NULL;
    int rc = pmx__bind_decode(d, json, size - 2, &res, &err);
    if (rc == PMX_OK) {
        if (err)
            abort();
        if (res)
            walk(pmx__type(d->result), res, 0);
    } else {
        if (res)
            abort();
        if (rc == PMX_EDECODE && !err)
            abort();
        touch_str(err);
    }
    pmx__free(err);
    pmx__bind_result_free(d, res);
    free(json);
    return 0;
}
