/* pve-mock: the route table and its handlers.
 *
 * Routes are data (method, path pattern, handler, parameter schema) so that
 * generated tables can be appended later. Parameters are checked the way
 * PVE::JSONSchema does, with the same error texts, before the handler runs. */
#include "mock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define R_GET EVHTTP_REQ_GET
#define R_POST EVHTTP_REQ_POST
#define R_PUT EVHTTP_REQ_PUT
#define R_DELETE EVHTTP_REQ_DELETE

#define VMID_RANGE 100, 999999999
#define NOLIM 1, 0 /* min > max: no bounds */
#define PEND {NULL, P_STR, 0, 0, 0, NULL}

/* ---- parameter helpers ------------------------------------------------- */

static const char *pstr(const struct call *c, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c->params, name);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Validated integer (validation ran first, so strings are well-formed). */
static int64_t pint(const struct call *c, const char *name, int64_t def)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c->params, name);
    if (cJSON_IsNumber(x))
        return (int64_t)x->valuedouble;
    if (cJSON_IsString(x))
        return strtoll(x->valuestring, NULL, 10);
    return def;
}

static int pbool(const struct call *c, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c->params, name);
    if (cJSON_IsTrue(x))
        return 1;
    if (cJSON_IsNumber(x))
        return x->valuedouble != 0;
    if (cJSON_IsString(x))
        return strcmp(x->valuestring, "1") == 0;
    return 0;
}

static int is_int_string(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static char *value_text(const cJSON *v)
{
    if (cJSON_IsString(v))
        return xstrdup(v->valuestring);
    return cJSON_PrintUnformatted(v);
}

static const struct route_param *param_spec(const struct route_param *ps, const char *name)
{
    for (; ps->name; ps++) {
        if (ps->extra && strcmp(ps->extra, "indexed") == 0) {
            size_t n = strlen(ps->name);
            if (strncmp(name, ps->name, n) == 0 && name[n] && strspn(name + n, "0123456789") ==
                                                                  strlen(name + n))
                return ps;
        } else if (strcmp(ps->name, name) == 0) {
            return ps;
        }
    }
    return NULL;
}

/* PVE's split_list: on NUL when there is one (the mock's form decoding made those pieces an
 * array), else on whitespace, ',' and ';'. Calls fn(item, len, arg) for each item. */
static void split_list(const cJSON *v, void (*fn)(const char *, size_t, void *), void *arg)
{
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) fn(cJSON_IsString(e) ? e->valuestring : "",
                                    cJSON_IsString(e) ? strlen(e->valuestring) : 0, arg);
        return;
    }
    char *text = value_text(v);
    for (char *p = text; *p;) {
        p += strspn(p, " \t\n\r\f\v,;");
        size_t k = strcspn(p, " \t\n\r\f\v,;");
        if (k)
            fn(p, k, arg);
        p += k;
    }
    free(text);
}

struct list_check {
    struct call *c;
    const char *name;
};

/* PVE's task status types (pve-task-status-type), the index of each in a status set. */
enum { ST_OK, ST_WARNING, ST_ERROR, ST_UNKNOWN, ST_COUNT };
static const char *const status_names[ST_COUNT] = {"ok", "warning", "error", "unknown"};

/* The status type an item names, any case; -1 for none. */
static int status_index(const char *item, size_t len)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (strlen(status_names[i]) == len && !strncasecmp(item, status_names[i], len))
            return i;
    return -1;
}

/* verify_task_status_type on one item, as check_format's -list loop calls it */
static void status_item_check(const char *item, size_t len, void *arg)
{
    struct list_check *lc = arg;
    if (status_index(item, len) >= 0)
        return;
    /* check_format dies at the first bad item; call_param_error keeps a parameter's first */
    call_param_error(lc->c, lc->name, "invalid format - invalid status '%.*s'\n", (int)len, item);
}

/* A string of format pve-task-status-type-list: its items (an empty list is allowed). */
static void check_status_list(struct call *c, const char *name, const cJSON *v)
{
    if (cJSON_IsObject(v) || (cJSON_IsArray(v) && !(v->type & MOCK_NUL_LIST))) {
        call_param_error(c, name, "type check ('string') failed - got %s",
                         cJSON_IsArray(v) ? "ARRAY" : "HASH");
        return;
    }
    if (!cJSON_IsString(v) && !cJSON_IsNumber(v) && !cJSON_IsArray(v)) {
        char *text = value_text(v);
        call_param_error(c, name, "type check ('string') failed - got '%s'", text);
        free(text);
        return;
    }
    struct list_check lc = {c, name};
    split_list(v, status_item_check, &lc);
}

