/* safetensors writer: header JSON written by hand (cJSON would print large integers in exponent
 * form, which strict readers reject), padded with spaces so the data block starts 8-byte aligned as
 * in the reference implementation, then data in the given order, written by nala_write_atomic_parts
 * (unique temp file + fsync + rename: two threads may write the same path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors_util.h"
#include "core/text_buf.h"
#include "nala/atomic_write.h"
#include "nala/safetensors.h"

static nala_status check_tensor(const nala_st_tensor *t, size_t i, nala_err *err) {
  if (!t->name)
    return nala_fail(err, NALA_E_ARG, "tensor %zu has no name", i);
  if (!strcmp(t->name, "__metadata__"))
    return nala_fail(err, NALA_E_ARG, "tensor %zu: the name \"__metadata__\" is reserved", i);
  if (nala_st_utf8_invalid_at(t->name, strlen(t->name)) != strlen(t->name))
    return nala_fail(err, NALA_E_ARG, "tensor %zu: name is not valid UTF-8", i);
  if (!nala_dtype_size(t->dtype))
    return nala_fail(err, NALA_E_ARG, "tensor \"%s\": invalid dtype %d", t->name, (int)t->dtype);
  if (t->ndim < 0 || t->ndim > NALA_ST_MAX_DIMS)
    return nala_fail(err, NALA_E_ARG, "tensor \"%s\": ndim %d outside 0..%d", t->name, t->ndim, NALA_ST_MAX_DIMS);
  size_t nbytes = nala_dtype_size(t->dtype);
  for (int d = 0; d < t->ndim; d++)
    if (t->shape[d] < 0 || __builtin_mul_overflow(nbytes, (size_t)t->shape[d], &nbytes))
      return nala_fail(err, NALA_E_ARG, "tensor \"%s\": shape[%d] = %lld is negative or overflows", t->name, d,
                       (long long)t->shape[d]);
  if (nbytes != t->nbytes)
    return nala_fail(err, NALA_E_ARG, "tensor \"%s\": nbytes %zu, but dtype %s and the shape need %zu", t->name,
                     t->nbytes, nala_dtype_name(t->dtype), nbytes);
  if (nbytes && !t->data)
    return nala_fail(err, NALA_E_ARG, "tensor \"%s\": NULL data", t->name);
  return NALA_OK;
}

static nala_status build_header(const nala_st_tensor *tensors, size_t count, const char *const *meta_keys,
                                const char *const *meta_values, size_t n_meta, text_buf *b, nala_err *err) {
  text_put(b, "{", 1);
  if (n_meta) {
    text_put(b, "\"__metadata__\":{", 16);
    for (size_t i = 0; i < n_meta; i++) {
      if (!meta_keys || !meta_values || !meta_keys[i] || !meta_values[i])
        return nala_fail(err, NALA_E_ARG, "metadata entry %zu: NULL key or value", i);
      if (nala_st_utf8_invalid_at(meta_keys[i], strlen(meta_keys[i])) != strlen(meta_keys[i]) ||
          nala_st_utf8_invalid_at(meta_values[i], strlen(meta_values[i])) != strlen(meta_values[i]))
        return nala_fail(err, NALA_E_ARG, "metadata entry %zu: not valid UTF-8", i);
      text_put(b, i ? "," : "", i ? 1 : 0);
      text_json_string(b, meta_keys[i]);
      text_put(b, ":", 1);
      text_json_string(b, meta_values[i]);
    }
    text_put(b, "}", 1);
  }
  size_t offset = 0;
  for (size_t i = 0; i < count; i++) {
    const nala_st_tensor *t = &tensors[i];
    NALA_CHECK(check_tensor(t, i, err));
    for (size_t j = 0; j < i; j++)
      if (!strcmp(tensors[j].name, t->name))
        return nala_fail(err, NALA_E_ARG, "tensor \"%s\" given twice", t->name);
    text_put(b, n_meta || i ? "," : "", n_meta || i ? 1 : 0);
    text_json_string(b, t->name);
    text_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", nala_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
      text_printf(b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    text_printf(b, "],\"data_offsets\":[%zu,%zu]}", offset, offset + t->nbytes);
    offset += t->nbytes;
  }
  text_put(b, "}", 1);
  while (b->len % 8)
    text_put(b, " ", 1);
  if (b->failed)
    return nala_fail(err, NALA_E_NOMEM, "out of memory building the header");
  return NALA_OK;
}

nala_status nala_st_write_meta(const char *path, const nala_st_tensor *tensors, size_t count,
                               const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                               nala_err *err) {
  if (!path || (count && !tensors))
    return nala_fail(err, NALA_E_ARG, "nala_st_write: NULL argument");
  text_buf header = {0};
  nala_status status = build_header(tensors, count, meta_keys, meta_values, n_meta, &header, err);
  if (status != NALA_OK) {
    free(header.data);
    return nala_err_prefix(err, "%s: ", path);
  }
  /* Parts: the 8-byte little-endian header length, the header, then each tensor's data. */
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; i++)
    len_bytes[i] = (unsigned char)((uint64_t)header.len >> (8 * i));
  const void **parts = malloc((count + 2) * sizeof *parts);
  size_t *sizes = malloc((count + 2) * sizeof *sizes);
  if (!parts || !sizes) {
    status = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  } else {
    parts[0] = len_bytes, sizes[0] = 8;
    parts[1] = header.data, sizes[1] = header.len;
    for (size_t i = 0; i < count; i++)
      parts[i + 2] = tensors[i].data, sizes[i + 2] = tensors[i].nbytes;
    status = nala_write_atomic_parts(path, parts, sizes, count + 2, err);
  }
  free(parts);
  free(sizes);
  free(header.data);
  return status;
}

nala_status nala_st_write(const char *path, const nala_st_tensor *tensors, size_t count, nala_err *err) {
  return nala_st_write_meta(path, tensors, count, NULL, NULL, 0, err);
}
