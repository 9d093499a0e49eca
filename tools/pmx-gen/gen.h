/* pmx-gen: shared declarations of the binding generator. */
#ifndef PMX_GEN_H
#define PMX_GEN_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stddef.h>

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

/* Translate a Perl regex (as PVE matches it: whole value) into an anchored POSIX ERE.
 * Returns a malloc'd string, or NULL when the pattern uses constructs ERE lacks. */
char *perl_to_ere(const char *perl);

#endif