static void check_value(struct call *c, const struct route_param *ps, const char *name,
                        const cJSON *v)
{
    if ((v->type & MOCK_NUL_LIST) && ps->type != P_STATUS_LIST) { /* not a -list format */
        call_param_error(c, name, "%s", NUL_TEXT);
        return;
    }
    if (ps->type == P_STATUS_LIST) {
        check_status_list(c, name, v);
        return;
    }
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        call_param_error(c, name, "type check ('%s') failed - got %s",
                         ps->type == P_INT ? "integer" : ps->type == P_BOOL ? "boolean" : "string",
                         cJSON_IsArray(v) ? "ARRAY" : "HASH");
        return;
    }
    char *text = value_text(v);
    switch (ps->type) {
    case P_INT: {
        int ok = cJSON_IsString(v) ? is_int_string(v->valuestring)
                 : cJSON_IsNumber(v) ? v->valuedouble == (double)(int64_t)v->valuedouble
                                     : 0;
        if (!ok) {
            call_param_error(c, name, "type check ('integer') failed - got '%s'", text);
            break;
        }
        int64_t n = cJSON_IsString(v) ? strtoll(v->valuestring, NULL, 10) : (int64_t)v->valuedouble;
        if (ps->min <= ps->max && n < ps->min)
            call_param_error(c, name, "value must have a minimum value of %lld", (long long)ps->min);
        else if (ps->min <= ps->max && n > ps->max)
            call_param_error(c, name, "value must have a maximum value of %lld", (long long)ps->max);
        break;
    }
    case P_BOOL: {
        /* form values must be 0/1; JSON bodies may use true/false */
        int ok = cJSON_IsBool(v) ||
                 (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) ||
                 (cJSON_IsString(v) && (!strcmp(v->valuestring, "0") || !strcmp(v->valuestring, "1")));
        if (!ok)
            call_param_error(c, name, "type check ('boolean') failed - got '%s'", text);
        break;
    }
    case P_ENUM: {
        int ok = 0;
        if (cJSON_IsString(v)) {
            const char *e = ps->extra;
            size_t n = strlen(v->valuestring);
            while (*e) {
                size_t k = strcspn(e, ",");
                if (k == n && strncmp(e, v->valuestring, n) == 0)
                    ok = 1;
                e += k + (e[k] ? 1 : 0);
            }
        }
        if (!ok) {
            char *list = xstrdup(ps->extra), *o = xmalloc(strlen(list) * 2 + 1), *q = o;
            for (char *p = list; *p; p++) {
                *q++ = *p;
                if (*p == ',')
                    *q++ = ' ';
            }
            *q = 0;
            call_param_error(c, name, "value '%s' does not have a value in the enumeration '%s'",
                             text, o);
            free(list);
            free(o);
        }
        break;
    }
    case P_STATUS_LIST: /* checked above */
        break;
    case P_STR:
        if (!cJSON_IsString(v) && !cJSON_IsNumber(v))
            call_param_error(c, name, "type check ('string') failed - got '%s'", text);
        break;
    }
    free(text);
}

void route_validate(struct call *c, const struct route_param *ps)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, c->params)
    {
        const struct route_param *p = param_spec(ps, it->string);
        if (cJSON_IsNull(it)) /* undef ("key=" in a form): absent */
            continue;
        if (!p)
            call_param_error(c, it->string, "property is not defined in schema and the schema "
                                            "does not allow additional properties");
        else
            check_value(c, p, it->string, it);
    }
    for (const struct route_param *p = ps; p->name; p++)
        if (p->required && (!cJSON_GetObjectItemCaseSensitive(c->params, p->name) ||
                            cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c->params, p->name))))
            call_param_error(c, p->name, "property is missing and it is not optional");
}

/* ---- common lookups ---------------------------------------------------- */

struct node *route_need_node(struct call *c)
{
    const char *name = pstr(c, "node");
    struct node *n = name ? state_node(name) : NULL;
    if (!n) /* what pveproxy says when it cannot resolve a node to proxy to */
        call_error(c, 500,
                   "hostname lookup '%s' failed - failed to get address info for: %s: Name or "
                   "service not known",
                   name ? name : "", name ? name : "");
    return n;
}

static struct vm *need_vm(struct call *c, struct node *n)
{
    int vmid = (int)pint(c, "vmid", 0);
    struct vm *v = state_vm(vmid);
    if (!v || strcmp(v->node, n->name) != 0) {
        call_error(c, 500, "Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist",
                   n->name, vmid);
        return NULL;
    }
    return v;
}

static const char *task_user(const struct call *c)
{
    return c->user ? c->user : MOCK_USER;
}

/* ---- handlers ---------------------------------------------------------- */

static void h_index(struct call *c)
{
    static const char *const dirs[] = {"version", "cluster", "nodes", "storage", "access", "pools"};
    c->data = cJSON_CreateArray();
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "subdir", dirs[i]);
        cJSON_AddItemToArray(c->data, o);
    }
}

static void h_version(struct call *c)
{
    c->data = cJSON_CreateObject();
    cJSON_AddStringToObject(c->data, "version", "9.0.3");
    cJSON_AddStringToObject(c->data, "release", "9.0");
    cJSON_AddStringToObject(c->data, "repoid", "025a1b6c0e5fd1c6");
}

