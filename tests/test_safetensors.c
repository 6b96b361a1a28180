/* safetensors reader/writer: round trips, exact half/bfloat conversions, every malformed-file case
 * of issue 2 (each must fail with a message naming the file and the tensor or byte at fault), and
 * random corruptions that must load or fail cleanly, never crash (run under ASan in CI). */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/safetensors.h"
#include "nala/seeded_init.h"
#include "tests/st_test_util.h"
#include "tests/support/suite.h"

static char dir[64];
static char path[128];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/nala_st_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/t.safetensors", dir);
}

static void teardown(void) { st_remove_dir(dir); }

/* header_len argument for a header written verbatim. */
#define LEN_EXACT_OF(header) strlen(header), (header)

static uint32_t bits_of(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

START_TEST(round_trip_all_dtypes_and_metadata) {
  float f32[6] = {1.5f, -2.25f, 0.0f, 3e-38f, 1e30f, -0.0f};
  uint16_t f16[4] = {0x3c00, 0xc000, 0x0001, 0x7c00};
  uint16_t bf16[3] = {0x3f80, 0xc049, 0xff80};
  double f64[2] = {0.1, -1e300};
  int64_t i64[2] = {-5, (int64_t)1 << 40};
  float scalar = 7.0f;
  nala_st_tensor tensors[] = {
      {"b.f32", NALA_DT_F32, 2, {2, 3}, f32, sizeof f32},
      {"a.f16", NALA_DT_F16, 1, {4}, f16, sizeof f16},
      {"c.bf16", NALA_DT_BF16, 3, {1, 3, 1}, bf16, sizeof bf16},
      {"d.f64", NALA_DT_F64, 1, {2}, f64, sizeof f64},
      {"e.i64", NALA_DT_I64, 1, {2}, i64, sizeof i64},
      {"f.scalar", NALA_DT_F32, 0, {0}, &scalar, sizeof scalar},
      {"g.empty \"quoted\"\\\t\xc3\xa9", NALA_DT_F32, 2, {0, 3}, NULL, 0},
  };
  const char *keys[] = {"format", "seed"}, *values[] = {"pt", "0 \"x\"\n"};
  nala_err err;
  ck_assert_msg(nala_st_write_meta(path, tensors, 7, keys, values, 2, &err) == NALA_OK, "%s", err.msg);

  /* Layout of the reference implementation: header padded with spaces to a multiple of 8. */
  size_t size;
  unsigned char *raw = st_read_file(path, &size);
  uint64_t n = 0;
  memcpy(&n, raw, 8);
  ck_assert_uint_eq(n % 8, 0);
  ck_assert_int_eq(raw[8], '{');
  ck_assert_uint_eq(size, 8 + n + sizeof f32 + sizeof f16 + sizeof bf16 + sizeof f64 + sizeof i64 + 4);
  free(raw);
  char tmp_name[160];
  snprintf(tmp_name, sizeof tmp_name, "%s.tmp.%ld", path, (long)getpid());
  ck_assert_int_ne(access(tmp_name, F_OK), 0);

  nala_st_file *file = NULL;
  ck_assert_msg(nala_st_open(path, &file, &err) == NALA_OK, "%s", err.msg);
  ck_assert_uint_eq(nala_st_count(file), 7);
  ck_assert_str_eq(nala_st_path(file), path);
  for (size_t i = 0; i < 7; i++) {
    const nala_st_tensor *t = nala_st_at(file, i);
    ck_assert_str_eq(t->name, tensors[i].name); /* header order kept */
    ck_assert_int_eq(t->dtype, tensors[i].dtype);
    ck_assert_int_eq(t->ndim, tensors[i].ndim);
    for (int d = 0; d < t->ndim; d++)
      ck_assert_int_eq(t->shape[d], tensors[i].shape[d]);
    ck_assert_uint_eq(t->nbytes, tensors[i].nbytes);
    if (t->nbytes)
      ck_assert_int_eq(memcmp(t->data, tensors[i].data, t->nbytes), 0);
    ck_assert_uint_eq(nala_st_file_offset(file, t) % 2, 0);
  }
  ck_assert_ptr_eq(nala_st_find(file, "d.f64"), nala_st_at(file, 3));
  ck_assert_ptr_null(nala_st_find(file, "d.f6"));
  ck_assert_str_eq(nala_st_metadata(file, "format"), "pt");
  ck_assert_str_eq(nala_st_metadata(file, "seed"), "0 \"x\"\n");
  ck_assert_ptr_null(nala_st_metadata(file, "nope"));
  ck_assert_uint_eq(nala_st_metadata_count(file), 2);
  const char *k, *v;
  nala_st_metadata_at(file, 1, &k, &v);
  ck_assert_str_eq(k, "seed");

  float out[6];
  ck_assert_int_eq(nala_st_to_f32(nala_st_at(file, 0), out, 6, &err), NALA_OK);
  ck_assert_int_eq(memcmp(out, f32, sizeof f32), 0);
  ck_assert_int_eq(nala_st_to_f32(nala_st_at(file, 3), out, 2, &err), NALA_OK);
  ck_assert_uint_eq(bits_of(out[0]), bits_of((float)0.1));
  ck_assert(isinf(out[1]) && out[1] < 0);
  ck_assert_int_eq(nala_st_to_f32(nala_st_at(file, 2), out, 3, &err), NALA_OK);
  ck_assert(out[0] == 1.0f && out[1] == -3.140625f && isinf(out[2]) && out[2] < 0);
  ck_assert_int_eq(nala_st_to_f32(nala_st_at(file, 5), out, 1, &err), NALA_OK);
  ck_assert(out[0] == 7.0f);
  ck_assert_int_eq(nala_st_to_f32(nala_st_at(file, 6), out, 0, &err), NALA_OK);
  ck_assert_int_eq(nala_st_to_f32(nala_st_at(file, 4), out, 2, &err), NALA_E_UNSUPPORTED);
  ck_assert_msg(strstr(err.msg, "e.i64") && strstr(err.msg, "I64"), "%s", err.msg);
  ck_assert_int_eq(nala_st_to_f32(nala_st_at(file, 0), out, 5, &err), NALA_E_SHAPE);
  ck_assert_msg(strstr(err.msg, "b.f32"), "%s", err.msg);
  nala_st_close(file);
}
END_TEST

/* nala_st_open_memory runs the same parser as nala_st_open: same tensors, data inside the caller's
 * buffer, the same errors under the caller's name. */
START_TEST(memory_image_opens_like_the_file) {
  float f32[3] = {1, 2, 3};
  uint16_t f16[2] = {0x3c00, 0xc000};
  nala_st_tensor tensors[] = {{"x", NALA_DT_F32, 1, {3}, f32, sizeof f32}, {"y", NALA_DT_F16, 2, {1, 2}, f16, 4}};
  nala_err err;
  ck_assert_int_eq(nala_st_write(path, tensors, 2, &err), NALA_OK);
  size_t size;
  unsigned char *raw = st_read_file(path, &size);
  nala_st_file *file = NULL, *mem = NULL;
  ck_assert_int_eq(nala_st_open(path, &file, &err), NALA_OK);
  ck_assert_msg(nala_st_open_memory(raw, size, "buf.safetensors", &mem, &err) == NALA_OK, "%s", err.msg);
  ck_assert_str_eq(nala_st_path(mem), "buf.safetensors");
  ck_assert_uint_eq(nala_st_count(mem), nala_st_count(file));
  for (size_t i = 0; i < nala_st_count(mem); i++) {
    const nala_st_tensor *a = nala_st_at(file, i), *b = nala_st_at(mem, i);
    ck_assert_str_eq(a->name, b->name);
    ck_assert_uint_eq(a->nbytes, b->nbytes);
    ck_assert_int_eq(memcmp(a->data, b->data, a->nbytes), 0);
    ck_assert((const unsigned char *)b->data >= raw && (const unsigned char *)b->data + b->nbytes <= raw + size);
    ck_assert_uint_eq(nala_st_file_offset(file, a), nala_st_file_offset(mem, b));
  }
  float out[3];
  ck_assert_int_eq(nala_st_to_f32(nala_st_find(mem, "x"), out, 3, &err), NALA_OK);
  ck_assert(out[0] == 1 && out[2] == 3);
  nala_st_close(mem);
  nala_st_close(file);
  /* Header length past the end, and a buffer shorter than the length field. */
  raw[0] = 0xff;
  raw[1] = 0xff;
  ck_assert_int_eq(nala_st_open_memory(raw, size, "buf.safetensors", &mem, &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, "buf.safetensors: header length") && strstr(err.msg, "runs past the end"), "%s",
                err.msg);
  ck_assert_ptr_null(mem);
  ck_assert_int_eq(nala_st_open_memory(raw, 5, NULL, &mem, &err), NALA_E_FORMAT);
  ck_assert_str_eq(err.msg, "<memory>: file is 5 bytes, too short for the 8-byte header length");
  ck_assert_int_eq(nala_st_open_memory(NULL, 8, NULL, &mem, &err), NALA_E_ARG);
  free(raw);
}
END_TEST

/* Every one of the 65536 halves against the IEEE definition computed another way. */
START_TEST(f16_conversion_exact_for_all_values) {
  static uint16_t halves[65536];
  static float out[65536];
  for (uint32_t i = 0; i < 65536; i++)
    halves[i] = (uint16_t)i;
  nala_st_tensor t = {"h", NALA_DT_F16, 1, {65536}, halves, sizeof halves};
  nala_err err;
  ck_assert_msg(nala_st_write(path, &t, 1, &err) == NALA_OK, "%s", err.msg);
  nala_st_file *file;
  ck_assert_msg(nala_st_open(path, &file, &err) == NALA_OK, "%s", err.msg);
  ck_assert_int_eq(nala_st_to_f32(nala_st_at(file, 0), out, 65536, &err), NALA_OK);
  for (uint32_t i = 0; i < 65536; i++) {
    int sign = i >> 15, exp = (i >> 10) & 31, mant = i & 1023;
    float got = out[i];
    if (exp == 31 && mant) {
      ck_assert_msg(isnan(got) && !!signbit(got) == sign, "half 0x%04x -> %g", i, (double)got);
      ck_assert_uint_eq(bits_of(got) & 0x7fffff, (uint32_t)mant << 13); /* payload kept */
      continue;
    }
    double want = exp == 31 ? INFINITY : exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
    if (sign)
      want = -want;
    ck_assert_msg(got == (float)want && !!signbit(got) == sign, "half 0x%04x -> %.9g, want %.9g", i, (double)got,
                  want);
  }
  ck_assert_uint_eq(bits_of(out[0x0001]), 0x33800000); /* smallest subnormal 2^-24 */
  ck_assert_uint_eq(bits_of(out[0x03ff]), 0x387fc000); /* largest subnormal */
  ck_assert(out[0x7bff] == 65504.0f);
  nala_st_close(file);
}
END_TEST

START_TEST(bf16_conversion_exact_for_specials) {
  uint16_t in[8] = {0x0000, 0x8000, 0x0001, 0x7f7f, 0x7f80, 0xff80, 0x7fc1, 0x3f81};
  uint32_t want[8] = {0x00000000, 0x80000000, 0x00010000, 0x7f7f0000, 0x7f800000, 0xff800000, 0x7fc10000, 0x3f810000};
  nala_st_tensor t = {"bf", NALA_DT_BF16, 1, {8}, in, sizeof in};
  float out[8];
  nala_err err;
  ck_assert_int_eq(nala_st_to_f32(&t, out, 8, &err), NALA_OK);
  for (int i = 0; i < 8; i++)
    ck_assert_msg(bits_of(out[i]) == want[i], "bf16 0x%04x -> 0x%08x", in[i], bits_of(out[i]));
}
END_TEST

START_TEST(writer_rejects_bad_tensors_and_keeps_target) {
  const char *old = "previous content";
  st_write_file(path, old, strlen(old));
  float data[2] = {1, 2};
  nala_err err;
  nala_st_tensor bad_size = {"w", NALA_DT_F32, 1, {3}, data, sizeof data};
  ck_assert_int_eq(nala_st_write(path, &bad_size, 1, &err), NALA_E_ARG);
  ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "\"w\""), "%s", err.msg);
  nala_st_tensor dup[2] = {{"w", NALA_DT_F32, 1, {2}, data, sizeof data}, {"w", NALA_DT_F32, 1, {2}, data, 8}};
  ck_assert_int_eq(nala_st_write(path, dup, 2, &err), NALA_E_ARG);
  ck_assert_msg(strstr(err.msg, "twice"), "%s", err.msg);
  nala_st_tensor reserved = {"__metadata__", NALA_DT_F32, 1, {2}, data, sizeof data};
  ck_assert_int_eq(nala_st_write(path, &reserved, 1, &err), NALA_E_ARG);
  nala_st_tensor not_utf8 = {"w\xff", NALA_DT_F32, 1, {2}, data, sizeof data};
  ck_assert_int_eq(nala_st_write(path, &not_utf8, 1, &err), NALA_E_ARG);
  ck_assert_msg(strstr(err.msg, "UTF-8"), "%s", err.msg);
  size_t size;
  char *now = (char *)st_read_file(path, &size);
  ck_assert_uint_eq(size, strlen(old));
  ck_assert_int_eq(memcmp(now, old, size), 0);
  free(now);
  /* rename onto a directory fails after the temporary file was written: it must be removed. */
  char target_dir[192], tmp_name[224];
  snprintf(target_dir, sizeof target_dir, "%s/target", dir);
  ck_assert_int_eq(mkdir(target_dir, 0755), 0);
  ck_assert_int_eq(nala_st_write(target_dir, dup, 1, &err), NALA_E_IO);
  ck_assert_msg(strstr(err.msg, target_dir) && strstr(err.msg, "untouched"), "%s", err.msg);
  snprintf(tmp_name, sizeof tmp_name, "%s.tmp.%ld", target_dir, (long)getpid());
  ck_assert_int_ne(access(tmp_name, F_OK), 0);
  struct stat st;
  ck_assert(stat(target_dir, &st) == 0 && S_ISDIR(st.st_mode));
  rmdir(target_dir);
  /* A directory that does not exist: I/O error, nothing created. */
  char missing[192];
  snprintf(missing, sizeof missing, "%s/no/such/dir/x.safetensors", dir);
  ck_assert_int_eq(nala_st_write(missing, dup, 1, &err), NALA_E_IO);
  ck_assert_msg(strstr(err.msg, missing), "%s", err.msg);
}
END_TEST

