/* pve-mock: cluster state (nodes, VMs) and the task runner.
 *
 * Tasks run on libevent timers: every 200 ms a log line is added, and after
 * task_ms the task stops with its planned exit status and applies its effect
 * to the VM, the way a PVE worker changes the guest only when it finishes. */
#include "mock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 200

static const char *default_fixture =
    "{\"nodes\":[{\"node\":\"pve1\",\"maxcpu\":8,\"maxmem\":34359738368,\"maxdisk\":107374182400},"
    "{\"node\":\"pve2\",\"maxcpu\":4,\"maxmem\":17179869184,\"maxdisk\":107374182400}],"
    "\"vms\":[{\"vmid\":100,\"name\":\"web\",\"node\":\"pve1\",\"status\":\"running\","
    "\"maxmem\":2147483648,\"cores\":2,\"maxdisk\":34359738368},"
    "{\"vmid\":101,\"name\":\"db\",\"node\":\"pve1\",\"status\":\"stopped\",\"maxmem\":4294967296,"
    "\"cores\":4,\"maxdisk\":68719476736},"
    "{\"vmid\":200,\"name\":\"ci\",\"node\":\"pve2\",\"status\":\"stopped\",\"maxmem\":1073741824,"
    "\"cores\":1,\"maxdisk\":17179869184}]}";

struct node *state_node(const char *name)
{
    for (int i = 0; i < g_mock.nnodes; i++)
        if (strcmp(g_mock.nodes[i].name, name) == 0)
            return &g_mock.nodes[i];
    return NULL;
}

struct vm *state_vm(int vmid)
{
    for (int i = 0; i < g_mock.nvms; i++)
        if (g_mock.vms[i]->vmid == vmid)
            return g_mock.vms[i];
    return NULL;
}

struct vm *state_vm_add(int vmid, const char *name, const char *node)
{
    if (g_mock.nvms == g_mock.capvms) {
        g_mock.capvms = g_mock.capvms ? g_mock.capvms * 2 : 16;
        g_mock.vms = realloc(g_mock.vms, sizeof *g_mock.vms * (size_t)g_mock.capvms);
        if (!g_mock.vms)
            abort();
    }
    struct vm *v = xmalloc(sizeof *v);
    memset(v, 0, sizeof *v);
    v->vmid = vmid;
    v->name = xstrdup(name ? name : "");
    v->node = xstrdup(node);
    v->maxmem = 512LL * 1024 * 1024;
    v->cores = 1;
    v->maxdisk = 0;
    v->config = cJSON_CreateObject();
    g_mock.vms[g_mock.nvms++] = v;
    return v;
}

static void vm_free(struct vm *v)
{
    free(v->name);
    free(v->node);
    cJSON_Delete(v->config);
    free(v);
}

void state_vm_remove(int vmid)
{
    for (int i = 0; i < g_mock.nvms; i++)
        if (g_mock.vms[i]->vmid == vmid) {
            vm_free(g_mock.vms[i]);
            memmove(&g_mock.vms[i], &g_mock.vms[i + 1],
                    sizeof *g_mock.vms * (size_t)(g_mock.nvms - i - 1));
            g_mock.nvms--;
            return;
        }
}

static int64_t jint(const cJSON *o, const char *k, int64_t def)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? (int64_t)x->valuedouble : def;
}

static const char *jstr(const cJSON *o, const char *k, const char *def)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(x) ? x->valuestring : def;
}