static cJSON *node_json(const struct node *n, int resource)
{
    cJSON *o = cJSON_CreateObject();
    char id[300];
    snprintf(id, sizeof id, "node/%s", n->name);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "type", "node");
    cJSON_AddStringToObject(o, "node", n->name);
    cJSON_AddStringToObject(o, "status", "online");
    cJSON_AddNumberToObject(o, "cpu", 0.0431);
    cJSON_AddNumberToObject(o, "maxcpu", n->maxcpu);
    cJSON_AddNumberToObject(o, "mem", (double)(n->maxmem / 4));
    cJSON_AddNumberToObject(o, "maxmem", (double)n->maxmem);
    cJSON_AddNumberToObject(o, "disk", (double)(n->maxdisk / 5));
    cJSON_AddNumberToObject(o, "maxdisk", (double)n->maxdisk);
    cJSON_AddNumberToObject(o, "uptime", 864000);
    cJSON_AddStringToObject(o, "level", "");
    if (resource)
        cJSON_AddStringToObject(o, "cgroup-mode", "2");
    else /* each listener (node) has its own certificate */
        cJSON_AddStringToObject(o, "ssl_fingerprint",
                                tls_fingerprint(listener_of_node(n->name), CERT_NORMAL));
    return o;
}

static void h_nodes(struct call *c)
{
    c->data = cJSON_CreateArray();
    for (int i = 0; i < g_mock.nnodes; i++)
        cJSON_AddItemToArray(c->data, node_json(&g_mock.nodes[i], 0));
}

static void h_resources(struct call *c)
{
    const char *type = pstr(c, "type");
    c->data = cJSON_CreateArray();
    if (!type || !strcmp(type, "node"))
        for (int i = 0; i < g_mock.nnodes; i++)
            cJSON_AddItemToArray(c->data, node_json(&g_mock.nodes[i], 1));
    if (!type || !strcmp(type, "storage"))
        for (int i = 0; i < g_mock.nnodes; i++) {
            static const char *const st[][3] = {{"local", "dir", "iso,vztmpl,backup,import"},
                                                {"local-lvm", "lvmthin", "images,rootdir"}};
            for (int k = 0; k < 2; k++) {
                cJSON *o = cJSON_CreateObject();
                char *id = xasprintf("storage/%s/%s", g_mock.nodes[i].name, st[k][0]);
                cJSON_AddStringToObject(o, "id", id);
                free(id);
                cJSON_AddStringToObject(o, "type", "storage");
                cJSON_AddStringToObject(o, "node", g_mock.nodes[i].name);
                cJSON_AddStringToObject(o, "storage", st[k][0]);
                cJSON_AddStringToObject(o, "status", "available");
                cJSON_AddStringToObject(o, "plugintype", st[k][1]);
                cJSON_AddStringToObject(o, "content", st[k][2]);
                cJSON_AddNumberToObject(o, "shared", 0);
                cJSON_AddNumberToObject(o, "disk", 12884901888.0);
                cJSON_AddNumberToObject(o, "maxdisk", 107374182400.0);
                cJSON_AddItemToArray(c->data, o);
            }
        }
    if (!type || !strcmp(type, "vm"))
        for (int i = 0; i < g_mock.nvms; i++)
            cJSON_AddItemToArray(c->data, vm_resource_json(g_mock.vms[i]));
}

/* Each listener answers as its own node: "local":1 marks it (clients learn from it which
 * endpoint is which node). */
static void h_cluster_status(struct call *c)
{
    int self = c->req ? c->req->listener : 0;
    c->data = cJSON_CreateArray();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "cluster");
    cJSON_AddStringToObject(o, "id", "cluster");
    cJSON_AddStringToObject(o, "name", "pve-mock");
    cJSON_AddNumberToObject(o, "nodes", g_mock.nnodes);
    cJSON_AddNumberToObject(o, "quorate", 1);
    cJSON_AddNumberToObject(o, "version", g_mock.nnodes + 1);
    cJSON_AddItemToArray(c->data, o);
    for (int i = 0; i < g_mock.nnodes; i++) {
        const char *name = g_mock.nodes[i].name, *ip = listener_host(i);
        char *id = xasprintf("node/%s", name);
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "node");
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddNumberToObject(o, "nodeid", i + 1);
        cJSON_AddStringToObject(o, "ip", ip ? ip : "127.0.0.1");
        cJSON_AddStringToObject(o, "level", "");
        cJSON_AddNumberToObject(o, "local", i == self);
        cJSON_AddNumberToObject(o, "online", 1);
        cJSON_AddItemToArray(c->data, o);
        free(id);
    }
}

