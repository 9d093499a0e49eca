/* Allocation, growable buffers and secret wiping. */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*g_malloc)(size_t) = malloc;
static void *(*g_realloc)(void *, size_t) = realloc;
static void (*g_free)(void *) = free;

int pmx_set_allocator(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *)) {
    if (!m || !r || !f)
        return PMX_EINVAL;
    pmx__block_cache_drain(); /* its blocks belong to the old allocator */
    g_malloc = m;
    g_realloc = r;
    g_free = f;
    return PMX_OK;
}

void *pmx__malloc(size_t n) { return g_malloc(n ? n : 1); }

void *pmx__calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    void *p = g_malloc(total ? total : 1);
    if (p)
        memset(p, 0, total);
    return p;
}

void *pmx__realloc(void *p, size_t n) { return g_realloc(p, n ? n : 1); }

void pmx__free_nonnull(void *p) { g_free(p); }

void pmx_free(void *p) { pmx__free(p); }

/* ---- big blocks, kept for reuse ---- */

/* The arenas of large results are built from blocks of PMX__BLOCK_SIZE. A program that fetches a
 * 2 MB listing every few seconds would otherwise hand megabytes back to the system after each
 * call and fault them in again for the next one (on a virtual machine, most of the decode's CPU
 * went to those page faults). Freed blocks wait here for the next result: at most
 * BLOCK_CACHE_MAX bytes of them, and none longer than 30 s unused (checked whenever a
 * block comes or goes and when a call ends); pmx_global_cleanup() and pmx_set_allocator() empty
 * the cache. A block comes back wiped when its result held secrets (the arena wipes first). */
#define BLOCK_CACHE_MAX ((size_t)16 * 1024 * 1024)
static int64_t g_block_idle_ms = 30000; /* tests shorten it */

void pmx__block_cache_set_idle(int64_t ms) { g_block_idle_ms = ms; }

typedef union block_link {
    struct {
        union block_link *next; /* toward older blocks: the list is a stack */
        int64_t put_ms;         /* when it was given back */
    } l;
    max_align_t align;
} block_link;

static pthread_mutex_t g_block_lock = PTHREAD_MUTEX_INITIALIZER;
static block_link *g_blocks; /* newest first */
static size_t g_nblocks;     /* read without the lock by pmx__block_trim (atomic) */
static int64_t g_oldest_ms;  /* put_ms of the last block in the list (atomic) */

/* Unlink the blocks idle for too long (they are all at the end); the caller frees them. Walks
 * the list only when its oldest block is due (each link sits in a block of its own: a walk is a
 * cache miss per block). */
static block_link *cut_idle(int64_t now) {
    if (!g_blocks || now - g_oldest_ms < g_block_idle_ms)
        return NULL;
    block_link **pp = &g_blocks, *last = NULL;
    size_t kept = 0;
    while (*pp && now - (*pp)->l.put_ms < g_block_idle_ms) {
        last = *pp;
        pp = &(*pp)->l.next;
        kept++;
    }
    block_link *idle = *pp;
    *pp = NULL;
    __atomic_store_n(&g_nblocks, kept, __ATOMIC_RELAXED);
    __atomic_store_n(&g_oldest_ms, last ? last->l.put_ms : 0, __ATOMIC_RELAXED);
    return idle;
}

static void free_list(block_link *b) {
    while (b) {
        block_link *n = b->l.next;
        pmx__free(b);
        b = n;
    }
}