/* 8-bit float and complex tensors may sit in a file we load (e.g. an unused head): they open, and
 * only converting them fails; sub-byte types cannot be sized and fail at open, by name. */
/* Two threads write one path 25 times each, each its own content: every write must succeed and the
 * file must end up as one writer's complete file, with no temporary file left beside it (a
 * temp name from the pid alone made both threads write into one temp file). */
enum { RACE_WRITES = 25, RACE_FLOATS = 4096 };

typedef struct race_writer {
  float value;
  int failures;
  char first_error[NALA_ERR_MSG_MAX];
} race_writer;

static void *race_write(void *arg) {
  race_writer *rw = arg;
  static float data[2][RACE_FLOATS]; /* one buffer per writer, filled before the threads start */
  float *mine = data[rw->value == 1.0f ? 0 : 1];
  for (int i = 0; i < RACE_FLOATS; i++)
    mine[i] = rw->value;
  nala_st_tensor t = {.name = "x", .dtype = NALA_DT_F32, .ndim = 1, .shape = {RACE_FLOATS}, .data = mine,
                      .nbytes = sizeof(float) * RACE_FLOATS};
  for (int k = 0; k < RACE_WRITES; k++) {
    nala_err err;
    if (nala_st_write(path, &t, 1, &err) != NALA_OK && rw->failures++ == 0)
      snprintf(rw->first_error, sizeof rw->first_error, "%s", err.msg);
  }
  return NULL;
}