static void h_qemu_list(struct call *c)
{
    struct node *n = route_need_node(c);
    if (!n)
        return;
    c->data = cJSON_CreateArray();
    for (int i = 0; i < g_mock.nvms; i++) {
        struct vm *v = g_mock.vms[i];
        if (strcmp(v->node, n->name) != 0)
            continue;
        cJSON *o = vm_resource_json(v);
        /* the node-local list has no id/type/node, and says cpus for maxcpu */
        cJSON_DeleteItemFromObject(o, "id");
        cJSON_DeleteItemFromObject(o, "type");
        cJSON_DeleteItemFromObject(o, "node");
        cJSON_DeleteItemFromObject(o, "template");
        cJSON_DeleteItemFromObject(o, "maxcpu");
        cJSON_AddNumberToObject(o, "cpus", v->cores);
        cJSON_AddItemToArray(c->data, o);
    }
}

static void h_qemu_create(struct call *c)
{
    struct node *n = route_need_node(c);
    if (!n)
        return;
    int vmid = (int)pint(c, "vmid", 0);
    if (state_vm(vmid)) {
        call_error(c, 500, "VM %d already exists", vmid);
        return;
    }
    struct vm *v = state_vm_add(vmid, pstr(c, "name"), n->name);
    if (!pstr(c, "name")) {
        free(v->name);
        v->name = xasprintf("VM%d", vmid);
    }
    v->maxmem = pint(c, "memory", 512) * 1024 * 1024;
    v->cores = (int)(pint(c, "cores", 1) * pint(c, "sockets", 1));
    v->busy = 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, c->params)
    {
        static const char *const skip[] = {"node", "vmid", "name", "memory", "cores", "start", NULL};
        int s = 0;
        for (int k = 0; skip[k]; k++)
            s |= !strcmp(it->string, skip[k]);
        if (!s)
            cJSON_AddItemToObject(v->config, it->string, cJSON_Duplicate(it, 1));
    }
    char id[16];
    snprintf(id, sizeof id, "%d", vmid);
    struct task *t = task_start(n->name, "qmcreate", id, task_user(c), vmid,
                               pbool(c, "start") ? ACT_CREATE_START : ACT_CREATE);
    c->data = cJSON_CreateString(t->upid);
}

static void h_qemu_current(struct call *c)
{
    struct node *n = route_need_node(c);
    struct vm *v = n ? need_vm(c, n) : NULL;
    if (!v)
        return;
    cJSON *o = vm_resource_json(v);
    cJSON_DeleteItemFromObject(o, "id");
    cJSON_DeleteItemFromObject(o, "type");
    cJSON_DeleteItemFromObject(o, "node");
    cJSON_DeleteItemFromObject(o, "template");
    cJSON_DeleteItemFromObject(o, "maxcpu");
    cJSON_AddNumberToObject(o, "cpus", v->cores);
    cJSON_AddStringToObject(o, "qmpstatus", v->running ? "running" : "stopped");
    cJSON *ha = cJSON_AddObjectToObject(o, "ha");
    cJSON_AddNumberToObject(ha, "managed", 0);
    if (v->running) {
        cJSON_AddNumberToObject(o, "pid", 10000 + v->vmid);
        cJSON_AddStringToObject(o, "running-machine", "pc-i440fx-9.2+pve1");
        cJSON_AddStringToObject(o, "running-qemu", "9.2.0");
    }
    c->data = o;
}

/* GET config: the stored keys as PVE returns them, plus name, memory and cores. */
static void h_qemu_config(struct call *c)
{
    struct node *n = route_need_node(c);
    struct vm *v = n ? need_vm(c, n) : NULL;
    if (!v)
        return;
    cJSON *o = cJSON_Duplicate(v->config, 1);
    if (v->name && !cJSON_GetObjectItemCaseSensitive(o, "name"))
        cJSON_AddStringToObject(o, "name", v->name);
    if (!cJSON_GetObjectItemCaseSensitive(o, "memory"))
        cJSON_AddStringToObject(o, "memory", "2048");
    if (!cJSON_GetObjectItemCaseSensitive(o, "cores"))
        cJSON_AddNumberToObject(o, "cores", v->cores);
    cJSON_AddStringToObject(o, "digest", "0000000000000000000000000000000000000000");
    c->data = o;
}

static void vm_action(struct call *c, const char *type)
{
    struct node *n = route_need_node(c);
    struct vm *v = n ? need_vm(c, n) : NULL;
    if (!v)
        return;
    if (v->busy) {
        call_error(c, 500, "VM is locked (create)");
        return;
    }
    char id[16];
    snprintf(id, sizeof id, "%d", v->vmid);
    struct task *t = task_start(n->name, type, id, task_user(c), v->vmid, ACT_NONE);
    c->data = cJSON_CreateString(t->upid);
}

static void h_vm_start(struct call *c) { vm_action(c, "qmstart"); }
static void h_vm_stop(struct call *c) { vm_action(c, "qmstop"); }
static void h_vm_shutdown(struct call *c) { vm_action(c, "qmshutdown"); }

/* PVE's $convert_token_task (Tasks.pm): a user that is a token id, "user@realm!tokenid", is
 * split into user and tokenid. Returns the length of the user part; *tok gets the token's
 * name, or NULL for a plain user. */
