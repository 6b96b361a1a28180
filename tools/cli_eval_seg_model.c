/* nala eval seg --config C: a segmentor over the val split of the config's dataset, scored as
 * mmseg's IoUMetric scores it; --shard / --save-state / --merge split a run over processes and put
 * it back together to the bit (tools/seg_eval_state.h). The --pred/--gt mode is tools/cli_eval_seg.c. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/dataset.h"
#include "nala/seg_classes.h"
#include "nala/seg_metrics.h"
#include "nala/seg_report.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_eval_seg_model.h"
#include "tools/cli_progress.h"
#include "tools/cli_seg.h"
#include "tools/cli_seg_model.h"
#include "tools/cli_seg_paths.h"
#include "tools/cli_timing.h"
#include "tools/seg_eval_state.h"

#define CMD "nala eval seg"
#define MAX_MERGE 256
#define MAX_IMAGE_PIXELS ((size_t)1 << 28)

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala eval seg --config C [--weights W] [--data-root D] [--limit N] [--shard i/n]\n"
          "                     [--save-state S.json] [--threads N] [--isa T] [--cfg-options K=V ...]\n"
          "                     [--exact] [--json FILE.json] [--no-progress]\n"
          "       nala eval seg --merge S1.json S2.json ... [--exact] [--json FILE.json]\n"
          "Runs the segmentor of config C over its dataset's val split (the config's \"dataset\" section:\n"
          "ADE20K images/validation + annotations/validation, reduce_zero_label; Cityscapes leftImg8bit/val +\n"
          "gtFine/val) and prints mmseg's per-class table and aAcc / mIoU / mAcc.\n"
          "  --weights W        converted mmseg checkpoint (default: seeded random weights, seed 0)\n"
          "  --data-root D      the dataset's data_root (relative img_dir / seg_map_dir are joined to it)\n"
          "  --limit N          the first N samples in mmseg's (sorted) order\n"
          "  --shard i/n        the i-th of n contiguous slices of those samples\n"
          "  --save-state S     write every evaluated image's confusion counts (and the unusable samples) to S\n"
          "  --merge S...       the table of the runs that saved S1 S2 ... (shards 0..n-1 of one selection, in\n"
          "                     any order): exactly the table one unsharded run prints\n"
          "  --exact / --json   as in the --pred/--gt mode (`nala eval seg --dataset ade20k --help`)\n"
          "Unusable samples (unreadable image or label map, sizes that differ) are listed on stderr by file and\n"
          "left out; the exit status is then 1 (tables still printed). Timing goes to stderr.\n");
}

typedef struct eval_opts {
  const char *config, *weights, *data_root, *state_path, *json_path;
  const char *overrides[CLI_SEG_MAX_OVERRIDES + 1];
  int n_overrides;
  const char *merge[MAX_MERGE];
  int n_merge, merging;
  int limit, shard[2], threads, exact, no_progress;
  nala_isa isa;
} eval_opts;

int cli_eval_seg_is_model_mode(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--merge"))
      return 1;
  return 0;
}

/* Takes --cfg-options K=V... (cli_take_overrides, as nala seg and nala det) and --merge FILES...
 * out of argv; the rest goes to the table parser. */
static int take_lists(int argc, char **argv, char **rest, int *n_rest, eval_opts *o) {
  int n_mid = 0, code = cli_take_overrides(CMD, argc, argv, rest, &n_mid, o->overrides, &o->n_overrides,
                                           CLI_SEG_MAX_OVERRIDES, usage);
  if (code >= 0)
    return code;
  *n_rest = 0; /* compacts rest in place: the write index never passes the read index */
  for (int i = 0; i < n_mid; i++) {
    if (i == 0 || strcmp(rest[i], "--merge")) {
      rest[(*n_rest)++] = rest[i];
      continue;
    }
    int taken = 0;
    while (i + 1 < n_mid && strncmp(rest[i + 1], "--", 2)) {
      if (o->n_merge == MAX_MERGE) {
        fprintf(stderr, CMD ": --merge '%s': too many state files (at most %d)\n", rest[i + 1], MAX_MERGE);
        return NALA_EXIT_USAGE;
      }
      o->merge[o->n_merge++] = rest[++i];
      taken++;
    }
    if (!taken) {
      fprintf(stderr, CMD ": --merge needs state files (from --save-state)\n");
      usage(stderr);
      return NALA_EXIT_USAGE;
    }
    o->merging = 1;
  }
  rest[*n_rest] = NULL;
  return -1;
}

