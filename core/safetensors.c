/* safetensors reader: mmap the file, validate the whole header before exposing any tensor.
 * The rules follow the reference implementation (huggingface/safetensors, lib.rs): 8-byte
 * little-endian header length, UTF-8 JSON object header, offsets relative to the data block.
 * We are stricter in one place (unknown keys inside a tensor entry are errors) and more lenient in
 * another (gaps between tensors are allowed; only overlaps are rejected). */
#include "nala/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/safetensors_util.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; add byte swaps");

/* The reference implementation's limit: a larger length is corruption (real headers are a few MB at most). */
#define ST_MAX_HEADER_BYTES ((uint64_t)100 * 1000 * 1000)

struct nala_st_file {
  char *path;
  const uint8_t *bytes; /* start of the image (the mapping, or the caller's buffer) */
  void *map;
  size_t map_bytes;
  nala_st_tensor *tensors;
  size_t count;
  char **meta; /* n_meta (key, value) pairs, flattened */
  size_t n_meta;
};

static const char *const dtype_names[] = {"BOOL", "U8",  "I8",  "I16",     "U16",     "F16",     "BF16",   "I32", "U32",
                                          "F32",  "F64", "I64", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "C64"};
static const size_t dtype_sizes[] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8, 1, 1, 1, 8};
#define N_DTYPES (sizeof dtype_names / sizeof dtype_names[0])

const char *nala_dtype_name(nala_dtype dtype) {
  return (unsigned)dtype < N_DTYPES ? dtype_names[dtype] : "?";
}

size_t nala_dtype_size(nala_dtype dtype) { return (unsigned)dtype < N_DTYPES ? dtype_sizes[dtype] : 0; }

int nala_dtype_from_name(const char *name, nala_dtype *out) {
  for (size_t i = 0; name && i < N_DTYPES; i++)
    if (!strcmp(name, dtype_names[i])) {
      if (out)
        *out = (nala_dtype)i;
      return 1;
    }
  return 0;
}

size_t nala_st_numel(const nala_st_tensor *t) {
  size_t n = 1;
  for (int d = 0; t && d < t->ndim; d++)
    n *= (size_t)t->shape[d];
  return n;
}

void nala_st_close(nala_st_file *file) {
  if (!file)
    return;
  if (file->map)
    munmap(file->map, file->map_bytes);
  for (size_t i = 0; file->tensors && i < file->count; i++)
    free((char *)file->tensors[i].name);
  for (size_t i = 0; file->meta && i < 2 * file->n_meta; i++)
    free(file->meta[i]);
  free(file->tensors);
  free(file->meta);
  free(file->path);
  free(file);
}

size_t nala_st_count(const nala_st_file *file) { return file ? file->count : 0; }

const nala_st_tensor *nala_st_at(const nala_st_file *file, size_t i) {
  return file && i < file->count ? &file->tensors[i] : NULL;
}

const nala_st_tensor *nala_st_find(const nala_st_file *file, const char *name) {
  for (size_t i = 0; file && name && i < file->count; i++)
    if (!strcmp(file->tensors[i].name, name))
      return &file->tensors[i];
  return NULL;
}

const char *nala_st_path(const nala_st_file *file) { return file ? file->path : NULL; }

size_t nala_st_file_offset(const nala_st_file *file, const nala_st_tensor *t) {
  return file && t && file->bytes && t->data ? (size_t)((const uint8_t *)t->data - file->bytes) : 0;
}

const char *nala_st_metadata(const nala_st_file *file, const char *key) {
  for (size_t i = 0; file && key && i < file->n_meta; i++)
    if (!strcmp(file->meta[2 * i], key))
      return file->meta[2 * i + 1];
  return NULL;
}

size_t nala_st_metadata_count(const nala_st_file *file) { return file ? file->n_meta : 0; }

void nala_st_metadata_at(const nala_st_file *file, size_t i, const char **key, const char **value) {
  int ok = file && i < file->n_meta;
  if (key)
    *key = ok ? file->meta[2 * i] : NULL;
  if (value)
    *value = ok ? file->meta[2 * i + 1] : NULL;
}

/* JSON numbers arrive as doubles: accept only exact non-negative integers up to 2^53. */
static int json_uint(const cJSON *item, uint64_t *out) {
  if (!cJSON_IsNumber(item))
    return 0;
  double v = item->valuedouble;
  if (!(v >= 0.0) || v > 9007199254740992.0 || v != floor(v))
    return 0;
  *out = (uint64_t)v;
  return 1;
}