static size_t task_user_split(const char *user, const char **tok)
{
    const char *bang = strrchr(user, '!'), *at = strchr(user, '@');
    *tok = NULL;
    if (!bang || !at || at > bang || !isalpha((unsigned char)bang[1]))
        return strlen(user);
    for (const char *p = bang + 1; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
            return strlen(user);
    *tok = bang + 1;
    return (size_t)(bang - user);
}

enum { TJ_STATUS, TJ_ARCHIVE, TJ_ACTIVE };

/* A task as read_task_status (TJ_STATUS) or the task list gives it: the list's finished tasks
 * come from the index (TJ_ARCHIVE: endtime, the exit status as "status"), its running ones
 * from the active file (TJ_ACTIVE: status "RUNNING"; node_tasks does not convert the token
 * there, so user stays "user@realm!tokenid" without tokenid). */
static cJSON *task_json(const struct task *t, int mode)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "upid", t->upid);
    cJSON_AddStringToObject(o, "node", t->node);
    cJSON_AddNumberToObject(o, "pid", t->pid);
    cJSON_AddNumberToObject(o, "pstart", t->pstart);
    cJSON_AddNumberToObject(o, "starttime", (double)t->starttime);
    cJSON_AddStringToObject(o, "type", t->type);
    cJSON_AddStringToObject(o, "id", t->id);
    const char *tok = NULL;
    size_t ulen = mode == TJ_ACTIVE ? strlen(t->user) : task_user_split(t->user, &tok);
    char *user = xmalloc(ulen + 1);
    memcpy(user, t->user, ulen);
    user[ulen] = 0;
    cJSON_AddStringToObject(o, "user", user);
    free(user);
    if (tok)
        cJSON_AddStringToObject(o, "tokenid", tok);
    if (mode == TJ_ARCHIVE) {
        cJSON_AddNumberToObject(o, "endtime", (double)t->endtime);
        cJSON_AddStringToObject(o, "status", t->exitstatus);
    } else if (mode == TJ_ACTIVE) {
        cJSON_AddStringToObject(o, "status", "RUNNING");
    } else {
        cJSON_AddStringToObject(o, "status", t->running ? "running" : "stopped");
        if (!t->running)
            cJSON_AddStringToObject(o, "exitstatus", t->exitstatus);
    }
    return o;
}

/* The task a path's {upid} names, on the path's node (its log file is the node's): a UPID
 * upid_decode cannot parse and one of no task are both 400 errors.upid, as read_task_status and
 * stop_task raise them. *parsed says whether the UPID parsed (the log reads a missing file). */
static struct task *need_task(struct call *c, const struct node *n, int *parsed)
{
    const char *upid = pstr(c, "upid");
    if (parsed)
        *parsed = upid && upid_valid(upid);
    if (!upid || !upid_valid(upid)) {
        call_param_error(c, "upid", "unable to parse worker upid");
        return NULL;
    }
    struct task *t = task_find(upid);
    if (!t || strcmp(t->node, n->name) != 0) {
        if (!parsed)
            call_param_error(c, "upid", "no such task");
        return NULL;
    }
    return t;
}

/* Perl's truth of a string parameter: undef, "" and "0" are false. */
static int ptrue(const char *s) { return s && *s && strcmp(s, "0") != 0; }

/* PVE::UPID::normalize_status_type: the list's status as ok, warning, error or unknown (a
 * running task has none: unknown). */
static int status_type(const struct task *t)
{
    const char *s = t->running ? NULL : t->exitstatus;
    if (!s || !*s || !strcmp(s, "unexpected status"))
        return ST_UNKNOWN;
    if (!strcmp(s, "OK"))
        return ST_OK;
    if (!strncmp(s, "WARNINGS: ", 10) && s[10] && strspn(s + 10, "0123456789") == strlen(s + 10))
        return ST_WARNING;
    return ST_ERROR;
}

struct status_set {
    int on[ST_COUNT]; /* by status type */
};

static void status_set_add(const char *item, size_t len, void *arg)
{
    struct status_set *f = arg;
    int i = status_index(item, len);
    if (i >= 0)
        f->on[i] = 1;
}

struct tasks_query {
    const struct node *n;
    int64_t start, limit, since, until;
    int has_since, has_until;
    char *vmid; /* as text: Tasks.pm compares the id with ne */
    const char *tf, *uf;
    struct status_set want;
    long count;
};

