/* pve-mock: generic answers for every PVE method of libproxmox's method tables.
 *
 * A request that no hand-written route takes is looked up with pmx_method_find(); when a method
 * matches, its parameters (query + body as decoded by http.c, plus the path parameters) are
 * checked against the table like PVE::JSONSchema does, and the answer is a deterministic sample
 * shaped by the method's result type. Methods that return a worker UPID start a real task in
 * the task table, so status and log work on it. Nothing is scanned per request beyond
 * pmx_method_find(): the sample is built by walking the result type once. */
#include "mock.h"

#include <proxmox/proxmox.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_MAX_DEPTH 8 /* nested result objects; arrays double the size per level */

static int verb_of(int evhttp_method)
{
    switch (evhttp_method) {
    case EVHTTP_REQ_GET:
        return PMX_GET;
    case EVHTTP_REQ_POST:
        return PMX_POST;
    case EVHTTP_REQ_PUT:
        return PMX_PUT;
    case EVHTTP_REQ_DELETE:
        return PMX_DELETE;
    default:
        return 0;
    }
}

/* Perl compares the values as strings: a JSON 100 equals the path's "100". */
static int same_text(const cJSON *v, const char *text)
{
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, text) == 0;
    if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)v->valuedouble);
        return strcmp(buf, text) == 0;
    }
    return 0;
}

/* The one PVE route whose last parameter takes the rest of the path, slashes included:
 * /nodes/{node}/storage/{storage}/content/{volume} ("local:iso/debian.iso"). */
static const char volume_path[] = "/nodes/{node}/storage/{storage}/content/{volume}";

static int is_volume_path(const struct call *c)
{
    return c->nseg > 6 && !strcmp(c->seg[0], "nodes") && !strcmp(c->seg[2], "storage") &&
           !strcmp(c->seg[4], "content");
}

/* Segments i.. of the call joined with '/' (the {volume} tail); caller frees. */
static char *join_tail(const struct call *c, int i)
{
    size_t n = 1;
    for (int k = i; k < c->nseg; k++)
        n += strlen(c->seg[k]) + 1;
    char *s = xmalloc(n), *o = s;
    for (int k = i; k < c->nseg; k++)
        o += sprintf(o, "%s%s", k > i ? "/" : "", c->seg[k]);
    *o = 0;
    return s;
}

/* Descriptor attributes (public descriptor API of <proxmox/method.h>). */
static pmx_method_info method_info(const pmx_method_desc *d)
{
    pmx_method_info i = PMX_OPTS_INIT(pmx_method_info);
    if (pmx_method_describe(d, &i) != PMX_OK)
        abort();
    return i;
}

static pmx_param_info param_info(const pmx_param_desc *p)
{
    pmx_param_info i = PMX_OPTS_INIT(pmx_param_info);
    if (pmx_param_describe(p, &i) != PMX_OK)
        abort();
    return i;
}

static pmx_type_info type_info(const pmx_type_desc *t)
{
    pmx_type_info i = PMX_OPTS_INIT(pmx_type_info);
    if (pmx_type_describe(t, &i) != PMX_OK)
        abort();
    return i;
}

static pmx_field_info field_info(const pmx_field_desc *f)
{
    pmx_field_info i = PMX_OPTS_INIT(pmx_field_info);
    if (pmx_field_describe(f, &i) != PMX_OK)
        abort();
    return i;
}

/* The template's {name} segments bound to the call's segments, merged into c->params the way
 * route_dispatch does (a contradicting body/query value → 400). tail: the last parameter
 * takes the remaining segments. */