/* Describes a JSON value for a message: its number, string, or type. */
static void describe_json(const cJSON *item, char *buf, size_t cap) {
  if (!item)
    snprintf(buf, cap, "missing");
  else if (cJSON_IsNumber(item))
    snprintf(buf, cap, "%.17g", item->valuedouble);
  else if (cJSON_IsString(item))
    snprintf(buf, cap, "\"%.60s\"", item->valuestring);
  else if (cJSON_IsArray(item))
    snprintf(buf, cap, "an array");
  else if (cJSON_IsObject(item))
    snprintf(buf, cap, "an object");
  else if (cJSON_IsBool(item))
    snprintf(buf, cap, "a boolean");
  else
    snprintf(buf, cap, "null");
}

static nala_status parse_metadata(nala_st_file *file, const cJSON *meta, nala_err *err) {
  if (file->meta)
    return nala_fail(err, NALA_E_FORMAT, "\"__metadata__\" appears twice in the header");
  if (!cJSON_IsObject(meta))
    return nala_fail(err, NALA_E_FORMAT, "\"__metadata__\" is not an object of strings");
  size_t n = (size_t)cJSON_GetArraySize(meta);
  file->meta = calloc(2 * n + 1, sizeof *file->meta);
  if (!file->meta)
    return nala_fail(err, NALA_E_NOMEM, "out of memory for %zu metadata entries", n);
  const cJSON *kv;
  cJSON_ArrayForEach(kv, meta) {
    if (!cJSON_IsString(kv)) {
      char what[96];
      describe_json(kv, what, sizeof what);
      return nala_fail(err, NALA_E_FORMAT, "\"__metadata__\".\"%s\" is %s, expected a string", kv->string, what);
    }
    for (size_t i = 0; i < file->n_meta; i++)
      if (!strcmp(file->meta[2 * i], kv->string))
        return nala_fail(err, NALA_E_FORMAT, "\"__metadata__\" has key \"%s\" twice", kv->string);
    file->meta[2 * file->n_meta] = strdup(kv->string);
    file->meta[2 * file->n_meta + 1] = strdup(kv->valuestring);
    file->n_meta++;
    if (!file->meta[2 * file->n_meta - 2] || !file->meta[2 * file->n_meta - 1])
      return nala_fail(err, NALA_E_NOMEM, "out of memory for metadata \"%s\"", kv->string);
  }
  return NALA_OK;
}

