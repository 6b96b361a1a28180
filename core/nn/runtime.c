#include "core/nn/runtime.h"

#include <stdlib.h>

#include "core/nn/dnnl_util.h"

nala_status nala_rt_create(nala_isa requested, nala_rt **out, nala_err *err) {
  nala_isa isa;
  NALA_CHECK(nala_isa_resolve(requested, &isa, err));
  nala_rt *rt = calloc(1, sizeof *rt);
  if (!rt)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for a model root");
  rt->isa = isa;
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