static void bind_path(const pmx_method_desc *d, struct call *c, int tail)
{
    const char *p = pmx_method_path(d);
    int i = 0;
    while (*p == '/')
        p++;
    while (*p && i < c->nseg) {
        size_t n = strcspn(p, "/");
        if (p[0] == '{' && n >= 2) {
            char name[128];
            size_t k = n - 2 < sizeof name - 1 ? n - 2 : sizeof name - 1;
            memcpy(name, p + 1, k);
            name[k] = 0;
            char *value = tail && !p[n] ? join_tail(c, i) : xstrdup(c->seg[i]);
            cJSON *old = cJSON_GetObjectItemCaseSensitive(c->params, name);
            if (old && !same_text(old, value))
                call_param_error(c, name, "duplicate parameter (already defined in URI) with conflicting values!");
            else if (!old)
                cJSON_AddItemToObject(c->params, name, cJSON_CreateString(value));
            free(value);
        }
        i++;
        p += n;
        while (*p == '/')
            p++;
    }
}

static const char *type_word(uint32_t t)
{
    switch (t) {
    case PMX_PARAM_INTEGER:
        return "integer";
    case PMX_PARAM_BOOLEAN:
        return "boolean";
    case PMX_PARAM_NUMBER:
        return "number";
    case PMX_PARAM_ARRAY:
        return "array";
    default:
        return "string";
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* One scalar JSON value as the text PVE would see; NULL (after reporting) when it cannot be.
 * The caller frees the result. */
static char *scalar_text(struct call *c, const pmx_param_desc *pd, const char *name,
                         const cJSON *v)
{
    pmx_param_info pi = {0};
    if (pd)
        pi = param_info(pd);
    uint32_t t = pd ? (pi.item_type ? pi.item_type : pi.type) : PMX_PARAM_STRING;
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        call_param_error(c, name, "type check ('%s') failed - got %s", type_word(t),
                         cJSON_IsArray(v) ? "ARRAY" : "HASH");
        return NULL;
    }
    if (cJSON_IsBool(v)) /* JSON true/false decode to 1/0 in Perl */
        return xstrdup(cJSON_IsTrue(v) ? "1" : "0");
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (x == (double)(long long)x)
            return xasprintf("%lld", (long long)x);
        return xasprintf("%.15g", x); /* as Perl stringifies numbers */
    }
    if (!cJSON_IsString(v))
        return NULL;
    /* PVE::JSONSchema takes only 0 and 1 for a boolean (the library's checker is laxer) */
    if (pd && t == PMX_PARAM_BOOLEAN && strcmp(v->valuestring, "0") != 0 &&
        strcmp(v->valuestring, "1") != 0) {
        call_param_error(c, name, "type check ('boolean') failed - got '%s'", v->valuestring);
        return NULL;
    }
    return xstrdup(v->valuestring);
}

static int report(const char *name, const char *message, void *userdata)
{
    call_param_error(userdata, name, "%s", message);
    return 0;
}