START_TEST(two_threads_write_one_path) {
  race_writer w[2] = {{.value = 1.0f}, {.value = 2.0f}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, race_write, &w[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++)
    ck_assert_msg(w[i].failures == 0, "writer %d: %d of %d writes failed, first: %s", i, w[i].failures,
                  RACE_WRITES, w[i].first_error);
  nala_err err;
  nala_st_file *f = NULL;
  ck_assert_msg(nala_st_open(path, &f, &err) == NALA_OK, "%s", err.msg);
  const nala_st_tensor *t = nala_st_find(f, "x");
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(t->shape[0], RACE_FLOATS);
  const float *x = t->data;
  int mixed = 0;
  for (int i = 1; i < RACE_FLOATS; i++)
    mixed += x[i] != x[0];
  ck_assert_msg(mixed == 0 && (x[0] == 1.0f || x[0] == 2.0f), "file mixes both writers (%d values differ from %g)",
                mixed, x[0]);
  nala_st_close(f);
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int entries = 0;
  for (struct dirent *e; (e = readdir(d));)
    entries += e->d_name[0] != '.';
  closedir(d);
  ck_assert_int_eq(entries, 1); /* no temporary file left behind */
}
END_TEST

START_TEST(non_float_dtypes_open_but_do_not_convert) {
  st_write_raw(path, LEN_EXACT_OF("{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[3],\"data_offsets\":[0,3]},"
                                  "\"c\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[8,16]}}"),
               16);
  nala_st_file *file;
  nala_err err;
  ck_assert_msg(nala_st_open(path, &file, &err) == NALA_OK, "%s", err.msg);
  float out[3];
  ck_assert_int_eq(nala_st_to_f32(nala_st_find(file, "q"), out, 3, &err), NALA_E_UNSUPPORTED);
  ck_assert_msg(strstr(err.msg, "\"q\"") && strstr(err.msg, "F8_E4M3"), "%s", err.msg);
  ck_assert_int_eq(nala_st_find(file, "c")->dtype, NALA_DT_C64);
  nala_st_close(file);
  st_write_raw(path, LEN_EXACT_OF("{\"s\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}"), 1);
  ck_assert_int_eq(nala_st_open(path, &file, &err), NALA_E_UNSUPPORTED);
  ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "tensor \"s\": dtype F4 is not supported"), "%s", err.msg);
}
END_TEST

