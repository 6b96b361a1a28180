/* safetensors files: strict, bounds-checked reading (mmap) and atomic writing.
 *
 * Format: 8-byte little-endian header length n, n bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
 * then the data block; offsets are relative to the data block.
 *
 * Validation follows the reference implementation (huggingface/safetensors): header length at
 * most 100 MB, UTF-8 JSON object, known dtypes, shape consistent with the offsets, offsets inside
 * the file, no overlapping or duplicate tensors. Gaps between tensors are accepted. An open file
 * is read-only and may be shared by threads. Its data is mmap'ed: if another process truncates
 * the file while it is open, reading tensor data raises SIGBUS (as with any mmap reader). */
#ifndef NALA_SAFETENSORS_H
#define NALA_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NALA_ST_MAX_DIMS 8

typedef enum nala_dtype {
  NALA_DT_BOOL, NALA_DT_U8, NALA_DT_I8, NALA_DT_I16, NALA_DT_U16, NALA_DT_F16, NALA_DT_BF16,
  NALA_DT_I32, NALA_DT_U32, NALA_DT_F32, NALA_DT_F64, NALA_DT_I64, NALA_DT_U64,
  /* Readable (a file holding them opens) but not convertible to float32. */
  NALA_DT_F8_E4M3, NALA_DT_F8_E5M2, NALA_DT_F8_E8M0, NALA_DT_C64
} nala_dtype;

/* One tensor of an open file (or one to write). data points into the mapping (read) or to
 * caller memory (write); nbytes = element size * product(shape). */
typedef struct nala_st_tensor {
  const char *name;
  nala_dtype dtype;
  int ndim;
  int64_t shape[NALA_ST_MAX_DIMS];
  const void *data;
  size_t nbytes;
} nala_st_tensor;

typedef struct nala_st_file nala_st_file;

/* Safetensors dtype name ("F32") of a dtype, and its element size in bytes. */
const char *nala_dtype_name(nala_dtype dtype);
size_t nala_dtype_size(nala_dtype dtype);

/* Opens and validates path (header JSON, dtypes, shapes vs offsets, offsets inside the file,
 * no overlaps); every failure names the file and the tensor or byte at fault. */
nala_status nala_st_open(const char *path, nala_st_file **out, nala_err *err);

/* Same validation over size bytes held in memory, which are not copied: they must outlive the file
 * (tensor data points into them). name (NULL: "<memory>") stands for the path in messages and
 * nala_st_path. nala_st_open maps the file and runs this same parser. */
nala_status nala_st_open_memory(const void *data, size_t size, const char *name, nala_st_file **out, nala_err *err);

/* Unmaps and frees; NULL is a no-op. */
void nala_st_close(nala_st_file *file);

/* Number of tensors and the i-th one in header order (i < count). */
size_t nala_st_count(const nala_st_file *file);
const nala_st_tensor *nala_st_at(const nala_st_file *file, size_t i);

/* Tensor by exact name, or NULL. */
const nala_st_tensor *nala_st_find(const nala_st_file *file, const char *name);

/* The file's path as opened (for messages). */
const char *nala_st_path(const nala_st_file *file);

/* Value of key in the header's "__metadata__" string map, or NULL when absent. */
const char *nala_st_metadata(const nala_st_file *file, const char *key);

/* Number of metadata entries, and the i-th key/value pair in header order (i < count). */
size_t nala_st_metadata_count(const nala_st_file *file);
void nala_st_metadata_at(const nala_st_file *file, size_t i, const char **key, const char **value);

/* Byte offset of t's data from the start of the file (t must belong to file). */
size_t nala_st_file_offset(const nala_st_file *file, const nala_st_tensor *t);

/* Element count (product of shape; 1 for a scalar). */
size_t nala_st_numel(const nala_st_tensor *t);

/* Dtype by safetensors name ("BF16"); returns 0 when the name is unknown. */
int nala_dtype_from_name(const char *name, nala_dtype *out);

/* Converts a F32/F16/BF16/F64 tensor to n float32 values in dst (n must equal its element count). */
nala_status nala_st_to_f32(const nala_st_tensor *t, float *dst, size_t n, nala_err *err);

/* Writes tensors to path atomically (temporary file, then rename): nothing half-written. */
nala_status nala_st_write(const char *path, const nala_st_tensor *tensors, size_t count, nala_err *err);

/* Same, with n_meta "__metadata__" string pairs (meta_keys[i] -> meta_values[i]). Tensors are
 * stored in the given order, header padded with spaces so the data block is 8-byte aligned. */
nala_status nala_st_write_meta(const char *path, const nala_st_tensor *tensors, size_t count,
                               const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                               nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