/* Class names the tables print: the dataset's own when the model has its class count, else the
 * config's dataset.classes when they match, else none (indices). */
static const char *const *class_names(const nala_dataset_cfg *dc, int num_classes) {
  const nala_seg_dataset *known = nala_seg_dataset_find(dc->type == NALA_DATASET_ADE20K ? "ade20k" : "cityscapes");
  if (dc->n_classes == num_classes)
    return (const char *const *)dc->classes;
  if (known && known->num_classes == num_classes && !dc->n_classes)
    return known->class_names;
  return NULL;
}

/* What an unsharded run and a merge both print (stdout), so the two are comparable line by line. */
static int print_result(const nala_seg_metrics *m, const seg_state *s, const eval_opts *o) {
  nala_seg_result *r = malloc(sizeof *r);
  if (!r) {
    fprintf(stderr, CMD ": out of memory\n");
    return 0;
  }
  nala_seg_metrics_result(m, r);
  int disagree = nala_seg_print_tables(stdout, r, (const char *const *)s->class_names, o->exact);
  printf("%s: %llu image(s) evaluated of %d in the dataset%s; out-of-range values: %llu label pixel(s), %llu "
         "prediction pixel(s)\n",
         s->dataset, (unsigned long long)r->images, s->total, s->limit ? " (--limit applied)" : "",
         (unsigned long long)r->totals.label_out_of_range, (unsigned long long)r->totals.pred_out_of_range);
  if (disagree)
    printf("note: %s; %s shows the last digit differently (float32 sums past 2^24 pixels)\n",
           o->exact ? "numbers from exact counts" : "numbers as mmseg computes them (float32)",
           o->exact ? "mmseg" : "--exact");
  int ok = 1;
  nala_err err;
  if (o->json_path && r->images &&
      nala_seg_write_json(o->json_path, s->dataset, r, (const char *const *)s->class_names, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --json: %s\n", err.msg);
    ok = 0;
  }
  free(r);
  return ok;
}

static void print_problems(const seg_state *s) {
  if (!s->n_problems)
    return;
  fprintf(stderr, CMD ": %zu sample(s) unusable, left out:\n", s->n_problems);
  for (size_t i = 0; i < s->n_problems; i++)
    fprintf(stderr, "  %s\n", s->problems[i]);
}

/* The dataset.data_root override for --data-root, as a JSON string (cJSON's escaping). */
static char *data_root_override(const char *root) {
  cJSON *v = cJSON_CreateStringReference(root);
  char *json = v ? cJSON_PrintUnformatted(v) : NULL;
  cJSON_Delete(v);
  if (!json)
    return NULL;
  size_t n = strlen(json) + sizeof "dataset.data_root=";
  char *kv = malloc(n);
  if (kv)
    snprintf(kv, n, "dataset.data_root=%s", json);
  free(json);
  return kv;
}

/* Evaluates sample i into m (and the state); logs an unusable sample with the dataset. */
static void eval_sample(nala_dataset *ds, int i, const nala_dataset_cfg *dc, cli_seg_model *model,
                        nala_seg_metrics *m, seg_state *state, cli_progress *prog) {
  const nala_sample *smp = nala_dataset_sample(ds, i);
  nala_err err;
  nala_err_clear(&err);
  nala_image img = {0}, gt = {0};
  if (nala_dataset_read_image(ds, i, NALA_BGR, MAX_IMAGE_PIXELS, &img, &err) != NALA_OK ||
      nala_dataset_read_labels(ds, i, &gt, &err) != NALA_OK) {
    cli_progress_note(prog, "%s", err.msg); /* already logged by the dataset */
  } else if (gt.h != img.h || gt.w != img.w) {
    char reason[256];
    snprintf(reason, sizeof reason, "label map %s is %dx%d (HxW), the image %dx%d", smp->gt_path, gt.h, gt.w, img.h,
             img.w);
    cli_progress_note(prog, "%s: %s", smp->img_path, reason);
    nala_dataset_bad_sample(ds, smp->img_path, reason, NULL);
  } else if (cli_seg_model_run(model, &img, &err) != NALA_OK) {
    cli_progress_note(prog, "%s: %s", smp->img_path, err.msg);
    nala_dataset_bad_sample(ds, smp->img_path, err.msg, NULL);
  } else {
    if (dc->reduce_zero_label)
      nala_seg_reduce_zero_label(gt.data, gt.stride, gt.h, gt.w);
    if (smp->gt_is_label_ids)
      nala_seg_cityscapes_ids_to_train_ids(gt.data, gt.stride, gt.h, gt.w);
    nala_seg_image_counts counts;
    nala_status st = nala_seg_metrics_add(m, model->labels, (size_t)img.w, gt.data, gt.stride, gt.h, gt.w, &counts,
                                          &err);
    if (st == NALA_OK && state)
      st = seg_state_add_image(state, smp->index, smp->file_name, m, &counts, &err);
    if (st != NALA_OK) {
      cli_progress_note(prog, "%s: %s", smp->img_path, err.msg);
      nala_dataset_bad_sample(ds, smp->img_path, err.msg, NULL);
    }
  }
  nala_image_free(&img);
  nala_image_free(&gt);
}

static int run_model(const eval_opts *o) {
  nala_err err;
  nala_err_clear(&err);
  /* Outputs that cannot be written fail now, not after the whole dataset. */
  const char *outputs[2] = {o->state_path, o->json_path}, *flags[2] = {"--save-state", "--json"};
  for (int k = 0; k < 2; k++)
    if (outputs[k] && seg_check_file_writable(outputs[k], &err) != NALA_OK) {
      fprintf(stderr, CMD ": %s %s\n", flags[k], err.msg);
      return NALA_EXIT_RUNTIME;
    }
  eval_opts local = *o;
  char *root_kv = NULL;
  if (o->data_root) {
    if (!(root_kv = data_root_override(o->data_root))) {
      fprintf(stderr, CMD ": out of memory\n");
      return NALA_EXIT_RUNTIME;
    }
    local.overrides[local.n_overrides++] = root_kv;
  }
  cli_seg_model model;
  if (!cli_seg_model_open(&model, CMD, o->config, local.overrides, local.n_overrides, o->weights, o->threads,
                          o->isa)) {
    free(root_kv);
    return NALA_EXIT_RUNTIME;
  }
  free(root_kv);
  const nala_dataset_cfg *dc = nala_config_dataset(model.cfg);
  if (!dc || dc->type == NALA_DATASET_COCO) {
    fprintf(stderr, CMD ": --config %s: needs an ADE20KDataset or CityscapesDataset \"dataset\" section\n", o->config);
    cli_seg_model_close(&model);
    return NALA_EXIT_RUNTIME;
  }
  if (model.seeded)
    fprintf(stderr, CMD ": no --weights: seeded random weights (seed 0)\n");
  nala_dataset_opts dopts = {.limit = o->limit, .shard_index = o->shard[0], .shard_count = o->shard[1]};
  nala_dataset *ds = NULL;
  nala_seg_metrics *m = NULL;
  seg_state state;
  memset(&state, 0, sizeof state);
  int code = NALA_EXIT_RUNTIME;
  if (nala_dataset_open(dc, &dopts, &ds, &err) != NALA_OK ||
      nala_seg_metrics_create(model.num_classes, 255, &m, &err) != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    goto done;
  }
  snprintf(state.dataset, sizeof state.dataset, "%s", dc->type == NALA_DATASET_ADE20K ? "ade20k" : "cityscapes");
  state.num_classes = model.num_classes;
  state.ignore_index = 255;
  state.total = nala_dataset_total(ds);
  state.limit = o->limit;
  state.shard_index = o->shard[0];
  state.shard_count = o->shard[1] > 0 ? o->shard[1] : 1;
  if (seg_state_set_classes(&state, class_names(dc, model.num_classes), &err) != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    goto done;
  }
  cli_progress prog;
  int n = nala_dataset_size(ds);
  cli_progress_start(&prog, CMD, "images", n, !o->no_progress);
  double t0 = cli_now_ms();
  for (int i = 0; i < n; i++) {
    eval_sample(ds, i, dc, &model, m, o->state_path ? &state : NULL, &prog);
    cli_progress_step(&prog, i + 1);
  }
  cli_progress_end(&prog);
  double seconds = (cli_now_ms() - t0) / 1e3;
  for (int b = 0; b < nala_dataset_bad_count(ds); b++) {
    nala_bad_sample bad = nala_dataset_bad_get(ds, b);
    if (seg_state_add_problem(&state, bad.file, bad.reason, &err) != NALA_OK) {
      fprintf(stderr, CMD ": %s\n", err.msg);
      goto done;
    }
  }
  if (!print_result(m, &state, o))
    goto done;
  if (o->shard[1] > 1)
    printf("(shard %d/%d of the selection: merge the --save-state files of all %d shards for the full table)\n",
           o->shard[0], o->shard[1], o->shard[1]);
  fprintf(stderr, CMD ": %d sample(s) in %.1f s (%.2f images/s, %d plan(s) for distinct sizes)\n", n, seconds,
          seconds > 0 ? n / seconds : 0.0, model.plans);
  print_problems(&state);
  code = state.n_problems || n == 0 ? NALA_EXIT_RUNTIME : NALA_EXIT_OK;
  if (o->state_path && seg_state_save(&state, o->state_path, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --save-state: %s\n", err.msg);
    code = NALA_EXIT_RUNTIME;
  }
done:
  seg_state_free(&state);
  nala_seg_metrics_free(m);
  nala_dataset_close(ds);
  cli_seg_model_close(&model);
  return code;
}

/* Orders the merged images by dataset index. */
static int by_index(const void *a, const void *b) {
  int x = ((const seg_state_image *)a)->index, y = ((const seg_state_image *)b)->index;
  return (x > y) - (x < y);
}

static int run_merge(const eval_opts *o) {
  nala_err err;
  nala_err_clear(&err);
  seg_state all;
  memset(&all, 0, sizeof all);
  nala_seg_metrics *m = NULL;
  int code = NALA_EXIT_RUNTIME, seen_shards[MAX_MERGE] = {0};
  for (int f = 0; f < o->n_merge; f++) {
    seg_state s;
    if (seg_state_load(o->merge[f], &s, &err) != NALA_OK) {
      fprintf(stderr, CMD ": --merge %s\n", err.msg);
      goto done;
    }
    const char *why = NULL;
    if (f == 0) {
      all = s; /* takes the first file's settings and images */
      memset(&s, 0, sizeof s);
    } else if (strcmp(s.dataset, all.dataset) || s.num_classes != all.num_classes ||
               s.ignore_index != all.ignore_index) {
      why = "another dataset or class count";
    } else if (s.total != all.total || s.limit != all.limit || s.shard_count != all.shard_count) {
      why = "another selection (dataset size, --limit or shard count)";
    }
    if (why) {
      fprintf(stderr, CMD ": --merge %s: %s than %s\n", o->merge[f], why, o->merge[0]);
      seg_state_free(&s);
      goto done;
    }
    int shard = f == 0 ? all.shard_index : s.shard_index;
    if (all.shard_count <= MAX_MERGE && seen_shards[shard]) {
      fprintf(stderr, CMD ": --merge %s: shard %d/%d given twice\n", o->merge[f], shard, all.shard_count);
      seg_state_free(&s);
      goto done;
    }
    if (all.shard_count <= MAX_MERGE)
      seen_shards[shard] = 1;
    for (size_t i = 0; f && i < s.n_images; i++) {
      nala_status st = NALA_OK;
      if (all.n_images == all.cap_images) {
        size_t cap = all.cap_images ? 2 * all.cap_images : 64;
        seg_state_image *grown = realloc(all.images, cap * sizeof *grown);
        if (!grown)
          st = nala_fail(&err, NALA_E_NOMEM, "out of memory merging");
        else
          all.images = grown, all.cap_images = cap;
      }
      if (st != NALA_OK) {
        fprintf(stderr, CMD ": %s\n", err.msg);
        seg_state_free(&s);
        goto done;
      }
      all.images[all.n_images++] = s.images[i];
      memset(&s.images[i], 0, sizeof s.images[i]); /* moved */
    }
    for (size_t i = 0; f && i < s.n_problems; i++) {
      if (seg_state_add_line(&all, s.problems[i], &err) != NALA_OK) {
        fprintf(stderr, CMD ": %s\n", err.msg);
        seg_state_free(&s);
        goto done;
      }
    }
    seg_state_free(&s);
  }
  if (all.n_images > 1)
    qsort(all.images, all.n_images, sizeof *all.images, by_index);
  for (size_t i = 1; i < all.n_images; i++)
    if (all.images[i].index == all.images[i - 1].index) {
      fprintf(stderr, CMD ": --merge: image %d (%s) is in two state files: overlapping selections\n",
              all.images[i].index, all.images[i].file);
      goto done;
    }
  if (nala_seg_metrics_create(all.num_classes, all.ignore_index, &m, &err) != NALA_OK ||
      seg_state_replay(&all, m, &err) != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    goto done;
  }
  if (!print_result(m, &all, o))
    goto done;
  print_problems(&all);
  int missing = 0;
  for (int k = 0; k < all.shard_count && all.shard_count <= MAX_MERGE; k++)
    if (!seen_shards[k]) {
      fprintf(stderr, CMD ": --merge: shard %d/%d is missing: the table covers only the shards given\n", k,
              all.shard_count);
      missing++;
    }
  code = missing || all.n_problems || !all.n_images ? NALA_EXIT_RUNTIME : NALA_EXIT_OK;
done:
  seg_state_free(&all);
  nala_seg_metrics_free(m);
  return code;
}

/* --shard i/n into int[2]. */
static nala_status parse_shard(const char *flag, const char *text, void *dst, nala_err *err) {
  int *shard = dst;
  return cli_parse_shard(flag, text, &shard[0], &shard[1], err);
}

int cli_eval_seg_model(int argc, char **argv) {
  eval_opts o;
  memset(&o, 0, sizeof o);
  o.isa = NALA_ISA_AUTO;
  char **rest = malloc((size_t)(argc + 1) * sizeof *rest);
  if (!rest)
    return NALA_EXIT_RUNTIME;
  int n_rest, code = take_lists(argc, argv, rest, &n_rest, &o);
  if (code >= 0) {
    free(rest);
    return code;
  }
  const cli_option options[] = {{"--config", CLI_TEXT, &o.config, 0, 0, NULL},
                                {"--weights", CLI_TEXT, &o.weights, 0, 0, NULL},
                                {"--data-root", CLI_TEXT, &o.data_root, 0, 0, NULL},
                                {"--save-state", CLI_TEXT, &o.state_path, 0, 0, NULL},
                                {"--json", CLI_TEXT, &o.json_path, 0, 0, NULL},
                                {"--limit", CLI_INT, &o.limit, 0, 1 << 30, NULL},
                                {"--shard", CLI_CUSTOM, o.shard, 0, 0, parse_shard},
                                {"--threads", CLI_INT, &o.threads, 0, CLI_MAX_THREADS, NULL},
                                {"--isa", CLI_CUSTOM, &o.isa, 0, 0, cli_parse_isa},
                                {"--exact", CLI_SWITCH, &o.exact, 0, 0, NULL},
                                {"--no-progress", CLI_SWITCH, &o.no_progress, 0, 0, NULL},
                                {0}};
  const cli_option *tables[] = {options, NULL};
  code = cli_parse_options(CMD, n_rest, rest, tables, usage);
  free(rest);
  if (code >= 0)
    return code;
  if (o.merging && (o.config || o.weights || o.data_root || o.state_path || o.limit || o.shard[1] || o.n_overrides)) {
    fprintf(stderr, CMD ": --merge takes state files (and --exact / --json) only: the runs that saved them chose "
                    "the model and the samples\n");
    return NALA_EXIT_USAGE;
  }
  if (!o.merging && !o.config) {
    fprintf(stderr, CMD ": --config is required (or --merge S1.json ...)\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  return o.merging ? run_merge(&o) : run_model(&o);
}
