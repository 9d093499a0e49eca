/* Parameter validation: pmx_param_check / pmx_method_param / pmx_method_validate(_each) with
 * fuzzed names and values, plus pmx_method_find / pmx_method_path_param on a fuzzed path.
 * Input: two bytes choose the method (big-endian index modulo pmx_method_count()), one byte
 * the flags, then lines "name=value" (the first line is also used as a concrete path). */
#include "tables.h"

#include "fuzz_common.h"

static int each_fn(const char *name, const char *message, void *ud) {
    if (!name || !message)
        abort();
    *(size_t *)ud += strlen(name) + strlen(message);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t nm = pmx_method_count();
    if (size < 3 || !nm)
        return 0;
    const pmx_method_desc *d = pmx_method_at(((size_t)data[0] << 8 | data[1]) % nm);
    unsigned flags = data[2] & 1 ? PMX_VALIDATE_PATH : 0;
    int small_buf = data[2] & 2;
    char *text = fuzz_cstr(data + 3, size - 3);
    pmx_params *ps = pmx_params_new();
    if (!ps)
        abort();

    /* The first line as a concrete path. */
    size_t l0 = strcspn(text, "\n");
    char *path = strndup(text, l0);
    const pmx_method_desc *found = pmx_method_find(pmx_method_verb(d), path);
    if (found) {
        for (size_t i = 0; i <= found->n_path; i++) {
            char *pv = NULL;
            int r = pmx_method_path_param(found, path, i, &pv);
            if ((r == PMX_OK) != (pv != NULL))
                abort();
            pmx_free(pv);
        }
    }
    free(path);

    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        const char *name = line, *value = "";
        if (eq) {
            *eq = 0;
            value = eq + 1;
        }
        const pmx_param_desc *p = pmx_method_param(d, name);
        pmx_param_info pi = PMX_OPTS_INIT(pmx_param_info);
        if (p && pmx_param_describe(p, &pi) != PMX_OK)
            abort();
        if (p && (pi.flags & PMX_PARAM_INDEXED)) {
            /* "net3": the base name, then a canonical decimal slot below count. */
            size_t bl = strlen(pi.name);
            const char *digits = name + bl;
            if (strncmp(name, pi.name, bl) != 0 || !*digits || strlen(digits) > 10 ||
                strspn(digits, "0123456789") != strlen(digits) ||
                (digits[0] == '0' && digits[1]) || strtoull(digits, NULL, 10) >= pi.count)
                abort(); /* an indexed wire name the server does not know */
        } else if (p && strcmp(pi.name, name) != 0) {
            abort();
        }
        if (p) {
            char buf[256], tiny[8];
            char *b = small_buf ? tiny : buf;
            size_t bs = small_buf ? sizeof tiny : sizeof buf;
            const char *m = pmx_param_check(p, value, b, bs);
            if (m && m != b && strcmp(m, "invalid arguments") != 0)
                (void)strlen(m); /* static messages are fine */
            if (m == b && strlen(b) >= bs)
                abort();
        }
        /* Also every parameter of the method against this value. */
        if (d->n_params) {
            const pmx_param_desc *q = pmx_method_param_at(d, (unsigned char)name[0] % d->n_params);
            char buf[128];
            (void)pmx_param_check(q, value, buf, sizeof buf);
        }
        if (*name && pmx_params_add_str(ps, name, value) != PMX_OK)
            abort();
    }

    size_t acc = 0;
    int n1 = pmx_method_validate_each(d, ps, flags, each_fn, &acc);
    char *msg = NULL;
    int n2 = pmx_method_validate(d, ps, flags, &msg);
    if (n1 != n2 || (n2 > 0) != (msg != NULL))
        abort();
    pmx_free(msg);
    pmx_params_free(ps);
    free(text);
    return 0;
}
