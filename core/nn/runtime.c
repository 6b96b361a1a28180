#include "core/nn/runtime.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif

#include "core/nn/dnnl_util.h"

static nala_status conv_algo_from_env(nala_conv_algo *out, nala_err *err) {
  const char *env = getenv("NALA_CONV");
  *out = NALA_CONV_AUTO;
  if (!env || !*env || !strcmp(env, "auto"))
    return NALA_OK;
  static const char *const names[] = {"auto", "direct", "blocked", "wino"};
  for (int i = 1; i < (int)(sizeof names / sizeof names[0]); i++)
    if (!strcmp(env, names[i])) {
      *out = (nala_conv_algo)i;
      return NALA_OK;
    }
  return nala_fail(err, NALA_E_ARG, "NALA_CONV=%s: expected auto, direct, blocked or wino", env);
}

nala_status nala_rt_create(nala_isa requested, nala_rt **out, nala_err *err) {
  nala_isa isa;
  nala_conv_algo conv;
  NALA_CHECK(nala_isa_resolve(requested, &isa, err));
  NALA_CHECK(conv_algo_from_env(&conv, err));
  nala_rt *rt = calloc(1, sizeof *rt);
  if (!rt)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a model root");
  rt->isa = isa;
  rt->conv = conv;
  dnnl_status_t ds = dnnl_engine_create(&rt->engine, dnnl_cpu, 0);
  if (ds != dnnl_success) {
    free(rt);
    return nala_dnnl_status(ds, "dnnl_engine_create", err);
  }
  *out = rt;
  return NALA_OK;
}

void nala_rt_free(nala_rt *rt) {
  if (!rt)
    return;
  dnnl_engine_destroy(rt->engine);
  free(rt);
}

void nala_heap_release(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}