/* Fills t from one header entry; data_size is the byte count after the header. */
static nala_status parse_tensor(const cJSON *entry, const uint8_t *data, uint64_t data_size, nala_st_tensor *t,
                                nala_err *err) {
  const char *name = entry->string;
  char what[96];
  if (!cJSON_IsObject(entry)) {
    describe_json(entry, what, sizeof what);
    return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": entry is %s, expected an object", name, what);
  }
  /* cJSON keeps repeated keys and lookups return the first: a repeat would be read ambiguously. */
  static const char *const fields[3] = {"dtype", "shape", "data_offsets"};
  int seen[3] = {0, 0, 0};
  const cJSON *field;
  cJSON_ArrayForEach(field, entry) {
    int f = 0;
    while (f < 3 && strcmp(field->string, fields[f]))
      f++;
    if (f == 3)
      return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": unknown key \"%s\" (expected dtype, shape, data_offsets)",
                       name, field->string);
    if (seen[f]++)
      return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": key \"%s\" appears twice", name, fields[f]);
  }
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
  if (!cJSON_IsString(dtype)) {
    describe_json(dtype, what, sizeof what);
    return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": \"dtype\" is %s, expected a string", name, what);
  }
  if (!nala_dtype_from_name(dtype->valuestring, &t->dtype)) {
    /* Newer safetensors versions define sub-byte types; their byte size is not a whole number. */
    static const char *const sub_byte[] = {"F4", "F6_E2M3", "F6_E3M2"};
    for (size_t i = 0; i < sizeof sub_byte / sizeof sub_byte[0]; i++)
      if (!strcmp(dtype->valuestring, sub_byte[i]))
        return nala_fail(err, NALA_E_UNSUPPORTED, "tensor \"%s\": dtype %s is not supported", name, sub_byte[i]);
    return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": unknown dtype \"%.40s\"", name, dtype->valuestring);
  }

  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
  if (!cJSON_IsArray(shape)) {
    describe_json(shape, what, sizeof what);
    return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": \"shape\" is %s, expected an array", name, what);
  }
  int ndim = cJSON_GetArraySize(shape);
  if (ndim > NALA_ST_MAX_DIMS)
    return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": shape has %d dimensions, at most %d supported", name, ndim,
                     NALA_ST_MAX_DIMS);
  t->ndim = ndim;
  uint64_t nbytes = nala_dtype_size(t->dtype);
  const cJSON *dim_item;
  int d = 0;
  cJSON_ArrayForEach(dim_item, shape) {
    uint64_t dim;
    if (!json_uint(dim_item, &dim)) {
      describe_json(dim_item, what, sizeof what);
      return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": \"shape\"[%d] = %s is not a non-negative integer", name,
                       d, what);
    }
    if (__builtin_mul_overflow(nbytes, dim, &nbytes) || nbytes > (uint64_t)INT64_MAX)
      return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": shape product overflows at \"shape\"[%d] = %llu", name, d,
                       (unsigned long long)dim);
    t->shape[d++] = (int64_t)dim;
  }

  const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
  uint64_t begin, end;
  if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 || !json_uint(offsets->child, &begin) ||
      !json_uint(offsets->child->next, &end)) {
    char *text = offsets ? cJSON_PrintUnformatted(offsets) : NULL;
    nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": \"data_offsets\" = %.80s, expected [begin, end] integers", name,
              text ? text : "missing");
    cJSON_free(text);
    return NALA_E_FORMAT;
  }
  if (begin > end)
    return nala_fail(err, NALA_E_FORMAT, "tensor \"%s\": data_offsets [%llu, %llu] has begin > end", name,
                     (unsigned long long)begin, (unsigned long long)end);
  if (end > data_size)
    return nala_fail(err, NALA_E_FORMAT,
                     "tensor \"%s\": data_offsets [%llu, %llu] end past the data block of %llu bytes (truncated file?)",
                     name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
  if (end - begin != nbytes)
    return nala_fail(err, NALA_E_FORMAT,
                     "tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes but dtype %s and the shape need %llu",
                     name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)(end - begin),
                     nala_dtype_name(t->dtype), (unsigned long long)nbytes);
  t->data = data + begin;
  t->nbytes = (size_t)nbytes;
  return NALA_OK;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(const nala_st_tensor *const *)a)->name, (*(const nala_st_tensor *const *)b)->name);
}

static int by_offset(const void *a, const void *b) {
  const nala_st_tensor *x = *(const nala_st_tensor *const *)a, *y = *(const nala_st_tensor *const *)b;
  const char *px = x->data, *py = y->data;
  return px < py ? -1 : px > py ? 1 : 0;
}

/* cJSON keeps duplicate keys, so names are checked here; zero-byte tensors cannot overlap anything. */
static nala_status check_names_and_overlaps(const nala_st_file *file, const uint8_t *data, nala_err *err) {
  if (file->count < 2)
    return NALA_OK;
  const nala_st_tensor **order = malloc(file->count * sizeof *order);
  if (!order)
    return nala_fail(err, NALA_E_NOMEM, "out of memory checking %zu tensors", file->count);
  nala_status status = NALA_OK;
  for (size_t i = 0; i < file->count; i++)
    order[i] = &file->tensors[i];
  qsort(order, file->count, sizeof *order, by_name);
  for (size_t i = 1; i < file->count && status == NALA_OK; i++)
    if (!strcmp(order[i - 1]->name, order[i]->name))
      status = nala_fail(err, NALA_E_FORMAT, "tensor \"%s\" appears twice in the header", order[i]->name);
  qsort(order, file->count, sizeof *order, by_offset);
  const nala_st_tensor *prev = NULL;
  for (size_t i = 0; i < file->count && status == NALA_OK; i++) {
    const nala_st_tensor *t = order[i];
    if (!t->nbytes)
      continue;
    if (prev && (const uint8_t *)t->data < (const uint8_t *)prev->data + prev->nbytes)
      status = nala_fail(err, NALA_E_FORMAT, "tensors \"%s\" [%zu, %zu) and \"%s\" [%zu, %zu) overlap", prev->name,
                         (size_t)((const uint8_t *)prev->data - data),
                         (size_t)((const uint8_t *)prev->data - data) + prev->nbytes, t->name,
                         (size_t)((const uint8_t *)t->data - data),
                         (size_t)((const uint8_t *)t->data - data) + t->nbytes);
    prev = t;
  }
  free(order);
  return status;
}