/* A length within the file but past the 100 MB cap: a sparse file, so no disk space is used. */
START_TEST(header_length_over_the_cap) {
  st_write_raw(path, 100000001, "{}", 0);
  ck_assert_int_eq(truncate(path, 8 + 100000001), 0);
  nala_st_file *file;
  nala_err err;
  ck_assert_int_eq(nala_st_open(path, &file, &err), NALA_E_FORMAT);
  ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "header length 100000001 exceeds the 100000000-byte limit"),
                "%s", err.msg);
}
END_TEST

START_TEST(empty_tensor_list_round_trips) {
  nala_err err;
  ck_assert_msg(nala_st_write(path, NULL, 0, &err) == NALA_OK, "%s", err.msg);
  size_t size;
  unsigned char *raw = st_read_file(path, &size);
  ck_assert_uint_eq(size, 16); /* length + "{}" padded with six spaces */
  ck_assert_int_eq(memcmp(raw + 8, "{}      ", 8), 0);
  free(raw);
  nala_st_file *file;
  ck_assert_msg(nala_st_open(path, &file, &err) == NALA_OK, "%s", err.msg);
  ck_assert_uint_eq(nala_st_count(file), 0);
  ck_assert_ptr_null(nala_st_at(file, 0));
  ck_assert_uint_eq(nala_st_metadata_count(file), 0);
  nala_st_close(file);
}
END_TEST

