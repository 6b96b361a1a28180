/* Small file helpers shared by test_safetensors.c and test_weights.c (static: each test is one
 * translation unit). */
#ifndef NALA_TESTS_ST_TEST_UTIL_H
#define NALA_TESTS_ST_TEST_UTIL_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Overwrites in place, then sets the size: truncating to 0 and rewriting (fopen "wb") makes ext4
 * flush the file on close (auto_da_alloc), which costs seconds over the corruption loop. */
static inline void st_write_file(const char *file_path, const void *data, size_t n) {
  int fd = open(file_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ck_assert_msg(fd >= 0, "cannot create %s", file_path);
  ck_assert_int_eq(n ? pwrite(fd, data, n, 0) : 0, (ssize_t)n);
  ck_assert_int_eq(ftruncate(fd, (off_t)n), 0);
  ck_assert_int_eq(close(fd), 0);
}

static inline unsigned char *st_read_file(const char *file_path, size_t *size) {
  FILE *f = fopen(file_path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", file_path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(buf);
  ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *size = (size_t)n;
  return buf;
}

/* Writes an 8-byte length (header_len, may lie), the header text and data_len zero bytes. */
static inline void st_write_raw(const char *file_path, uint64_t header_len, const char *header, size_t data_len) {
  size_t hlen = strlen(header), total = 8 + hlen + data_len;
  unsigned char *buf = calloc(1, total);
  ck_assert_ptr_nonnull(buf);
  for (int i = 0; i < 8; i++)
    buf[i] = (unsigned char)(header_len >> (8 * i));
  memcpy(buf + 8, header, hlen);
  st_write_file(file_path, buf, total);
  free(buf);
}

/* Removes the files of a flat temp dir, then the dir. */
static inline void st_remove_dir(const char *dir_path) {
  DIR *d = opendir(dir_path);
  if (!d)
    return;
  struct dirent *e;
  char file_path[512];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(file_path, sizeof file_path, "%s/%s", dir_path, e->d_name);
      unlink(file_path);
    }
  closedir(d);
  rmdir(dir_path);
}

#endif