int state_load(const char *fixture, int extra_vms, int min_nodes)
{
    char *text = NULL;
    if (fixture) {
        FILE *f = fopen(fixture, "rb");
        if (!f) {
            fprintf(stderr, "pve-mock: cannot open fixture %s\n", fixture);
            return -1;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = xmalloc((size_t)n + 1);
        size_t got = fread(text, 1, (size_t)n, f);
        text[got] = 0;
        fclose(f);
    }
    cJSON *root = cJSON_Parse(text ? text : default_fixture);
    free(text);
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    if (!root || !cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) == 0) {
        fprintf(stderr, "pve-mock: fixture needs a non-empty \"nodes\" array\n");
        cJSON_Delete(root);
        return -1;
    }
    int nfix = cJSON_GetArraySize(nodes);
    g_mock.nnodes = nfix > min_nodes ? nfix : min_nodes;
    g_mock.nodes = xcalloc((size_t)g_mock.nnodes, sizeof *g_mock.nodes);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, nodes)
    {
        struct node *n = &g_mock.nodes[i++];
        n->name = xstrdup(jstr(it, "node", "pve"));
        n->maxcpu = (int)jint(it, "maxcpu", 4);
        n->maxmem = jint(it, "maxmem", 16LL << 30);
        n->maxdisk = jint(it, "maxdisk", 100LL << 30);
    }
    /* more listeners than fixture nodes: nodes pve<k> (the first free k) for the rest */
    for (int k = 1; i < g_mock.nnodes; k++) {
        char name[32];
        snprintf(name, sizeof name, "pve%d", k);
        int taken = 0;
        for (int j = 0; j < i; j++)
            taken |= strcmp(g_mock.nodes[j].name, name) == 0;
        if (taken)
            continue;
        struct node *n = &g_mock.nodes[i++];
        n->name = xstrdup(name);
        n->maxcpu = 4;
        n->maxmem = 16LL << 30;
        n->maxdisk = 100LL << 30;
    }
    const cJSON *vms = cJSON_GetObjectItemCaseSensitive(root, "vms");
    cJSON_ArrayForEach(it, vms)
    {
        int vmid = (int)jint(it, "vmid", 0);
        const char *node = jstr(it, "node", g_mock.nodes[0].name);
        if (vmid < 100 || state_vm(vmid) || !state_node(node))
            continue;
        struct vm *v = state_vm_add(vmid, jstr(it, "name", ""), node);
        v->running = strcmp(jstr(it, "status", "stopped"), "running") == 0;
        v->maxmem = jint(it, "maxmem", v->maxmem);
        v->cores = (int)jint(it, "cores", v->cores);
        v->maxdisk = jint(it, "maxdisk", v->maxdisk);
        if (v->running)
            v->started = time(NULL) - 3600;
        /* Any other string keys (net0, ostype, ...) are kept as config. */
        const cJSON *kv;
        cJSON_ArrayForEach(kv, it)
        {
            if (cJSON_IsString(kv) && strcmp(kv->string, "name") && strcmp(kv->string, "node") &&
                strcmp(kv->string, "status"))
                cJSON_AddStringToObject(v->config, kv->string, kv->valuestring);
        }
    }
    cJSON_Delete(root);
    /* --vms N: bulk VMs for large /cluster/resources answers. */
    int vmid = 1000, nfixvm = g_mock.nvms;
    for (int k = 0; k < extra_vms; k++) {
        /* only fixture VMs can collide: bulk ids only grow (keeps start-up linear) */
        for (int f = 0; f < nfixvm; f++)
            if (g_mock.vms[f]->vmid == vmid) {
                vmid++;
                f = -1;
            }
        char name[32];
        snprintf(name, sizeof name, "bulk-%d", vmid);
        struct vm *v = state_vm_add(vmid, name, g_mock.nodes[k % g_mock.nnodes].name);
        v->running = k % 3 == 0;
        v->maxmem = 1LL << 30;
        v->maxdisk = 8LL << 30;
        if (v->running)
            v->started = time(NULL) - k;
        vmid++;
    }
    g_mock.next_pid = (unsigned)getpid() * 7u + 1000u;
    return 0;
}

static void task_free(struct task *t)
{
    if (t->tick)
        event_free(t->tick);
    if (t->done) /* still running at exit: it never ended well */
        t->done(t, 0, t->done_arg);
    free(t->done_arg);
    for (int i = 0; i < t->nlog; i++)
        free(t->log[i]);
    free(t->log);
    free(t->node);
    free(t->type);
    free(t->id);
    free(t->user);
    free(t->exitstatus);
    free(t->planned);
    free(t);
}

void state_free(void)
{
    for (int i = 0; i < g_mock.nvms; i++)
        vm_free(g_mock.vms[i]);
    free(g_mock.vms);
    g_mock.vms = NULL;
    g_mock.nvms = g_mock.capvms = 0;
    for (int i = 0; i < g_mock.nnodes; i++)
        free(g_mock.nodes[i].name);
    free(g_mock.nodes);
    g_mock.nodes = NULL;
    g_mock.nnodes = 0;
    while (g_mock.tasks) {
        struct task *t = g_mock.tasks;
        g_mock.tasks = t->next;
        task_free(t);
    }
}

