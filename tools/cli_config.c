/* nala config show FILE [--output OUT]: the fully merged config, after validation.
 * nala config samples FILE [--check] [--limit N] [--shard i/n]: the samples of the config's dataset. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nala/atomic_write.h"
#include "nala/config.h"
#include "nala/dataset.h"
#include "tools/cli.h"
#include "tools/cli_args.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala config show FILE [--output OUT] [--cfg-options KEY=VALUE ...]\n"
          "       nala config samples FILE [--check] [--limit N] [--shard i/n] [--cfg-options KEY=VALUE ...]\n"
          "  show: loads FILE with its _base_ files merged in (later keys win; \"_delete_\": true\n"
          "  replaces), validates it and prints the merged JSON (keys in merge order, bases first).\n"
          "    --output OUT  write to OUT (atomically: temp file + rename) instead of stdout\n"
          "  samples: lists the samples of FILE's \"dataset\" in dataset order, one per line:\n"
          "  index<TAB>image_id<TAB>file_name<TAB>image path<TAB>label map path (-1 / - when none);\n"
          "  unusable samples (missing image, image without label map) are listed on stderr.\n"
          "    --check       decode every image as the test pipeline would; unreadable ones are skipped\n"
          "                  and reported at the end (exit 1 when there are any)\n"
          "    --limit N     the first N samples only\n"
          "    --shard i/n   the i-th of n contiguous slices (after --limit); shards 0..n-1 together\n"
          "                  list every sample once, in order\n"
          "  both: --cfg-options KEY=VALUE ...  override keys after merging, as mmengine does:\n"
          "    KEY is a dotted path (model.backbone.attn), VALUE is JSON, else a plain string\n"
          "exit codes: 0 ok, 1 bad config, dataset layout or I/O error, 2 bad arguments\n");
}

/* Writes text to path atomically (readers never see half a file). */
static int write_atomic(const char *path, const char *text) {
  nala_err err;
  if (nala_write_atomic(path, text, strlen(text), &err) != NALA_OK) {
    fprintf(stderr, "nala config: %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  return NALA_EXIT_OK;
}

/* Prints the yielded samples; the unusable ones go to stderr after the list. */
static int list_samples(const char *file, const char *const *overrides, int n_overrides,
                        const nala_dataset_opts *opts, int check) {
  nala_err err;
  nala_err_clear(&err);
  nala_config *cfg = NULL;
  if (nala_config_load_with(file, overrides, n_overrides, &cfg, &err) != NALA_OK) {
    fprintf(stderr, "nala config: %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  const nala_dataset_cfg *dataset_cfg = nala_config_dataset(cfg);
  nala_dataset *ds = NULL;
  if (!dataset_cfg) {
    fprintf(stderr, "nala config: %s: no \"dataset\" section\n", file);
  } else if (nala_dataset_open(dataset_cfg, opts, &ds, &err) != NALA_OK) {
    fprintf(stderr, "nala config: %s\n", err.msg);
  }
  nala_config_free(cfg);
  if (!ds)
    return NALA_EXIT_RUNTIME;
  for (int i = 0; i < nala_dataset_size(ds); i++) {
    const nala_sample *s = nala_dataset_sample(ds, i);
    nala_image img;
    /* --check decodes every image; a bad one is logged by the dataset and the run goes on. */
    if (check && nala_dataset_read_image(ds, i, NALA_BGR, 0, &img, &err) != NALA_OK)
      continue;
    if (check)
      nala_image_free(&img);
    printf("%d\t%lld\t%s\t%s\t%s\n", s->index, (long long)s->image_id, s->file_name, s->img_path,
           s->gt_path ? s->gt_path : "-");
  }
  int rc = fflush(stdout) == 0 ? NALA_EXIT_OK : NALA_EXIT_RUNTIME;
  if (nala_dataset_print_report(ds, stderr) > 0 && check)
    rc = NALA_EXIT_RUNTIME;
  nala_dataset_close(ds);
  return rc;
}

static int usage_error(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, fmt, a, b);
  usage(stderr);
  return NALA_EXIT_USAGE;
}

/* The rest of nala_cli_config, with the override list allocated by the caller. */
static int run_config(int argc, char **argv, int show, const char **overrides, int *n_overrides) {
  int samples = !show, check = 0;
  const char *file = NULL, *output = NULL;
  nala_dataset_opts opts = {.limit = 0, .shard_index = 0, .shard_count = 1};
  nala_err err;
  for (int i = 2; i < argc; i++) {
    const char *arg = argv[i];
    int takes_value = !strcmp(arg, "--output") || !strcmp(arg, "-o") || !strcmp(arg, "--limit") ||
                      !strcmp(arg, "--shard");
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      usage(stdout);
      return NALA_EXIT_OK;
    } else if (takes_value && i + 1 >= argc) {
      return usage_error("nala config: %s needs a value%s\n", arg, "");
    } else if (show && (!strcmp(arg, "--output") || !strcmp(arg, "-o"))) {
      output = argv[++i];
    } else if (!strcmp(arg, "--cfg-options")) {
      int start = *n_overrides;
      while (i + 1 < argc && argv[i + 1][0] != '-' && strchr(argv[i + 1], '=')) {
        if (argv[i + 1][0] == '=' || strstr(argv[i + 1], "..") || argv[i + 1][0] == '.')
          return usage_error("nala config: --cfg-options '%s': expected KEY.PATH=VALUE%s\n", argv[i + 1], "");
        overrides[(*n_overrides)++] = argv[++i];
      }
      if (*n_overrides == start)
        return usage_error("nala config: --cfg-options needs KEY=VALUE arguments%s%s\n", "", "");
    } else if (samples && !strcmp(arg, "--check")) {
      check = 1;
    } else if (samples && !strcmp(arg, "--limit")) {
      if (cli_parse_int(arg, argv[++i], 0, INT_MAX, &opts.limit, &err) != NALA_OK)
        return usage_error("nala config: %s%s\n", err.msg, "");
    } else if (samples && !strcmp(arg, "--shard")) {
      if (cli_parse_shard(arg, argv[++i], &opts.shard_index, &opts.shard_count, &err) != NALA_OK)
        return usage_error("nala config: %s%s\n", err.msg, "");
    } else if (arg[0] == '-' && arg[1]) {
      return usage_error("nala config %s: unknown option '%s'\n", argv[1], arg);
    } else if (file) {
      return usage_error("nala config: expected one FILE, got '%s' and '%s'\n", file, arg);
    } else {
      file = arg;
    }
  }
  if (!file)
    return usage_error("nala config %s: missing FILE%s\n", argv[1], "");
  if (samples)
    return list_samples(file, overrides, *n_overrides, &opts, check);
  nala_err_clear(&err);
  nala_config *cfg = NULL;
  if (nala_config_load_with(file, overrides, *n_overrides, &cfg, &err) != NALA_OK) {
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

int nala_cli_config(int argc, char **argv) {
  /* argv[0] is "config". */
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    usage(stdout);
    return NALA_EXIT_OK;
  }
  if (argc < 2)
    return usage_error("nala config: missing subcommand%s%s\n", "", "");
  int show = !strcmp(argv[1], "show");
  if (!show && strcmp(argv[1], "samples"))
    return usage_error("nala config: unknown subcommand '%s'%s\n", argv[1], "");
  const char **overrides = calloc((size_t)argc, sizeof *overrides); /* at most every argument */
  int n_overrides = 0;
  if (!overrides) {
    fprintf(stderr, "nala config: out of memory\n");
    return NALA_EXIT_RUNTIME;
  }
  int rc = run_config(argc, argv, show, overrides, &n_overrides);
  free(overrides);
  return rc;
}
