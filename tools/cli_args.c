#include "tools/cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strtoll/strtoull accept blanks and '+' and wrap "-1" for unsigned: refuse what a user did not mean. */
static int plain_number(const char *text, int allow_minus) {
  if (!text || !*text)
    return 0;
  const char *p = text + (allow_minus && text[0] == '-');
  if (!*p)
    return 0;
  for (; *p; p++)
    if (!isdigit((unsigned char)*p))
      return 0;
  return 1;
}

nala_status cli_parse_int(const char *flag, const char *text, int lo, int hi, int *out, nala_err *err) {
  errno = 0;
  long long v = plain_number(text, 1) ? strtoll(text, NULL, 10) : 0;
  if (!plain_number(text, 1) || errno || v < lo || v > hi)
    return nala_fail(err, NALA_E_ARG, "%s '%s': expected an integer in [%d, %d]", flag, text ? text : "", lo, hi);
  *out = (int)v;
  return NALA_OK;
}

nala_status cli_parse_u64(const char *flag, const char *text, uint64_t *out, nala_err *err) {
  errno = 0;
  unsigned long long v = plain_number(text, 0) ? strtoull(text, NULL, 10) : 0;
  if (!plain_number(text, 0) || errno)
    return nala_fail(err, NALA_E_ARG, "%s '%s': expected an integer in [0, 2^64)", flag, text ? text : "");
  *out = (uint64_t)v;
  return NALA_OK;
}

/* Splits text at the first sep into two bounded integers. */
static int split_pair(const char *text, char sep, int lo, int hi, int *a, int *b) {
  const char *mid = text ? strchr(text, sep) : NULL;
  char first[32];
  if (!mid || mid - text >= (long)sizeof first)
    return 0;
  snprintf(first, sizeof first, "%.*s", (int)(mid - text), text);
  return cli_parse_int("", first, lo, hi, a, NULL) == NALA_OK && cli_parse_int("", mid + 1, lo, hi, b, NULL) == NALA_OK;
}

nala_status cli_parse_size(const char *flag, const char *text, int *h, int *w, nala_err *err) {
  int a, b;
  if (!split_pair(text, 'x', 1, CLI_MAX_SIDE, &a, &b) && !split_pair(text, 'X', 1, CLI_MAX_SIDE, &a, &b))
    return nala_fail(err, NALA_E_ARG, "%s '%s': expected HxW with 1 <= H, W <= %d, e.g. 512x512", flag,
                     text ? text : "", CLI_MAX_SIDE);
  *h = a, *w = b;
  return NALA_OK;
}

nala_status cli_parse_shard(const char *flag, const char *text, int *index, int *count, nala_err *err) {
  int i, n;
  if (!split_pair(text, '/', 0, INT_MAX, &i, &n) || n < 1 || i >= n)
    return nala_fail(err, NALA_E_ARG, "%s '%s': expected i/n with 0 <= i < n, e.g. 0/4", flag, text ? text : "");
  *index = i, *count = n;
  return NALA_OK;
}

nala_status cli_parse_isa(const char *flag, const char *text, void *dst, nala_err *err) {
  if (!text) {
    *(nala_isa *)dst = NALA_ISA_REF;
    return NALA_OK;
  }
  if (nala_isa_parse(text, dst, err) != NALA_OK)
    return nala_err_prefix(err, "%s '%s': ", flag, text);
  return NALA_OK;
}

static const cli_option *find_option(const cli_option *const *tables, const char *flag) {
  for (; *tables; tables++)
    for (const cli_option *o = *tables; o->flag; o++)
      if (!strcmp(o->flag, flag))
        return o;
  return NULL;
}

int cli_parse_options(const char *cmd, int argc, char **argv, const cli_option *const *tables,
                      void (*usage)(FILE *out)) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    const cli_option *o = find_option(tables, a);
    nala_err err;
    nala_status st = NALA_OK;
    if (!o) {
      st = nala_fail(&err, NALA_E_ARG, a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
    } else if (o->kind == CLI_SWITCH) {
      *(int *)o->dst = 1;
    } else if (o->kind == CLI_CUSTOM_SWITCH) {
      st = o->parse(a, NULL, o->dst, &err);
    } else if (i + 1 >= argc) {
      st = nala_fail(&err, NALA_E_ARG, "%s needs a value", a);
    } else {
      const char *v = argv[++i];
      int *hw = o->dst;
      switch (o->kind) {
      case CLI_TEXT: *(const char **)o->dst = v; break;
      case CLI_INT: st = cli_parse_int(a, v, o->lo, o->hi, o->dst, &err); break;
      case CLI_U64: st = cli_parse_u64(a, v, o->dst, &err); break;
      case CLI_SIZE: st = cli_parse_size(a, v, &hw[0], &hw[1], &err); break;
      case CLI_CUSTOM: st = o->parse(a, v, o->dst, &err); break;
      case CLI_SWITCH:
      case CLI_CUSTOM_SWITCH: break;
      }
    }
    if (st != NALA_OK) {
      fprintf(stderr, "%s: %s\n", cmd, err.msg);
      usage(stderr);
      return 2;
    }
  }
  return -1;
}

int cli_take_overrides(const char *cmd, int argc, char **argv, char **rest, int *n_rest, const char **overrides,
                       int *n_overrides, int max, void (*usage)(FILE *out)) {
  *n_rest = 0;
  for (int i = 0; i < argc; i++) {
    if (i == 0 || strcmp(argv[i], "--cfg-options")) {
      rest[(*n_rest)++] = argv[i];
      continue;
    }
    int start = *n_overrides;
    while (i + 1 < argc && argv[i + 1][0] != '-' && strchr(argv[i + 1], '=')) {
      const char *kv = argv[++i];
      if (kv[0] == '=' || kv[0] == '.' || strstr(kv, "..")) {
        fprintf(stderr, "%s: --cfg-options '%s': expected KEY.PATH=VALUE\n", cmd, kv);
        return 2;
      }
      if (*n_overrides == max) {
        fprintf(stderr, "%s: --cfg-options '%s': at most %d overrides\n", cmd, kv, max);
        return 2;
      }
      overrides[(*n_overrides)++] = kv;
    }
    if (*n_overrides == start) {
      fprintf(stderr, "%s: --cfg-options needs KEY=VALUE arguments\n", cmd);
      usage(stderr);
      return 2;
    }
  }
  rest[*n_rest] = NULL;
  return -1;
}
