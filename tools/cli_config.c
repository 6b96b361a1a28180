/* nala config show FILE [--output OUT]: the fully merged config, after validation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/config.h"
#include "tools/cli.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala config show FILE [--output OUT]\n"
          "  Loads FILE with its _base_ files merged in (later keys win; \"_delete_\": true replaces),\n"
          "  validates it and prints the merged JSON (keys in merge order, bases first).\n"
          "  --output OUT  write to OUT (atomically: temp file + rename) instead of stdout\n"
          "exit codes: 0 ok, 1 bad config or I/O error, 2 bad arguments\n");
}

/* Writes text to path through a temp file in the same folder, so readers never see half a file. */
static int write_atomic(const char *path, const char *text) {
  size_t len = strlen(path) + 32;
  char *tmp = malloc(len);
  if (!tmp) {
    fprintf(stderr, "nala config: out of memory\n");
    return NALA_EXIT_RUNTIME;
  }
  snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  int ok = f != NULL;
  if (ok)
    ok = fputs(text, f) >= 0;
  if (f)
    ok = (fclose(f) == 0) && ok;
  if (ok)
    ok = rename(tmp, path) == 0;
  if (!ok) {
    fprintf(stderr, "nala config: %s: cannot write: %s\n", path, strerror(errno));
    remove(tmp);
  }
  free(tmp);
  return ok ? NALA_EXIT_OK : NALA_EXIT_RUNTIME;
}

int nala_cli_config(int argc, char **argv) {
  /* argv[0] is "config". */
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    usage(stdout);
    return NALA_EXIT_OK;
  }
  if (argc < 2 || strcmp(argv[1], "show")) {
    fprintf(stderr, argc < 2 ? "nala config: missing subcommand\n" : "nala config: unknown subcommand '%s'\n",
            argc < 2 ? "" : argv[1]);
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  const char *file = NULL, *output = NULL;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return NALA_EXIT_OK;
    } else if (!strcmp(argv[i], "--output") || !strcmp(argv[i], "-o")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "nala config show: %s needs a path\n", argv[i]);
        usage(stderr);
        return NALA_EXIT_USAGE;
      }
      output = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "nala config show: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return NALA_EXIT_USAGE;
    } else if (file) {
      fprintf(stderr, "nala config show: expected one FILE, got '%s' and '%s'\n", file, argv[i]);
      usage(stderr);
      return NALA_EXIT_USAGE;
    } else {
      file = argv[i];
    }
  }
  if (!file) {
    fprintf(stderr, "nala config show: missing FILE\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  nala_err err;
  nala_err_clear(&err);
  nala_config *cfg = NULL;
  if (nala_config_load(file, &cfg, &err) != NALA_OK) {
    fprintf(stderr, "nala config: %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  char *text = nala_config_to_json(cfg);
  nala_config_free(cfg);
  if (!text) {
    fprintf(stderr, "nala config: out of memory\n");
    return NALA_EXIT_RUNTIME;
  }
  int rc = NALA_EXIT_OK;
  if (output) {
    rc = write_atomic(output, text);
  } else if (fputs(text, stdout) < 0 || fflush(stdout) != 0) {
    fprintf(stderr, "nala config: cannot write to stdout: %s\n", strerror(errno));
    rc = NALA_EXIT_RUNTIME;
  }
  free(text);
  return rc;
}