static void task_log(struct task *t, const char *line)
{
    if (t->nlog == t->caplog) {
        t->caplog = t->caplog ? t->caplog * 2 : 16;
        t->log = realloc(t->log, sizeof *t->log * (size_t)t->caplog);
        if (!t->log)
            abort();
    }
    t->log[t->nlog++] = xstrdup(line);
}

void task_log_line(struct task *t, const char *line)
{
    task_log(t, line);
}

static int task_effect_vmid(const struct task *t)
{
    return t->id && *t->id ? atoi(t->id) : 0;
}

static void task_finish(struct task *t, const char *status)
{
    t->running = 0;
    t->endtime = time(NULL);
    t->exitstatus = xstrdup(status);
    if (t->tick) {
        event_free(t->tick);
        t->tick = NULL;
    }
    int ok = strcmp(status, "OK") == 0 || strncmp(status, "WARNINGS: ", 10) == 0;
    if (t->done) { /* before the last line: it may log (e.g. "finished file import") */
        task_done_fn done = t->done;
        t->done = NULL;
        done(t, ok, t->done_arg);
        free(t->done_arg);
        t->done_arg = NULL;
    }
    if (strncmp(status, "WARNINGS: ", 10) == 0) {
        int n = atoi(status + 10);
        for (int i = 0; i < n; i++)
            task_log(t, "WARN: mock warning");
        char *line = xasprintf("TASK %s", status);
        task_log(t, line);
        free(line);
    } else if (ok) {
        task_log(t, "TASK OK");
    } else {
        char *line = xasprintf("TASK ERROR: %s", status);
        task_log(t, line);
        free(line);
    }
    struct vm *v = state_vm(task_effect_vmid(t));
    if (!v)
        return;
    if (strcmp(t->type, "qmcreate") == 0) {
        v->busy = 0;
        if (!ok)
            state_vm_remove(v->vmid);
        else if (t->action == ACT_CREATE_START) {
            v->running = 1;
            v->started = time(NULL);
        }
        return;
    }
    if (!ok)
        return;
    if (strcmp(t->type, "qmstart") == 0) {
        if (!v->running)
            v->started = time(NULL);
        v->running = 1;
    } else if (strcmp(t->type, "qmstop") == 0 || strcmp(t->type, "qmshutdown") == 0) {
        v->running = 0;
    }
}

static void task_tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    struct task *t = arg;
    t->elapsed_ms += TICK_MS;
    if (t->elapsed_ms < g_mock.cfg.task_ms) {
        char line[64];
        snprintf(line, sizeof line, "progress %d%%",
                 (int)((long long)t->elapsed_ms * 100 / g_mock.cfg.task_ms));
        task_log(t, line);
        return;
    }
    task_finish(t, t->planned ? t->planned : "OK");
}

static struct task *task_begin(const char *node, const char *type, const char *id,
                               const char *user, const char *const *lines, const char *planned,
                               task_done_fn done, void *done_arg, int action)
{
    struct task *t = xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->node = xstrdup(node);
    t->type = xstrdup(type);
    t->id = xstrdup(id);
    t->user = xstrdup(user);
    t->pid = g_mock.next_pid++ & 0x3fffff;
    t->pstart = (unsigned)(time(NULL) % 100000000) + 1000;
    t->starttime = time(NULL);
    t->running = 1;
    t->action = action;
    t->done = done;
    t->done_arg = done_arg;
    snprintf(t->upid, sizeof t->upid, "UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, t->pid, t->pstart,
             (unsigned)t->starttime, type, id, user);
    if (planned)
        t->planned = xstrdup(planned);
    else if (g_mock.faults.task_exitstatus)
        t->planned = xstrdup(g_mock.faults.task_exitstatus);
    /* A real start of a running guest fails inside the worker. */
    struct vm *v = state_vm(atoi(id));
    if (!t->planned && v && strcmp(type, "qmstart") == 0 && v->running)
        t->planned = xasprintf("VM %d already running", v->vmid);
    char *first = xasprintf("starting task %s", t->upid);
    task_log(t, first);
    free(first);
    for (int i = 0; lines && lines[i]; i++)
        task_log(t, lines[i]);
    t->next = g_mock.tasks;
    g_mock.tasks = t;
    g_mock.ntasks++;
    if (g_mock.cfg.task_ms <= 0) {
        task_finish(t, t->planned ? t->planned : "OK");
        return t;
    }
    t->tick = event_new(g_mock.base, -1, EV_PERSIST, task_tick, t);
    struct timeval tv = {0, TICK_MS * 1000};
    if (g_mock.cfg.task_ms < TICK_MS)
        tv.tv_usec = g_mock.cfg.task_ms * 1000;
    event_add(t->tick, &tv);
    return t;
}