/* c->params → pmx_params, then the table's checks. Returns 0 when valid. */
static int validate(const pmx_method_desc *d, struct call *c)
{
    pmx_params *pp = pmx_params_new();
    if (!pp) {
        call_error(c, 500, "out of memory");
        return -1;
    }
    /* a value split on NUL, for a -list format: its items, as one ','-joined string (what
     * PVE's split_list then makes of it is the same list) */
    cJSON *nl;
    cJSON_ArrayForEach(nl, c->params)
    {
        const pmx_param_desc *pd = pmx_method_param(d, nl->string);
        if (!(nl->type & MOCK_NUL_LIST) || !pd)
            continue;
        pmx_param_info pi = param_info(pd);
        if (pi.type == PMX_PARAM_ARRAY || !pi.format || !ends_with(pi.format, "-list"))
            continue;
        size_t len = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, nl) len += strlen(e->valuestring) + 1;
        char *joined = xmalloc(len + 1), *o = joined;
        cJSON_ArrayForEach(e, nl) o += sprintf(o, "%s%s", o > joined ? "," : "", e->valuestring);
        *o = 0;
        cJSON *str = cJSON_CreateString(joined);
        free(joined);
        cJSON_ReplaceItemInObjectCaseSensitive(c->params, nl->string, str);
        nl = str;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, c->params)
    {
        const char *name = it->string;
        const pmx_param_desc *pd = pmx_method_param(d, name);
        if (cJSON_IsNull(it)) /* undef: absent */
            continue;
        if (!pd) { /* whatever its value: the validator reports the name as unknown */
            pmx_params_add_str(pp, name, "1");
            continue;
        }
        pmx_param_info pi = param_info(pd);
        int list_format = pi.type != PMX_PARAM_ARRAY && pi.format && ends_with(pi.format, "-list");
        if (it->type & MOCK_NUL_LIST) { /* a -list took its pieces above */
            call_param_error(c, name, "%s", NUL_TEXT);
            continue;
        }
        if (cJSON_IsArray(it) && pi.type != PMX_PARAM_ARRAY) {
            if (list_format) {
                /* an array for a -list format is joined with ',' (legacy, still accepted) */
                size_t cap = 1, len = 0;
                char *joined = xmalloc(cap);
                joined[0] = 0;
                const cJSON *e;
                int bad = 0;
                cJSON_ArrayForEach(e, it)
                {
                    char *s = scalar_text(c, pd, name, e);
                    if (!s) {
                        bad = 1;
                        break;
                    }
                    size_t n = strlen(s);
                    char *grown = realloc(joined, cap + n + 1);
                    if (!grown)
                        abort();
                    joined = grown;
                    cap += n + 1;
                    len += (size_t)snprintf(joined + len, cap - len, "%s%s", len ? "," : "", s);
                    free(s);
                }
                if (!bad)
                    pmx_params_add_str(pp, name, joined);
                free(joined);
            } else {
                call_param_error(c, name, "type check ('%s') failed - got ARRAY",
                                 type_word(pi.type));
            }
            continue;
        }
        if (cJSON_IsArray(it)) { /* type=array: one value per element */
            const cJSON *e;
            cJSON_ArrayForEach(e, it)
            {
                if (e->type & MOCK_NUL_LIST) {
                    call_param_error(c, name, "%s", NUL_TEXT);
                    break;
                }
                char *s = scalar_text(c, pd, name, e);
                if (s)
                    pmx_params_add_str(pp, name, s);
                free(s);
            }
            continue;
        }
        char *s = scalar_text(c, pd, name, it);
        if (s)
            pmx_params_add_str(pp, name, s);
        free(s);
    }
    int r = pmx_method_validate_each(d, pp, PMX_VALIDATE_PATH, report, c);
    pmx_params_free(pp);
    if (r < 0)
        call_error(c, 500, "parameter validation failed (%d)", r);
    return c->status != 200;
}

/* ---- sample results ---------------------------------------------------------------------- */

static cJSON *sample_type(const pmx_type_desc *t, int depth);

/* A scalar of kind k; idx (the field's position) varies the value and the encoding, so that
 * some integers, numbers and booleans arrive as strings ("1") to exercise lenient decoding. */
static cJSON *sample_scalar(uint32_t kind, size_t idx)
{
    int as_string = idx % 3 == 2;
    switch (kind) {
    case PMX_KIND_I64:
    case PMX_KIND_OPT_I64:
        return as_string ? cJSON_CreateString("1") : cJSON_CreateNumber(1);
    case PMX_KIND_BOOL:
    case PMX_KIND_OPT_BOOL: {
        int b = (int)((idx + 1) % 2);
        return as_string ? cJSON_CreateString(b ? "1" : "0") : cJSON_CreateNumber(b);
    }
    case PMX_KIND_F64:
    case PMX_KIND_OPT_F64:
        return as_string ? cJSON_CreateString("0.5") : cJSON_CreateNumber(0.5);
    case PMX_KIND_STRING:
        return cJSON_CreateString("sample");
    case PMX_KIND_RAW:
    default:
        return cJSON_CreateObject();
    }
}

/* An array element of type t. */
static cJSON *sample_elem(const pmx_type_desc *t, size_t idx, int depth)
{
    if (!t)
        return cJSON_CreateObject();
    pmx_type_info ti = type_info(t);
    if (ti.kind == PMX_KIND_OBJECT)
        return sample_type(t, depth + 1);
    if (ti.kind == PMX_KIND_ARRAY)
        return cJSON_CreateArray();
    return sample_scalar(ti.kind, idx);
}

