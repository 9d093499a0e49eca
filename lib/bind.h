/* libproxmox: runtime of the generated bindings (lib/bind.c, lib/decode.c), used by lib/gen/.
 * Internal. */
#ifndef PMX_BIND_H
#define PMX_BIND_H

#include "tables.h"

/* Validate the typed arguments of generated function number @p method (pmx__gen_methods
 * index), build the escaped path and the parameter list, and start the call with the typed
 * decoder. path_args holds one pointer per path parameter: const char * for strings, const
 * int64_t * for integers. p is the method's _params struct or NULL. Returns like
 * pmx_call_start(). */
int pmx__bind_call(pmx_client *c, size_t method, const void *const *path_args, const void *p,
                   pmx_done_fn done, void *userdata, pmx_call **out);

/* The request pmx__bind_call would send, without sending it (tests, CLI dry runs).
 * On PMX_OK *path (pmx__malloc'd) and *params (pmx_params_free) are set; on PMX_EINVAL *err
 * gets a pmx__malloc'd message naming the parameter. */
int pmx__bind_build(const pmx_method_desc *d, const void *const *path_args, const void *p,
                    char **path, pmx_params **params, char **err);

/* Decode / free hooks (pmx__decode_fn / pmx__result_free_fn); ctx is the pmx_method_desc.
 * A result of a method with secrets is wiped when freed. */
int pmx__bind_decode(const void *ctx, const char *json, size_t len, void **out, char **err);
void pmx__bind_result_free(const void *ctx, void *result);
/* Wipe every byte of a decoded result (its strings included) without freeing it. */
void pmx__bind_result_wipe(void *result);
/* The member of object type t named by the n bytes at name (indexed: the base of an indexed
 * member, "net" of "net3"), found through the generated lookup table; NULL when t has none. */
const pmx_field_desc *pmx__member(const pmx_type_desc *t, const char *name, size_t n,
                                  int indexed);

#endif
