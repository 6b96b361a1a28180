/* Reading the tests/fixtures/det safetensors files (tools/reference/make_det_fixtures.py) in the det tests:
 * tensors by name with their shape checked, as float or int64 views of the mapping. */
#ifndef NALA_TESTS_DET_FIXTURE_H
#define NALA_TESTS_DET_FIXTURE_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nala/safetensors.h"

#define DET_FIXTURE(name) NALA_FIXTURES "/det/" name

static inline nala_st_file *det_open(const char *path) {
  nala_st_file *f = NULL;
  nala_err err;
  ck_assert_msg(nala_st_open(path, &f, &err) == NALA_OK, "%s", err.msg);
  return f;
}

/* Tensor `name` of dtype dt; *numel gets its element count; dims (may be NULL) its first 4 dims. */
static inline const void *det_tensor(nala_st_file *f, const char *name, nala_dtype dt, size_t *numel,
                                     int64_t dims[4]) {
  const nala_st_tensor *t = nala_st_find(f, name);
  ck_assert_msg(t != NULL, "%s: no tensor %s", nala_st_path(f), name);
  ck_assert_msg(t->dtype == dt, "%s: %s has dtype %s", nala_st_path(f), name, nala_dtype_name(t->dtype));
  if (numel)
    *numel = nala_st_numel(t);
  for (int i = 0; dims && i < 4; i++)
    dims[i] = i < t->ndim ? t->shape[i] : 1;
  return t->data;
}

static inline const float *det_f32(nala_st_file *f, const char *name, size_t *numel, int64_t dims[4]) {
  return det_tensor(f, name, NALA_DT_F32, numel, dims);
}

/* I64 / F64 tensors may sit at 4-byte offsets (the writer does not pad between tensors): copy out. */
static inline size_t det_i64(nala_st_file *f, const char *name, int64_t *out, size_t cap) {
  size_t n;
  const unsigned char *p = det_tensor(f, name, NALA_DT_I64, &n, NULL);
  ck_assert_msg(n <= cap, "%s: %zu values, room for %zu", name, n, cap);
  memcpy(out, p, n * sizeof *out);
  return n;
}

static inline double det_f64_at(nala_st_file *f, const char *name, size_t i) {
  size_t n;
  const unsigned char *p = det_tensor(f, name, NALA_DT_F64, &n, NULL);
  ck_assert_uint_lt(i, n);
  double v;
  memcpy(&v, p + i * sizeof v, sizeof v);
  return v;
}

#endif