static cJSON *sample_field(const pmx_field_desc *fd, size_t idx, int depth)
{
    pmx_field_info f = field_info(fd);
    switch (f.kind) {
    case PMX_KIND_OBJECT:
        return f.type ? sample_type(f.type, depth + 1) : cJSON_CreateObject();
    case PMX_KIND_ARRAY: {
        cJSON *a = cJSON_CreateArray();
        if (depth < SAMPLE_MAX_DEPTH)
            for (size_t i = 0; i < 2; i++)
                cJSON_AddItemToArray(a, sample_elem(f.type, idx + i, depth));
        return a;
    }
    default:
        return sample_scalar(f.kind, idx);
    }
}

static cJSON *sample_type(const pmx_type_desc *t, int depth)
{
    pmx_type_info ti = type_info(t);
    if (ti.kind != PMX_KIND_OBJECT)
        return sample_scalar(ti.kind, 0);
    if (ti.flags & PMX_TYPE_WRAPPED)
        return ti.n_fields ? sample_field(pmx_type_field_at(t, 0), 0, depth) : cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (depth > SAMPLE_MAX_DEPTH)
        return o;
    for (size_t i = 0; i < ti.n_fields; i++)
        cJSON_AddItemToObject(o, field_info(pmx_type_field_at(t, i)).name,
                              sample_field(pmx_type_field_at(t, i), i, depth));
    return o;
}

/* ---- worker tasks ------------------------------------------------------------------------ */

/* String results that are not a UPID although the method changes something. */
static const char *const not_a_task[] = {
    "/access/openid/auth-url",                 /* redirection URL */
    "/cluster/sdn/lock",                       /* lock token */
    "/nodes/{node}/qemu/{vmid}/monitor",       /* monitor output */
    "/nodes/{node}/storage/{storage}/content", /* POST: the new volume ID */
    "/nodes/{node}/wakeonlan",                 /* MAC address */
    "/nodes/{node}/replication/{id}/schedule_now",
    NULL};

/* PVE forks a worker (and returns its UPID) for POST/PUT/DELETE methods whose result is a
 * plain string, apart from the few above. */
static int returns_upid(const pmx_method_desc *d)
{
    pmx_method_info mi = method_info(d);
    if (mi.method == PMX_GET || !mi.result)
        return 0;
    pmx_type_info ti = type_info(mi.result);
    if (ti.kind != PMX_KIND_OBJECT || !(ti.flags & PMX_TYPE_WRAPPED) || ti.n_fields != 1 ||
        field_info(pmx_type_field_at(mi.result, 0)).kind != PMX_KIND_STRING)
        return 0;
    for (int i = 0; not_a_task[i]; i++)
        if (strcmp(mi.path, not_a_task[i]) == 0)
            return 0;
    return 1;
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if (*s == ':' || *s == '/' || (unsigned char)*s <= 0x20 || *s == 0x7f)
            *s = '_';
}

/* Worker type from the path, close to PVE's names: qmstart, vzshutdown, qmcreate, qmdestroy,
 * vzdump, ...; id: the vmid, else the last path parameter after {node}. */