void *pmx__block_get(void) {
    int64_t now = pmx__now_ms();
    pthread_mutex_lock(&g_block_lock);
    block_link *idle = cut_idle(now);
    block_link *b = g_blocks;
    if (b) {
        g_blocks = b->l.next;
        __atomic_store_n(&g_nblocks, g_nblocks - 1, __ATOMIC_RELAXED);
        if (!g_blocks)
            __atomic_store_n(&g_oldest_ms, 0, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&g_block_lock);
    free_list(idle);
    return b ? (void *)b : pmx__malloc(PMX__BLOCK_SIZE);
}

void pmx__block_put(void *p) {
    if (!p)
        return;
    int64_t now = pmx__now_ms();
    pthread_mutex_lock(&g_block_lock);
    block_link *idle = cut_idle(now);
    int keep = (g_nblocks + 1) * PMX__BLOCK_SIZE <= BLOCK_CACHE_MAX;
    if (keep) {
        block_link *b = p;
        b->l.next = g_blocks;
        b->l.put_ms = now;
        if (!g_blocks)
            __atomic_store_n(&g_oldest_ms, now, __ATOMIC_RELAXED);
        g_blocks = b;
        __atomic_store_n(&g_nblocks, g_nblocks + 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&g_block_lock);
    free_list(idle);
    if (!keep)
        pmx__free(p);
}

void pmx__block_trim(void) {
    if (!__atomic_load_n(&g_nblocks, __ATOMIC_RELAXED))
        return; /* the common case: no clock, no lock */
    int64_t now = pmx__now_ms();
    if (now - __atomic_load_n(&g_oldest_ms, __ATOMIC_RELAXED) < g_block_idle_ms)
        return; /* checked again under the lock */
    pthread_mutex_lock(&g_block_lock);
    block_link *idle = cut_idle(now);
    pthread_mutex_unlock(&g_block_lock);
    free_list(idle);
}

void pmx__block_cache_drain(void) {
    pthread_mutex_lock(&g_block_lock);
    block_link *b = g_blocks;
    g_blocks = NULL;
    __atomic_store_n(&g_nblocks, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_oldest_ms, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_block_lock);
    free_list(b);
}

size_t pmx__block_cache_count(void) { return __atomic_load_n(&g_nblocks, __ATOMIC_RELAXED); }

void pmx__block_fork_lock(void) { pthread_mutex_lock(&g_block_lock); }

void pmx__block_fork_unlock(void) { pthread_mutex_unlock(&g_block_lock); }

char *pmx__strndup(const char *s, size_t n) {
    char *d = pmx__malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

char *pmx__strdup(const char *s) { return s ? pmx__strndup(s, strlen(s)) : NULL; }

char *pmx__asprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = pmx__malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void pmx__wipe(void *p, size_t n) {
    if (!p || !n)
        return;
    memset(p, 0, n);
    /* Keep the compiler from dropping the memset of memory about to be freed. */
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

void pmx__secret_free(char *s) {
    if (!s)
        return;
    pmx__wipe(s, strlen(s));
    pmx__free(s);
}

void pmx_secret_free(char *s) { pmx__secret_free(s); }

int pmx__buf_reserve(pmx__buf *b, size_t extra) {
    if (extra > SIZE_MAX / 2 - b->len) /* before the sum below can wrap */
        return PMX_ENOMEM;
    if (b->len + extra + 1 <= b->cap)
        return PMX_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d;
    if (b->secret) {
        /* realloc would free the old block unwiped: move and wipe by hand */
        d = pmx__malloc(cap);
        if (!d)
            return PMX_ENOMEM;
        if (b->data) {
            memcpy(d, b->data, b->len);
            pmx__wipe(b->data, b->cap);
            pmx__free(b->data);
        }
    } else {
        d = pmx__realloc(b->data, cap);
        if (!d)
            return PMX_ENOMEM;
    }
    d[b->len] = 0; /* a fresh buffer reads as "" (callers rely on it) */
    b->data = d;
    b->cap = cap;
    return PMX_OK;
}

int pmx__buf_append(pmx__buf *b, const void *p, size_t n) {
    if (pmx__buf_reserve(b, n) != PMX_OK)
        return PMX_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return PMX_OK;
}

int pmx__buf_puts(pmx__buf *b, const char *s) { return pmx__buf_append(b, s, strlen(s)); }

int pmx__buf_printf(pmx__buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || pmx__buf_reserve(b, (size_t)n) != PMX_OK)
        return PMX_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return PMX_OK;
}

void pmx__buf_free(pmx__buf *b) {
    if (b->secret)
        pmx__wipe(b->data, b->cap);
    pmx__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int unreserved(unsigned char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

int pmx__buf_escape(pmx__buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    if (n > SIZE_MAX / 3 || pmx__buf_reserve(b, n * 3) != PMX_OK)
        return PMX_ENOMEM;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (unreserved(ch)) {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = 0;
    return PMX_OK;
}

char *pmx_escape(const char *segment) {
    /* "", "." and ".." would become an empty or dot segment: another resource than meant. */
    if (!pmx__segment_ok(segment))
        return NULL;
    pmx__buf b = {0};
    if (pmx__buf_escape(&b, segment, strlen(segment)) != PMX_OK) {
        pmx__buf_free(&b);
        return NULL;
    }
    return b.data;
}
