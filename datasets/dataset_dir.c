/* Sorted folder listings and path helpers for the folder-layout datasets. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset_internal.h"

void ds_free_names(char **names, int n) {
  for (int i = 0; i < n; i++)
    free(names[i]);
  free(names);
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char *ds_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  int slash = la && a[la - 1] != '/';
  char *out = malloc(la + (size_t)slash + lb + 1);
  if (!out)
    return NULL;
  memcpy(out, a, la);
  if (slash)
    out[la] = '/';
  memcpy(out + la + (size_t)slash, b, lb + 1);
  return out;
}

int ds_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *name, const char *suffix) {
  size_t ln = strlen(name), ls = strlen(suffix);
  return ln > ls && !strcmp(name + ln - ls, suffix);
}

nala_status ds_list_dir(const char *dir, const char *suffix, int want_dirs, char ***names, int *n, nala_err *err) {
  *names = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d)
    return nala_fail(err, NALA_E_IO, "%s: cannot open folder: %s", dir, strerror(errno));
  char **list = NULL;
  int count = 0, cap = 0;
  nala_status st = NALA_OK;
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(d);
    if (!entry) {
      if (errno)
        st = nala_fail(err, NALA_E_IO, "%s: cannot read folder: %s", dir, strerror(errno));
      break;
    }
    const char *name = entry->d_name;
    if (name[0] == '.' || (suffix && !ends_with(name, suffix)))
      continue;
    char *path = ds_join(dir, name);
    if (!path) {
      st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", dir);
      break;
    }
    struct stat info;
    int keep = stat(path, &info) == 0 && (want_dirs ? S_ISDIR(info.st_mode) : S_ISREG(info.st_mode));
    free(path);
    if (!keep)
      continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 64;
      char **grown = realloc(list, (size_t)cap * sizeof *grown);
      if (!grown) {
        st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", dir);
        break;
      }
      list = grown;
    }
    if (!(list[count] = strdup(name))) {
      st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", dir);
      break;
    }
    count++;
  }
  closedir(d);
  if (st != NALA_OK) {
    ds_free_names(list, count);
    return st;
  }
  if (count)
    qsort(list, (size_t)count, sizeof *list, compare_names);
  *names = list;
  *n = count;
  return NALA_OK;
}

int ds_names_contain(char *const *names, int n, const char *name) {
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2, c = strcmp(names[mid], name);
    if (!c)
      return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return 0;
}