static nala_status parse_file(nala_st_file *file, const uint8_t *bytes, size_t size, nala_err *err) {
  if (size < 8)
    return nala_fail(err, NALA_E_FORMAT, "file is %zu bytes, too short for the 8-byte header length", size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = n << 8 | bytes[i];
  if (n > size - 8)
    return nala_fail(err, NALA_E_FORMAT, "header length %llu runs past the end of the file (%zu bytes)",
                     (unsigned long long)n, size);
  if (n > ST_MAX_HEADER_BYTES)
    return nala_fail(err, NALA_E_FORMAT, "header length %llu exceeds the %llu-byte limit", (unsigned long long)n,
                     (unsigned long long)ST_MAX_HEADER_BYTES);
  if (n == 0)
    return nala_fail(err, NALA_E_FORMAT, "header length is 0 (expected a JSON object)");
  const char *header = (const char *)bytes + 8;
  size_t bad = nala_st_utf8_invalid_at(header, (size_t)n);
  if (bad < n)
    return nala_fail(err, NALA_E_FORMAT,
                     "header is not valid UTF-8 (or holds a NUL) at header byte %zu (file offset %zu)", bad, bad + 8);
  const char *parse_end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(header, (size_t)n, &parse_end, 0);
  if (!root) {
    size_t at = parse_end && parse_end >= header && parse_end <= header + n ? (size_t)(parse_end - header) : 0;
    return nala_fail(err, NALA_E_FORMAT, "header is not valid JSON: error near header byte %zu (file offset %zu)", at,
                     at + 8);
  }
  nala_status status = NALA_OK;
  size_t tail = parse_end ? (size_t)(parse_end - header) : (size_t)n;
  for (; tail < n && status == NALA_OK; tail++)
    if (!strchr(" \t\r\n", header[tail]))
      status = nala_fail(err, NALA_E_FORMAT, "unexpected byte 0x%02x after the header JSON at header byte %zu",
                         (unsigned char)header[tail], tail);
  if (status == NALA_OK && !cJSON_IsObject(root))
    status = nala_fail(err, NALA_E_FORMAT, "header JSON is not an object");
  const uint8_t *data = bytes + 8 + n;
  uint64_t data_size = size - 8 - n;
  size_t entries = status == NALA_OK ? (size_t)cJSON_GetArraySize(root) : 0;
  if (status == NALA_OK) {
    file->tensors = calloc(entries + 1, sizeof *file->tensors);
    if (!file->tensors)
      status = nala_fail(err, NALA_E_NOMEM, "out of memory for %zu tensors", entries);
  }
  const cJSON *entry = status == NALA_OK ? root->child : NULL;
  for (; entry && status == NALA_OK; entry = entry->next) {
    if (!strcmp(entry->string, "__metadata__")) {
      status = parse_metadata(file, entry, err);
      continue;
    }
    nala_st_tensor *t = &file->tensors[file->count];
    status = parse_tensor(entry, data, data_size, t, err);
    if (status == NALA_OK) {
      t->name = strdup(entry->string);
      if (!t->name)
        status = nala_fail(err, NALA_E_NOMEM, "out of memory for tensor name \"%s\"", entry->string);
      else
        file->count++;
    }
  }
  cJSON_Delete(root);
  if (status == NALA_OK)
    status = check_names_and_overlaps(file, data, err);
  return status;
}

/* Builds a file over size bytes; map (map_bytes long, may be NULL) is unmapped by nala_st_close. On
 * failure the map is unmapped too and err names the file. */
static nala_status open_bytes(const uint8_t *bytes, size_t size, const char *name, void *map, size_t map_bytes,
                              nala_st_file **out, nala_err *err) {
  nala_st_file *file = calloc(1, sizeof *file);
  if (!file || !(file->path = strdup(name))) {
    free(file);
    if (map)
      munmap(map, map_bytes);
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", name);
  }
  file->bytes = bytes;
  file->map = map;
  file->map_bytes = map_bytes;
  nala_status status = parse_file(file, bytes, size, err);
  if (status != NALA_OK) {
    nala_err_prefix(err, "%s: ", name);
    nala_st_close(file);
    return status;
  }
  *out = file;
  return NALA_OK;
}

nala_status nala_st_open_memory(const void *data, size_t size, const char *name, nala_st_file **out, nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_st_open_memory: NULL out");
  *out = NULL;
  if (!data && size)
    return nala_fail(err, NALA_E_ARG, "nala_st_open_memory: NULL data");
  return open_bytes(data, size, name ? name : "<memory>", NULL, 0, out, err);
}

nala_status nala_st_open(const char *path, nala_st_file **out, nala_err *err) {
  if (!out)
    return nala_fail(err, NALA_E_ARG, "nala_st_open: NULL out");
  *out = NULL;
  if (!path)
    return nala_fail(err, NALA_E_ARG, "nala_st_open: NULL path");
  /* O_NONBLOCK: a FIFO given by mistake must fail at fstat below, not block in open. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    char reason[128];
    nala_st_errno_text(errno, reason, sizeof reason);
    return nala_fail(err, NALA_E_IO, "%s: cannot open: %s", path, reason);
  }
  struct stat st;
  nala_status status = NALA_OK;
  void *map = NULL;
  size_t map_bytes = 0;
  if (fstat(fd, &st) != 0) {
    char reason[128];
    nala_st_errno_text(errno, reason, sizeof reason);
    status = nala_fail(err, NALA_E_IO, "cannot stat: %s", reason);
  } else if (!S_ISREG(st.st_mode)) {
    status = nala_fail(err, NALA_E_IO, "not a regular file");
  } else if (st.st_size >= 8) {
    map_bytes = (size_t)st.st_size;
    map = mmap(NULL, map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      char reason[128];
      nala_st_errno_text(errno, reason, sizeof reason);
      status = nala_fail(err, NALA_E_IO, "cannot mmap %zu bytes: %s", map_bytes, reason);
      map = NULL;
    }
  }
  close(fd);
  if (status != NALA_OK)
    return nala_err_prefix(err, "%s: ", path);
  /* A file shorter than 8 bytes is not mapped; the parser reports its size. */
  return open_bytes(map, map ? map_bytes : (size_t)st.st_size, path, map, map_bytes, out, err);
}

/* Exact IEEE binary16 -> binary32: every half is representable, subnormals included. */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    float mag = (float)mant * 0x1p-24f; /* zero or subnormal: mant * 2^-24, exact */
    memcpy(&bits, &mag, sizeof bits);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13; /* inf, or NaN with its payload kept */
  } else {
    bits = sign | (exp + 112) << 23 | mant << 13;
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

nala_status nala_st_to_f32(const nala_st_tensor *t, float *dst, size_t n, nala_err *err) {
  if (!t || (!dst && n))
    return nala_fail(err, NALA_E_ARG, "nala_st_to_f32: NULL argument");
  size_t numel = nala_st_numel(t);
  const char *name = t->name ? t->name : "(unnamed)";
  if (n != numel)
    return nala_fail(err, NALA_E_SHAPE, "tensor \"%s\": has %zu elements, caller expects %zu", name, numel, n);
  const uint8_t *src = t->data; /* offsets need not be aligned: load element by element with memcpy */
  switch (t->dtype) {
  case NALA_DT_F32:
    if (n)
      memcpy(dst, src, n * sizeof *dst);
    return NALA_OK;
  case NALA_DT_F16:
    for (size_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, src + 2 * i, 2);
      dst[i] = half_to_float(h);
    }
    return NALA_OK;
  case NALA_DT_BF16:
    for (size_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, src + 2 * i, 2);
      uint32_t bits = (uint32_t)h << 16;
      memcpy(&dst[i], &bits, sizeof bits);
    }
    return NALA_OK;
  case NALA_DT_F64:
    for (size_t i = 0; i < n; i++) {
      double v;
      memcpy(&v, src + 8 * i, 8);
      /* Round to nearest even, as torch's .float(); beyond FLT_MAX the C cast is undefined, torch gives inf. */
      dst[i] = v > FLT_MAX ? INFINITY : v < -FLT_MAX ? -INFINITY : (float)v;
    }
    return NALA_OK;
  default:
    return nala_fail(err, NALA_E_UNSUPPORTED, "tensor \"%s\": dtype %s is not a float type (F32, F16, BF16, F64)",
                     name, nala_dtype_name(t->dtype));
  }
}