/* node_tasks' $filter_task for one task (the auditor sees every task); 1 = leave it out. */
static int task_filtered(struct tasks_query *q, const struct task *t, int active)
{
    if (strcmp(t->node, q->n->name) != 0)
        return 1;
    if (ptrue(q->uf)) { /* m/\Q$userfilter\E/i on the user, token part cut off in the index */
        const char *tok;
        size_t ulen = active ? strlen(t->user) : task_user_split(t->user, &tok);
        size_t flen = strlen(q->uf);
        int found = 0;
        for (size_t i = 0; !found && i + flen <= ulen; i++)
            found = strncasecmp(t->user + i, q->uf, flen) == 0;
        if (!found)
            return 1;
    }
    if (ptrue(q->tf) && strcmp(t->type, q->tf) != 0)
        return 1;
    if (ptrue(q->vmid) && (!ptrue(t->id) || strcmp(t->id, q->vmid) != 0))
        return 1;
    if (q->has_since && (int64_t)t->starttime < q->since)
        return 1;
    if (q->has_until && (int64_t)t->starttime > q->until)
        return 1;
    if (!q->want.on[status_type(t)])
        return 1;
    if (q->count++ < q->start)
        return 1;
    return q->limit <= 0;
}

/* GET /nodes/{node}/tasks as node_tasks: running tasks first (source active or all, from the
 * active file), then finished ones (source archive, the default, or all, from the index);
 * total counts every match, limit=0 lists none. */
static void h_tasks(struct call *c)
{
    struct node *n = route_need_node(c);
    if (!n)
        return;
    struct tasks_query q = {0};
    q.n = n;
    q.start = pint(c, "start", 0);
    q.limit = pint(c, "limit", 50);
    const cJSON *vm = cJSON_GetObjectItemCaseSensitive(c->params, "vmid");
    q.vmid = vm && !cJSON_IsNull(vm) ? value_text(vm) : NULL;
    q.tf = pstr(c, "typefilter");
    q.uf = pstr(c, "userfilter");
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(c->params, "since");
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(c->params, "until");
    q.has_since = since && !cJSON_IsNull(since);
    q.has_until = until && !cJSON_IsNull(until);
    q.since = pint(c, "since", 0);
    q.until = pint(c, "until", 0);
    int errors = pbool(c, "errors");
    const char *source = pstr(c, "source");
    if (!source)
        source = "archive";
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(c->params, "statusfilter");
    if (sf && !cJSON_IsNull(sf) && !errors) {
        split_list(sf, status_set_add, &q.want);
    } else {
        q.want = (struct status_set){{1, 1, 1, 1}};
        if (errors)
            q.want.on[ST_OK] = 0;
    }
    c->data = cJSON_CreateArray();
    if (strcmp(source, "archive") != 0)
        for (struct task *t = g_mock.tasks; t; t = t->next)
            if (t->running && !task_filtered(&q, t, 1)) {
                cJSON_AddItemToArray(c->data, task_json(t, TJ_ACTIVE));
                q.limit--;
            }
    if (strcmp(source, "active") != 0)
        for (struct task *t = g_mock.tasks; t; t = t->next)
            if (!t->running && !task_filtered(&q, t, 0)) {
                cJSON_AddItemToArray(c->data, task_json(t, TJ_ARCHIVE));
                q.limit--;
            }
    c->total = q.count;
    free(q.vmid);
}

static void h_task_status(struct call *c)
{
    struct node *n = route_need_node(c);
    if (!n)
        return;
    struct task *t = need_task(c, n, NULL);
    if (t)
        c->data = task_json(t, TJ_STATUS);
}

/* The log file read_task_log opens: /var/log/pve/tasks/<last digit of STARTTIME>/<UPID>. */
static char *task_log_file(const char *upid)
{
    const char *p = upid;
    for (int i = 0; i < 4; i++)
        p = strchr(p, ':') + 1; /* a parsed UPID: STARTTIME is the fifth field */
    return xasprintf("/var/log/pve/tasks/%c/%s", p[7], upid);
}

static void h_task_log(struct call *c)
{
    struct node *n = route_need_node(c);
    if (!n)
        return;
    int parsed = 0;
    struct task *t = need_task(c, n, &parsed);
    if (!parsed)
        return;
    const cJSON *has_start = cJSON_GetObjectItemCaseSensitive(c->params, "start");
    const cJSON *has_limit = cJSON_GetObjectItemCaseSensitive(c->params, "limit");
    if (pbool(c, "download")) {
        if (has_start || has_limit) {
            call_error(c, 500, "'download' cannot be used together with 'start' or 'limit' "
                               "parameters");
        } else if (!t) {
            char *file = task_log_file(pstr(c, "upid"));
            call_error(c, 500, "Could not open file '%s' - No such file or directory", file);
            free(file);
        } else {
            transfer_task_log_download(c, t);
        }
        return;
    }
    c->data = cJSON_CreateArray();
    if (!t) { /* PVE::Tools::dump_logfile on a file it cannot open */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", 1);
        cJSON_AddStringToObject(o, "t", "unable to open file - No such file or directory");
        cJSON_AddItemToArray(c->data, o);
        c->total = 1;
        return;
    }
    int64_t start = pint(c, "start", 0), limit = pint(c, "limit", 50);
    int64_t from = start, to = limit == 0 ? t->nlog : start + limit;
    if (start > 0 && fault_take(&g_mock.faults.task_log_stale)) {
        /* a page of lines the client has seen already: the ones just below start */
        from = limit == 0 || start < limit ? 0 : start - limit;
        to = start;
    }
    int dup = fault_take(&g_mock.faults.task_log_dup);
    for (int64_t i = from; i < t->nlog && i < to; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", (double)(i + 1));
        cJSON_AddStringToObject(o, "t", t->log[i]);
        if (dup) { /* every member twice */
            cJSON_AddItemToObject(o, "n", cJSON_CreateNumber((double)(i + 1)));
            cJSON_AddItemToObject(o, "t", cJSON_CreateString(t->log[i]));
        }
        cJSON_AddItemToArray(c->data, o);
    }
    c->total = t->nlog;
}