static void start_task(const pmx_method_desc *d, struct call *c, const char *node)
{
    char type[64] = "", last[48] = "";
    pmx_method_info mi = method_info(d);
    const char *p = mi.path;
    int guest = strstr(p, "/qemu") ? 1 : strstr(p, "/lxc") ? 2 : 0;
    int ends_param = 0;
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n && p[0] != '{') {
            size_t k = n < sizeof last - 1 ? n : sizeof last - 1;
            memcpy(last, p, k);
            last[k] = 0;
            ends_param = 0;
        } else if (n) {
            ends_param = 1;
        }
        p += n;
    }
    const char *action = last;
    if (guest && ends_param && mi.method == PMX_DELETE)
        action = "destroy";
    else if (guest && !ends_param && (!strcmp(last, "qemu") || !strcmp(last, "lxc")))
        action = "create";
    snprintf(type, sizeof type, "%s%s",
             guest == 1 ? "qm" : guest == 2 ? "vz" : strstr(mi.path, "/bulk-action/") ? "bulk" : "",
             action);
    char *w = type; /* "move_disk" -> "movedisk", "download-url" -> "downloadurl" */
    for (const char *q = type; *q; q++)
        if (*q != '_' && *q != '-')
            *w++ = *q;
    *w = 0;

    const char *id = "";
    const cJSON *vmid = cJSON_GetObjectItemCaseSensitive(c->params, "vmid");
    char idbuf[128];
    if (cJSON_IsString(vmid)) {
        id = vmid->valuestring;
    } else if (cJSON_IsNumber(vmid)) {
        snprintf(idbuf, sizeof idbuf, "%lld", (long long)vmid->valuedouble);
        id = idbuf;
    } else {
        for (size_t i = mi.n_path_params; i-- > 0;) {
            const char *pname = param_info(pmx_method_param_at(d, i)).name;
            if (strcmp(pname, "node") == 0)
                continue;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, pname);
            if (cJSON_IsString(v)) {
                snprintf(idbuf, sizeof idbuf, "%s", v->valuestring);
                sanitize(idbuf);
                id = idbuf;
            }
            break;
        }
    }
    struct task *t = task_start(node, type[0] ? type : "worker", id,
                                c->user ? c->user : MOCK_USER, 0, ACT_NONE);
    c->data = cJSON_CreateString(t->upid);
}

/* ---- entry ------------------------------------------------------------------------------- */

int generic_dispatch(struct call *c)
{
    int m = verb_of(c->method);
    const pmx_method_desc *d = NULL;
    if (m && strpbrk(c->path, "?#")) {
        /* decoded segments may hold '?' or '#', which pmx_method_find takes as the end of the
         * path; no literal segment has them, so any other byte matches the same templates */
        char *copy = xstrdup(c->path);
        for (char *q = copy; (q = strpbrk(q, "?#")) != NULL; q++)
            *q = '_';
        d = pmx_method_find((pmx_method)m, copy);
        free(copy);
    } else if (m) {
        d = pmx_method_find((pmx_method)m, c->path);
    }
    int tail = 0;
    if (!d && m && is_volume_path(c)) {
        d = pmx_method_find((pmx_method)m, volume_path);
        tail = 1;
    }
    if (!d)
        return 0;
    pmx_method_info mi = method_info(d);
    bind_path(d, c, tail); /* a conflicting path parameter is refused first */
    if (c->status != 200)
        return 1;
    if (c->via_token && !(mi.flags & PMX_METHOD_ALLOWTOKEN)) {
        /* methods marked allowtoken=0 (password changes, TFA setup, ...) refuse API tokens
         * before the parameters are checked; raise_perm_exc wraps the text, newline and all */
        call_error(c, 403,
                   "Permission check failed (URI '%s' not available with API token, need proper "
                   "ticket.\n)",
                   c->path);
        return 1;
    }
    if (validate(d, c))
        return 1;

    const char *node_name = NULL;
    for (size_t i = 0; i < mi.n_path_params; i++)
        if (strcmp(param_info(pmx_method_param_at(d, i)).name, "node") == 0) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, "node");
            node_name = cJSON_IsString(v) ? v->valuestring : "";
            if (!state_node(node_name)) { /* pveproxy cannot resolve the node to proxy to */
                call_error(c, 500,
                           "hostname lookup '%s' failed - failed to get address info for: %s: "
                           "Name or service not known",
                           node_name, node_name);
                return 1;
            }
        }

    if (!mi.result)
        c->data = cJSON_CreateNull();
    else if (returns_upid(d))
        start_task(d, c, node_name ? node_name : g_mock.nodes[0].name);
    else
        c->data = sample_type(mi.result, 0);
    return 1;
}