START_TEST(open_reports_missing_and_non_regular_files) {
  nala_st_file *file = (nala_st_file *)1;
  nala_err err;
  ck_assert_int_eq(nala_st_open(path, &file, &err), NALA_E_IO);
  ck_assert_ptr_null(file);
  ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "cannot open"), "%s", err.msg);
  ck_assert_int_eq(nala_st_open(dir, &file, &err), NALA_E_IO);
  ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
  char fifo[160];
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  ck_assert_int_eq(nala_st_open(fifo, &file, &err), NALA_E_IO); /* without a writer: must not block */
  ck_assert_msg(strstr(err.msg, fifo) && strstr(err.msg, "not a regular file"), "%s", err.msg);
  ck_assert_int_eq(nala_st_open(NULL, &file, &err), NALA_E_ARG);
}
END_TEST

/* One malformed file: the 8-byte length (LEN_EXACT = the header's own length), header text, data
 * bytes after it, and the texts the message must contain (besides the path). */
#define LEN_EXACT UINT64_MAX
typedef struct bad_case {
  const char *what;
  uint64_t header_len;
  const char *header;
  size_t data_len;
  const char *expect1, *expect2;
} bad_case;

#define W_F32(shape, offsets) "{\"w\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":" offsets "}}"
static const bad_case bad_cases[] = {
    {"empty file", 0, NULL, 0, "0 bytes", "8-byte header length"},
    {"5 bytes", 0, "\x01\x02\x03\x04\x05", 0, "5 bytes", "too short"},
    {"header length past end", 100, "{}", 4, "header length 100", "14 bytes"},
    {"header length 2^63", (uint64_t)1 << 63, "{}", 0, "header length 9223372036854775808", "past the end"},
    {"header length 0", 0, "", 8, "header length is 0", NULL},
    {"invalid JSON", LEN_EXACT, "{\"w\": {\"dtype\": \"F32\",, }}", 0, "not valid JSON", "near header byte 2"},
    {"truncated JSON", LEN_EXACT, "{\"w\": {\"dtype\"", 0, "not valid JSON", "near header byte 1"},
    {"trailing bytes", LEN_EXACT, "{} x", 0, "0x78", "header byte 3"},
    {"not UTF-8", LEN_EXACT, "{\"\xff\": 1}", 0, "UTF-8", "header byte 2"},
    {"overlong UTF-8", LEN_EXACT, "{\"\xc0\xaf\": 1}", 0, "UTF-8", "header byte 2"},
    {"header is an array", LEN_EXACT, "[1, 2]", 0, "not an object", NULL},
    {"header is a string", LEN_EXACT, "\"w\"", 0, "not an object", NULL},
    {"unknown dtype", LEN_EXACT, "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     "tensor \"w\"", "unknown dtype \"F33\""},
    {"dtype not a string", LEN_EXACT, "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\" is 4",
     NULL},
    {"missing shape", LEN_EXACT, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "\"shape\" is missing",
     NULL},
    {"shape vs offsets", LEN_EXACT, W_F32("[2]", "[0,4]"), 8, "hold 4 bytes", "need 8"},
    {"end past data", LEN_EXACT, W_F32("[2]", "[0,8]"), 4, "end past the data block of 4 bytes", NULL},
    {"truncated data", LEN_EXACT, W_F32("[4, 4]", "[0,64]"), 40, "[0, 64]", "truncated"},
    {"begin > end", LEN_EXACT, W_F32("[1]", "[8,4]"), 8, "[8, 4]", "begin > end"},
    {"offsets not a pair", LEN_EXACT, W_F32("[1]", "[0]"), 8, "\"data_offsets\" = [0]", NULL},
    {"negative offset", LEN_EXACT, W_F32("[1]", "[-4,0]"), 8, "\"data_offsets\" = [-4,0]", NULL},
    {"overlapping tensors", LEN_EXACT,
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, "\"a\" [0, 8) and \"b\" [4, 12) overlap", NULL},
    {"duplicate names", LEN_EXACT,
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8, "tensor \"w\" appears twice", NULL},
    {"negative shape", LEN_EXACT, W_F32("[-1]", "[0,0]"), 0, "\"shape\"[0] = -1", "non-negative integer"},
    {"float shape", LEN_EXACT, W_F32("[1, 2.5]", "[0,10]"), 12, "\"shape\"[1] = 2.5", NULL},
    {"string shape", LEN_EXACT, W_F32("[\"2\"]", "[0,8]"), 8, "\"shape\"[0] = \"2\"", NULL},
    {"ndim 9", LEN_EXACT, W_F32("[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4, "9 dimensions", "at most 8"},
    {"shape product overflow", LEN_EXACT, W_F32("[4294967296, 4294967296]", "[0,4]"), 4, "overflows",
     "\"shape\"[1] = 4294967296"},
    {"non-object entry", LEN_EXACT, "{\"w\": 5}", 0, "tensor \"w\": entry is 5", NULL},
    {"unknown entry key", LEN_EXACT,
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"strides\":[1]}}", 4, "unknown key \"strides\"",
     NULL},
    {"repeated entry key", LEN_EXACT,
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"dtype\":\"I64\",\"data_offsets\":[0,4]}}", 4,
     "tensor \"w\": key \"dtype\" appears twice", NULL},
    {"metadata not strings", LEN_EXACT, "{\"__metadata__\":{\"a\":1}}", 0, "\"__metadata__\".\"a\" is 1", NULL},
    {"metadata not an object", LEN_EXACT, "{\"__metadata__\":[1]}", 0, "\"__metadata__\" is not an object", NULL},
    {"metadata twice", LEN_EXACT, "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "appears twice", NULL},
};
#define N_BAD_CASES (sizeof bad_cases / sizeof bad_cases[0])

START_TEST(bad_file_fails_naming_the_fault) {
  const bad_case *c = &bad_cases[_i];
  if (!c->header) {
    st_write_file(path, "", 0);
  } else if (!c->header_len && !c->data_len && strlen(c->header) < 8) {
    st_write_file(path, c->header, strlen(c->header));
  } else {
    st_write_raw(path, c->header_len == LEN_EXACT ? strlen(c->header) : c->header_len, c->header, c->data_len);
  }
  nala_st_file *file = (nala_st_file *)1;
  nala_err err;
  nala_err_clear(&err);
  nala_status status = nala_st_open(path, &file, &err);
  fprintf(stderr, "  %-24s -> %s\n", c->what, err.msg);
  ck_assert_msg(status == NALA_E_FORMAT, "%s: status %s", c->what, nala_status_string(status));
  ck_assert_ptr_null(file);
  ck_assert_msg(!strncmp(err.msg, path, strlen(path)), "%s: message does not name the file: %s", c->what, err.msg);
  ck_assert_msg(strstr(err.msg, c->expect1), "%s: message lacks \"%s\": %s", c->what, c->expect1, err.msg);
  ck_assert_msg(!c->expect2 || strstr(err.msg, c->expect2), "%s: message lacks \"%s\": %s", c->what, c->expect2,
                err.msg);
}
END_TEST

/* A valid file with tensors of several dtypes, then random flips, insertions of JSON-significant
 * bytes and truncations: each must either load (and then every tensor lies inside the file and
 * converts) or fail with a message; ASan/UBSan turn any overread into a failure. */
START_TEST(random_corruptions_load_or_fail_cleanly) {
  float f32[12];
  uint16_t f16[6] = {0x3c00, 0x7c00, 0x0001, 0xfe00, 0x8000, 0x3555};
  double f64[3] = {1.0, -2.0, 1e-300};
  for (int i = 0; i < 12; i++)
    f32[i] = (float)i - 5.5f;
  nala_st_tensor tensors[] = {
      {"backbone.layers.0.blocks.0.attn.qkvg.weight", NALA_DT_F32, 2, {3, 4}, f32, sizeof f32},
      {"backbone.norm.weight", NALA_DT_F16, 1, {6}, f16, sizeof f16},
      {"x.f64", NALA_DT_F64, 2, {1, 3}, f64, sizeof f64},
      {"x.bf16", NALA_DT_BF16, 1, {3}, f16, 6},
  };
  const char *keys[] = {"format"}, *values[] = {"pt"};
  nala_err err;
  ck_assert_msg(nala_st_write_meta(path, tensors, 4, keys, values, 1, &err) == NALA_OK, "%s", err.msg);
  size_t size;
  unsigned char *valid = st_read_file(path, &size);
  unsigned char *work = malloc(size + 64);
  ck_assert_ptr_nonnull(work);
  uint64_t rng = 12345;
  static const char significant[] = "{}[],:\"0123456789-.e \\";
  int loaded = 0, failed = 0;
  for (int iter = 0; iter < 3000; iter++) {
    memcpy(work, valid, size);
    size_t n = size;
    uint64_t r = nala_splitmix64_next(&rng);
    int mode = (int)(r % 4);
    int edits = 1 + (int)((r >> 8) % 4);
    for (int e = 0; e < edits; e++) {
      uint64_t q = nala_splitmix64_next(&rng);
      /* Mostly the first bytes: length field and header are where the parser can go wrong. */
      size_t at = (q >> 32) % 4 ? (size_t)(q % (size < 256 ? size : 256)) : (size_t)(q % size);
      if (mode == 0)
        work[at] ^= (unsigned char)(1u << ((q >> 16) % 8));
      else if (mode == 1)
        work[at] = (unsigned char)significant[(q >> 16) % (sizeof significant - 1)];
      else if (mode == 2)
        work[at] = (unsigned char)(q >> 24);
    }
    if (mode == 3)
      n = (size_t)(r >> 16) % size;
    st_write_file(path, work, n);
    nala_st_file *file = NULL;
    nala_err_clear(&err);
    if (nala_st_open(path, &file, &err) != NALA_OK) {
      ck_assert_msg(err.msg[0] != '\0', "iteration %d: failure without a message", iter);
      ck_assert_ptr_null(file);
      failed++;
      continue;
    }
    loaded++;
    for (size_t i = 0; i < nala_st_count(file); i++) {
      const nala_st_tensor *t = nala_st_at(file, i);
      size_t offset = nala_st_file_offset(file, t);
      ck_assert_msg(offset + t->nbytes <= n, "iteration %d: tensor %s past the end", iter, t->name);
      ck_assert_int_eq(memcmp(t->data, work + offset, t->nbytes), 0);
      size_t count = nala_st_numel(t);
      float *dst = malloc((count ? count : 1) * sizeof *dst);
      ck_assert_ptr_nonnull(dst);
      nala_status status = nala_st_to_f32(t, dst, count, &err);
      ck_assert(status == NALA_OK || status == NALA_E_UNSUPPORTED);
      free(dst);
    }
    nala_st_close(file);
  }
  fprintf(stderr, "corruptions: %d loaded, %d failed with a message\n", loaded, failed);
  ck_assert_int_gt(failed, 1000);
  free(valid);
  free(work);
}
END_TEST

int main(void) {
  Suite *s = suite_create("safetensors");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, round_trip_all_dtypes_and_metadata);
  tcase_add_test(tc, f16_conversion_exact_for_all_values);
  tcase_add_test(tc, bf16_conversion_exact_for_specials);
  tcase_add_test(tc, writer_rejects_bad_tensors_and_keeps_target);
  tcase_add_test(tc, open_reports_missing_and_non_regular_files);
  tcase_add_test(tc, empty_tensor_list_round_trips);
  tcase_add_test(tc, header_length_over_the_cap);
  tcase_add_test(tc, non_float_dtypes_open_but_do_not_convert);
  tcase_add_test(tc, two_threads_write_one_path);
  tcase_add_test(tc, memory_image_opens_like_the_file);
  suite_add_tcase(s, tc);
  TCase *bad = tcase_create("bad_files");
  tcase_set_timeout(bad, 120); /* the corruption loop takes seconds under ASan on a loaded machine */
  tcase_add_checked_fixture(bad, setup, teardown);
  tcase_add_loop_test(bad, bad_file_fails_naming_the_fault, 0, (int)N_BAD_CASES);
  tcase_add_test(bad, random_corruptions_load_or_fail_cleanly);
  suite_add_tcase(s, bad);
  return nala_run_suite(s);
}
