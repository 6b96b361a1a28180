/* libFuzzer harness: safetensors parsing (nala_st_open_memory, the parser of nala_st_open) and the
 * strict weights binder over it. Oracles: every tensor of an accepted file lies inside the input
 * with nbytes = numel * dtype size, float tensors convert, a take with the tensor's own shape
 * succeeds and with another shape is NALA_E_SHAPE; every refusal names the input. */
#include <stdint.h>
#include <string.h>

#include "nala/safetensors.h"
#include "nala/weights.h"
#include "tests/fuzz/fuzz_check.h"

static int is_float(nala_dtype d) {
  return d == NALA_DT_F32 || d == NALA_DT_F16 || d == NALA_DT_BF16 || d == NALA_DT_F64;
}

static void check_file(const nala_st_file *f, const uint8_t *data, size_t size) {
  for (size_t i = 0; i < nala_st_count(f); i++) {
    const nala_st_tensor *t = nala_st_at(f, i);
    FUZZ_ASSERT(t && t->name, "tensor %zu", i);
    FUZZ_ASSERT(nala_st_find(f, t->name) == t, "find(\"%s\")", t->name);
    size_t numel = nala_st_numel(t);
    FUZZ_ASSERT(t->nbytes == numel * nala_dtype_size(t->dtype), "\"%s\": %zu bytes for %zu elements", t->name,
                t->nbytes, numel);
    if (t->nbytes) {
      const uint8_t *p = t->data;
      FUZZ_ASSERT(p >= data && p + t->nbytes <= data + size, "\"%s\" outside the input", t->name);
      FUZZ_ASSERT(nala_st_file_offset(f, t) == (size_t)(p - data), "offset of \"%s\"", t->name);
    }
    nala_err err;
    if (is_float(t->dtype) && numel <= (1u << 20)) {
      float *out = malloc(sizeof(float) * (numel ? numel : 1));
      if (out) {
        FUZZ_ASSERT(nala_st_to_f32(t, out, numel, &err) == NALA_OK, "%s", err.msg);
        free(out);
      }
    } else if (!is_float(t->dtype)) {
      FUZZ_ASSERT(nala_st_to_f32(t, NULL, 0, &err) != NALA_OK, "non-float \"%s\" converted", t->name);
    }
  }
  for (size_t i = 0; i < nala_st_metadata_count(f); i++) {
    const char *k, *v;
    nala_st_metadata_at(f, i, &k, &v);
    FUZZ_ASSERT(k && v && nala_st_metadata(f, k), "metadata %zu", i);
  }
}

static void bind_weights(const uint8_t *data, size_t size) {
  nala_weights *w;
  nala_err err;
  if (nala_weights_open_memory(data, size, "fuzz.safetensors", &w, &err) != NALA_OK) {
    FUZZ_ASSERT(!strncmp(err.msg, "fuzz.safetensors: ", 18), "%s", err.msg);
    return;
  }
  const nala_st_file *f = nala_weights_file(w);
  size_t n = nala_st_count(f);
  for (size_t i = 0; i < n && i < 64; i++) {
    const nala_st_tensor *t = nala_st_at(f, i);
    int ndim = 0;
    int64_t shape[NALA_ST_MAX_DIMS];
    FUZZ_ASSERT(nala_weights_has(w, t->name), "has(\"%s\")", t->name);
    FUZZ_ASSERT(nala_weights_shape(w, t->name, &ndim, shape) && ndim == t->ndim, "shape(\"%s\")", t->name);
    nala_status st = nala_weights_take(w, t->name, t->ndim, t->shape, NULL);
    FUZZ_ASSERT(is_float(t->dtype) ? st == NALA_OK : st == NALA_E_UNSUPPORTED, "take(\"%s\") = %d", t->name, st);
    if (t->ndim > 0 && t->ndim < NALA_ST_MAX_DIMS) {
      int64_t other[NALA_ST_MAX_DIMS];
      memcpy(other, t->shape, sizeof other);
      other[0] = t->shape[0] ? 0 : 1; /* a different shape without overflowing int64 */
      FUZZ_ASSERT(nala_weights_take(w, t->name, t->ndim, other, NULL) != NALA_OK, "wrong shape of \"%s\" taken",
                  t->name);
    }
  }
  nala_weights_take(w, "backbone.missing.weight", 1, (int64_t[]){3}, NULL);
  nala_weights_ignore_suffix(w, ".num_batches_tracked");
  FUZZ_ASSERT(nala_weights_finish(w, "", &err) == NALA_E_FORMAT, "a missing key went unreported");
  FUZZ_ASSERT(strstr(err.msg, "backbone.missing.weight"), "%s", err.msg);
  nala_weights_close(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nala_st_file *f = NULL;
  nala_err err;
  if (nala_st_open_memory(data, size, "fuzz.safetensors", &f, &err) == NALA_OK) {
    check_file(f, data, size);
    nala_st_close(f);
  } else {
    FUZZ_ASSERT(f == NULL && !strncmp(err.msg, "fuzz.safetensors: ", 18), "%s", err.msg);
  }
  bind_weights(data, size);
  return 0;
}
