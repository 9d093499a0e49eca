/* Shared helpers of the libFuzzer targets (tests/fuzz/). Not part of the library. */
#ifndef PMX_FUZZ_COMMON_H
#define PMX_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated heap copy of data (ASan sees reads past the end). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* An exact-size heap copy without a terminator: span parsers must stay inside [p, p+size). */
static inline char *fuzz_span(const uint8_t *data, size_t size) {
    char *s = malloc(size ? size : 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    return s;
}

#ifdef PMX_TABLES_H
/* The methods that declare a result (the typed-decoding targets pick one by the input). */
static inline const pmx_method_desc **fuzz_result_methods(size_t *n) {
    static const pmx_method_desc **methods;
    static size_t count;
    if (!methods) {
        size_t all = pmx_method_count();
        methods = calloc(all ? all : 1, sizeof *methods);
        if (!methods)
            abort();
        for (size_t i = 0; i < all; i++) {
            const pmx_method_desc *d = pmx_method_at(i);
            if (d && d->result)
                methods[count++] = d;
        }
    }
    *n = count;
    return methods;
}
#endif

#endif