static void h_task_delete(struct call *c)
{
    struct node *n = route_need_node(c);
    if (!n)
        return;
    struct task *t = need_task(c, n, NULL);
    if (!t)
        return;
    task_stop(t);
    c->data = cJSON_CreateNull();
}

/* ---- the table --------------------------------------------------------- */

static const struct route_param p_none[] = {PEND};
static const struct route_param p_ticket[] = {
    {"username", P_STR, 1, NOLIM, NULL}, {"password", P_STR, 1, NOLIM, NULL},
    {"realm", P_STR, 0, NOLIM, NULL},    {"otp", P_STR, 0, NOLIM, NULL},
    {"tfa-challenge", P_STR, 0, NOLIM, NULL}, {"new-format", P_BOOL, 0, NOLIM, NULL},
    {"path", P_STR, 0, NOLIM, NULL},     {"privs", P_STR, 0, NOLIM, NULL},
    PEND};
static const struct route_param p_resources[] = {
    {"type", P_ENUM, 0, NOLIM, "vm,storage,node,sdn"}, PEND};
static const struct route_param p_qemu_list[] = {
    {"node", P_STR, 1, NOLIM, NULL}, {"full", P_BOOL, 0, NOLIM, NULL}, PEND};
static const struct route_param p_qemu_create[] = {
    {"node", P_STR, 1, NOLIM, NULL},
    {"vmid", P_INT, 1, VMID_RANGE, NULL},
    {"name", P_STR, 0, NOLIM, NULL},
    {"memory", P_INT, 0, 16, 268435456, NULL},
    {"cores", P_INT, 0, 1, 1024, NULL},
    {"sockets", P_INT, 0, 1, 16, NULL},
    {"start", P_BOOL, 0, NOLIM, NULL},
    {"onboot", P_BOOL, 0, NOLIM, NULL},
    {"description", P_STR, 0, NOLIM, NULL},
    {"ostype", P_STR, 0, NOLIM, NULL},
    {"cpu", P_STR, 0, NOLIM, NULL},
    {"scsihw", P_STR, 0, NOLIM, NULL},
    {"boot", P_STR, 0, NOLIM, NULL},
    {"agent", P_STR, 0, NOLIM, NULL},
    {"tags", P_STR, 0, NOLIM, NULL},
    {"pool", P_STR, 0, NOLIM, NULL},
    {"net", P_STR, 0, NOLIM, "indexed"},
    {"scsi", P_STR, 0, NOLIM, "indexed"},
    {"virtio", P_STR, 0, NOLIM, "indexed"},
    {"sata", P_STR, 0, NOLIM, "indexed"},
    {"ide", P_STR, 0, NOLIM, "indexed"},
    PEND};
static const struct route_param p_vm[] = {
    {"node", P_STR, 1, NOLIM, NULL}, {"vmid", P_INT, 1, VMID_RANGE, NULL}, PEND};
static const struct route_param p_vm_action[] = {
    {"node", P_STR, 1, NOLIM, NULL},       {"vmid", P_INT, 1, VMID_RANGE, NULL},
    {"skiplock", P_BOOL, 0, NOLIM, NULL},  {"timeout", P_INT, 0, 0, 86400, NULL},
    {"keepActive", P_BOOL, 0, NOLIM, NULL}, {"forceStop", P_BOOL, 0, NOLIM, NULL},
    PEND};
static const struct route_param p_tasks[] = {
    {"node", P_STR, 1, NOLIM, NULL},          {"start", P_INT, 0, 0, 2147483647, NULL},
    {"limit", P_INT, 0, 0, 2147483647, NULL}, {"vmid", P_INT, 0, VMID_RANGE, NULL},
    {"typefilter", P_STR, 0, NOLIM, NULL},    {"userfilter", P_STR, 0, NOLIM, NULL},
    {"errors", P_BOOL, 0, NOLIM, NULL},       {"source", P_ENUM, 0, NOLIM, "archive,active,all"},
    {"since", P_INT, 0, NOLIM, NULL},         {"until", P_INT, 0, NOLIM, NULL},
    {"statusfilter", P_STATUS_LIST, 0, NOLIM, NULL}, PEND};
static const struct route_param p_task[] = {
    {"node", P_STR, 1, NOLIM, NULL}, {"upid", P_STR, 1, NOLIM, NULL}, PEND};