struct task *task_start_ex(const char *node, const char *type, const char *id, const char *user,
                           const char *const *lines, const char *planned, task_done_fn done,
                           void *done_arg)
{
    return task_begin(node, type, id, user, lines, planned, done, done_arg, ACT_NONE);
}

struct task *task_start(const char *node, const char *type, const char *id, const char *user,
                        int vmid_target, int action)
{
    (void)vmid_target;
    return task_begin(node, type, id, user, NULL, NULL, NULL, NULL, action);
}

struct task *task_find(const char *upid)
{
    for (struct task *t = g_mock.tasks; t; t = t->next)
        if (strcmp(t->upid, upid) == 0)
            return t;
    return NULL;
}

void task_stop(struct task *t)
{
    if (t->running)
        task_finish(t, "interrupted by signal");
}

/* UPID:node:PID:PSTART:STARTTIME:type:id:user: as PVE::UPID::decode's pattern:
 * ^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):
 * ([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$ -- Perl's $ also matches before a final
 * "\n", so one newline after the last colon still parses (its log file then does not exist). */
int upid_valid(const char *u)
{
    if (strncmp(u, "UPID:", 5) != 0)
        return 0;
    const char *p = u + 5;
    const char *fields[7]; /* node pid pstart starttime type id user */
    size_t lens[7];
    int n = 0;
    while (n < 7) {
        const char *c = strchr(p, ':');
        if (!c)
            return 0;
        fields[n] = p;
        lens[n] = (size_t)(c - p);
        for (const char *q = p; q < c; q++)
            if (isspace((unsigned char)*q) || *q == '/')
                return 0;
        n++;
        p = c + 1;
    }
    if (*p && strcmp(p, "\n") != 0) /* the trailing colon is the end */
        return 0;
    if (lens[0] == 0 || !isalnum((unsigned char)fields[0][0]) ||
        !isalnum((unsigned char)fields[0][lens[0] - 1]))
        return 0;
    for (size_t k = 0; k < lens[0]; k++)
        if (!isalnum((unsigned char)fields[0][k]) && fields[0][k] != '-')
            return 0;
    for (int i = 1; i <= 3; i++) {
        if (lens[i] < 8 || lens[i] > (i == 2 ? 9u : 8u))
            return 0;
        for (size_t k = 0; k < lens[i]; k++)
            if (!isxdigit((unsigned char)fields[i][k]))
                return 0;
    }
    return lens[4] > 0 && lens[6] > 0; /* type and user non-empty, id may be empty */
}

cJSON *vm_resource_json(const struct vm *v)
{
    cJSON *o = cJSON_CreateObject();
    char id[32];
    snprintf(id, sizeof id, "qemu/%d", v->vmid);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "type", "qemu");
    cJSON_AddStringToObject(o, "node", v->node);
    cJSON_AddNumberToObject(o, "vmid", v->vmid);
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddStringToObject(o, "status", v->running ? "running" : "stopped");
    cJSON_AddNumberToObject(o, "maxmem", (double)v->maxmem);
    cJSON_AddNumberToObject(o, "mem", v->running ? (double)(v->maxmem / 3) : 0);
    cJSON_AddNumberToObject(o, "maxcpu", v->cores);
    cJSON_AddNumberToObject(o, "cpu", v->running ? 0.0213 : 0);
    cJSON_AddNumberToObject(o, "uptime", v->running ? (double)(time(NULL) - v->started) : 0);
    cJSON_AddNumberToObject(o, "disk", 0);
    cJSON_AddNumberToObject(o, "maxdisk", (double)v->maxdisk);
    cJSON_AddNumberToObject(o, "netin", v->running ? 123456 : 0);
    cJSON_AddNumberToObject(o, "netout", v->running ? 65432 : 0);
    cJSON_AddNumberToObject(o, "diskread", 0);
    cJSON_AddNumberToObject(o, "diskwrite", 0);
    cJSON_AddNumberToObject(o, "template", 0);
    return o;
}
