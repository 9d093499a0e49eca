/* The optional GET cache (off by default): answers of GET calls under a configured path prefix
 * are kept for a time-to-live; a write drops what it may have changed. For programs that read
 * the same state many times per second. */
#include "core.h"

#include <string.h>

#define CACHE_MAX_RULES 32
#define CACHE_MAX_ENTRIES 4096
#define CACHE_MAX_BYTES ((size_t)32 << 20)
#define CACHE_BUCKETS 1024 /* power of two */

typedef struct rule {
    char *prefix;
    size_t len;
    int64_t ttl_ms;
} rule;

typedef struct entry {
    struct entry *hnext;           /* bucket chain */
    struct entry *older, *newer;   /* insertion order: the oldest go first */
    uint64_t hash;
    int64_t expires;               /* monotonic ms */
    char *target;                  /* path + query */
    char *body;
    size_t len;
} entry;

struct pmx__cache {
    rule rules[CACHE_MAX_RULES];
    size_t n_rules;
    entry *buckets[CACHE_BUCKETS];
    entry *oldest, *newest;
    size_t n_entries, bytes;
    uint64_t hits, misses;
    uint64_t gen; /* bumped by every invalidation: an answer read before one is not kept */
};

static uint64_t hash_of(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void entry_drop(pmx__cache *k, entry *e) {
    entry **pp = &k->buckets[e->hash & (CACHE_BUCKETS - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->older)
        e->older->newer = e->newer;
    else
        k->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        k->newest = e->older;
    k->n_entries--;
    k->bytes -= e->len;
    pmx__free(e->target);
    pmx__free(e->body);
    pmx__free(e);
}

static entry *entry_find(pmx__cache *k, const char *target, uint64_t h) {
    for (entry *e = k->buckets[h & (CACHE_BUCKETS - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->target, target) == 0)
            return e;
    return NULL;
}

/* The rule of the longest prefix that covers target (a prefix ends at a segment border). */
static const rule *rule_for(const pmx__cache *k, const char *target) {
    const rule *best = NULL;
    for (size_t i = 0; i < k->n_rules; i++) {
        const rule *r = &k->rules[i];
        char next = target[r->len];
        if (strncmp(target, r->prefix, r->len) == 0 &&
            (next == 0 || next == '/' || next == '?' || r->prefix[r->len - 1] == '/') &&
            (!best || r->len > best->len))
            best = r;
    }
    return best;
}

void pmx__cache_free(pmx_client *c) {
    pmx__cache *k = c->cache;
    if (!k)
        return;
    while (k->oldest)
        entry_drop(k, k->oldest);
    for (size_t i = 0; i < k->n_rules; i++)
        pmx__free(k->rules[i].prefix);
    pmx__free(k);
    c->cache = NULL;
}

void pmx__cache_clear(pmx_client *c) {
    pmx__cache *k = c->cache;
    if (k)
        k->gen++;
    while (k && k->oldest)
        entry_drop(k, k->oldest);
}

uint64_t pmx__cache_gen(const pmx_client *c) { return c->cache ? c->cache->gen : 0; }

int pmx__cache_lookup(pmx_client *c, const char *target, char **body, size_t *len) {
    pmx__cache *k = c->cache;
    if (!k || !k->n_rules || !rule_for(k, target))
        return 0;
    uint64_t h = hash_of(target);
    entry *e = entry_find(k, target, h);
    if (e && e->expires <= pmx__now_ms()) {
        entry_drop(k, e);
        e = NULL;
    }
    if (!e) {
        k->misses++;
        return 0;
    }
    char *copy = pmx__malloc(e->len + 1);
    if (!copy)
        return 0;
    memcpy(copy, e->body, e->len);
    copy[e->len] = 0;
    *body = copy;
    *len = e->len;
    k->hits++;
    return 1;
}

void pmx__cache_store(pmx_client *c, const char *target, const char *body, size_t len,
                      uint64_t gen) {
    pmx__cache *k = c->cache;
    const rule *r = k ? rule_for(k, target) : NULL;
    if (!r || len > CACHE_MAX_BYTES / 4 || gen != k->gen)
        return;
    uint64_t h = hash_of(target);
    entry *old = entry_find(k, target, h);
    if (old)
        entry_drop(k, old);
    while (k->oldest && (k->n_entries >= CACHE_MAX_ENTRIES || k->bytes + len > CACHE_MAX_BYTES))
        entry_drop(k, k->oldest);
    entry *e = pmx__calloc(1, sizeof *e);
    char *t = pmx__strdup(target), *b = pmx__malloc(len ? len : 1);
    if (!e || !t || !b) {
        pmx__free(e);
        pmx__free(t);
        pmx__free(b);
        return; /* a cache that cannot keep an answer simply misses it next time */
    }
    memcpy(b, body, len);
    e->hash = h;
    e->target = t;
    e->body = b;
    e->len = len;
    e->expires = pmx__now_ms() + r->ttl_ms;
    e->hnext = k->buckets[h & (CACHE_BUCKETS - 1)];
    k->buckets[h & (CACHE_BUCKETS - 1)] = e;
    e->older = k->newest;
    if (k->newest)
        k->newest->newer = e;
    else
        k->oldest = e;
    k->newest = e;
    k->n_entries++;
    k->bytes += len;
}

/* A write to path happened (or is under way): drop what it may change. Under /nodes/{node}:
 * that node's answers and the cluster-wide ones (/cluster/resources lists every guest);
 * anything else: everything. */
void pmx__cache_invalidate(pmx_client *c, const char *path) {
    pmx__cache *k = c->cache;
    if (!k)
        return;
    k->gen++; /* answers in flight were read before this write (or may have been) */
    if (!k->oldest)
        return;
    size_t node_len = 0;
    if (strncmp(path, "/nodes/", 7) == 0) {
        const char *end = path + 7 + strcspn(path + 7, "/?");
        if (end > path + 7)
            node_len = (size_t)(end - path);
    }
    if (!node_len) {
        pmx__cache_clear(c);
        return;
    }
    for (entry *e = k->oldest, *next; e; e = next) {
        next = e->newer;
        char after = e->target[node_len];
        int same_node = strncmp(e->target, path, node_len) == 0 &&
                        (after == 0 || after == '/' || after == '?');
        if (same_node || strncmp(e->target, "/cluster", 8) == 0)
            entry_drop(k, e);
    }
}

int pmx_client_cache(pmx_client *c, const char *path_prefix, int64_t ttl_ms) {
    if (!c || !path_prefix || path_prefix[0] != '/' || ttl_ms < 0)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    if (!c->cache && !(c->cache = pmx__calloc(1, sizeof *c->cache)))
        return PMX_ENOMEM;
    pmx__cache *k = c->cache;
    size_t len = strlen(path_prefix);
    for (size_t i = 0; i < k->n_rules; i++) {
        if (k->rules[i].len == len && strcmp(k->rules[i].prefix, path_prefix) == 0) {
            if (ttl_ms) {
                k->rules[i].ttl_ms = ttl_ms;
            } else {
                pmx__free(k->rules[i].prefix);
                k->rules[i] = k->rules[--k->n_rules];
            }
            pmx__cache_clear(c); /* answers kept under the old rule go */
            return PMX_OK;
        }
    }
    if (!ttl_ms)
        return PMX_OK;
    if (k->n_rules == CACHE_MAX_RULES)
        return PMX_EINVAL;
    char *p = pmx__strdup(path_prefix);
    if (!p)
        return PMX_ENOMEM;
    k->rules[k->n_rules++] = (rule){p, len, ttl_ms};
    return PMX_OK;
}

int pmx_client_cache_stats(const pmx_client *c, uint64_t *hits, uint64_t *misses) {
    if (!c)
        return PMX_EINVAL;
    if (hits)
        *hits = c->cache ? c->cache->hits : 0;
    if (misses)
        *misses = c->cache ? c->cache->misses : 0;
    return PMX_OK;
}

int pmx_client_cache_clear(pmx_client *c) {
    if (!c)
        return PMX_EINVAL;
    int r = pmx__client_usable(c);
    if (r)
        return r;
    pmx__cache_clear(c);
    return PMX_OK;
}