static const struct route_param p_task_log[] = {
    {"node", P_STR, 1, NOLIM, NULL},         {"upid", P_STR, 1, NOLIM, NULL},
    {"start", P_INT, 0, 0, 2147483647, NULL}, {"limit", P_INT, 0, 0, 2147483647, NULL},
    {"download", P_BOOL, 0, NOLIM, NULL},    PEND};

static const struct route_param p_content[] = {
    {"node", P_STR, 1, NOLIM, NULL},    {"storage", P_STR, 1, NOLIM, NULL},
    {"content", P_STR, 0, NOLIM, NULL}, {"vmid", P_INT, 0, VMID_RANGE, NULL},
    PEND};

static const struct route routes[] = {
    {R_GET, "/access/ticket", auth_route_ticket_get, 1, NULL},
    {R_POST, "/access/ticket", auth_route_ticket_post, 1, p_ticket},
    {R_GET, "/access/domains", auth_route_domains, 1, p_none},
    {R_GET, "/", h_index, 0, p_none},
    {R_GET, "/version", h_version, 0, p_none},
    {R_GET, "/nodes", h_nodes, 0, p_none},
    {R_GET, "/cluster/resources", h_resources, 0, p_resources},
    {R_GET, "/cluster/status", h_cluster_status, 0, p_none},
    {R_GET, "/nodes/{node}/qemu", h_qemu_list, 0, p_qemu_list},
    {R_POST, "/nodes/{node}/qemu", h_qemu_create, 0, p_qemu_create},
    {R_GET, "/nodes/{node}/qemu/{vmid}/config", h_qemu_config, 0, p_vm},
    {R_GET, "/nodes/{node}/qemu/{vmid}/status/current", h_qemu_current, 0, p_vm},
    {R_POST, "/nodes/{node}/qemu/{vmid}/status/start", h_vm_start, 0, p_vm_action},
    {R_POST, "/nodes/{node}/qemu/{vmid}/status/stop", h_vm_stop, 0, p_vm_action},
    {R_POST, "/nodes/{node}/qemu/{vmid}/status/shutdown", h_vm_shutdown, 0, p_vm_action},
    {R_GET, "/nodes/{node}/tasks", h_tasks, 0, p_tasks},
    {R_GET, "/nodes/{node}/tasks/{upid}/status", h_task_status, 0, p_task},
    {R_GET, "/nodes/{node}/tasks/{upid}/log", h_task_log, 0, p_task_log},
    {R_DELETE, "/nodes/{node}/tasks/{upid}", h_task_delete, 0, p_task},
    {R_GET, "/nodes/{node}/storage/{storage}/content", transfer_route_content, 0, p_content},
    /* their handlers check the parameters themselves (uploads: after the proxy check) */
    {R_POST, "/nodes/{node}/storage/{storage}/upload", transfer_route_upload, 0, NULL},
    {R_GET, "/nodes/{node}/storage/{storage}/file-restore/download", transfer_route_file_restore,
     0, NULL},
};

/* Match pattern segments against the call's; {x} takes one whole segment. */
static int pattern_match(const char *pat, const struct call *c, cJSON *bind)
{
    int i = 0;
    const char *p = pat;
    while (*p == '/')
        p++;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (i >= c->nseg)
            return 0;
        if (p[0] == '{') {
            if (bind) {
                char *name = xmalloc(n);
                memcpy(name, p + 1, n - 2);
                name[n - 2] = 0;
                cJSON_AddStringToObject(bind, name, c->seg[i]);
                free(name);
            }
        } else if (strlen(c->seg[i]) != n || strncmp(p, c->seg[i], n) != 0) {
            return 0;
        }
        i++;
        p += n;
        while (*p == '/')
            p++;
    }
    return i == c->nseg;
}

const struct route *route_find(const struct call *c, int *path_known)
{
    *path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!pattern_match(routes[i].pattern, c, NULL))
            continue;
        *path_known = 1;
        if (routes[i].method == c->method)
            return &routes[i];
    }
    return NULL;
}

void route_dispatch(const struct route *r, struct call *c)
{
    cJSON *bind = cJSON_CreateObject();
    pattern_match(r->pattern, c, bind);
    cJSON *it;
    cJSON_ArrayForEach(it, bind)
    {
        cJSON *old = cJSON_GetObjectItemCaseSensitive(c->params, it->string);
        char *old_text = old && (cJSON_IsString(old) || cJSON_IsNumber(old)) ? value_text(old) : NULL;
        int same = old_text && !strcmp(old_text, it->valuestring); /* Perl compares as strings */
        free(old_text);
        if (old && !same)
            call_param_error(c, it->string, "duplicate parameter (already defined in URI) with conflicting values!");
        else if (!old)
            cJSON_AddItemToObject(c->params, it->string, cJSON_CreateString(it->valuestring));
    }
    cJSON_Delete(bind);
    if (c->status != 200)
        return;
    if (r->params)
        route_validate(c, r->params);
    if (c->status != 200)
        return;
    r->fn(c);
}
