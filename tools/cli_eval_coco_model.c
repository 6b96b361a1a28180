/* nala eval coco of a detection model over a COCO split, and the merge of shard outputs. Results are
 * written as mmdet's CocoMetric writes them (tools/det_json.h), in dataset order, so the shards of a
 * run concatenate into the unsharded run's files byte for byte. */
#include "tools/cli_eval_coco_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/atomic_write.h"
#include "nala/dataset.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_timing.h"
#include "tools/det_coco_eval.h"
#include "tools/det_json.h"
#include "tools/det_run.h"

#define CMD "nala eval coco"
#define MAX_MERGE 1024

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala eval coco --config C [--weights W] --data-root COCO [--ann FILE] [--img-dir DIR]\n"
          "                      [--limit N] [--shard i/n] --out-prefix P [--threads N] [--no-eval]\n"
          "                      [--cfg-options KEY=VALUE ...] [--seed S] [--isa T] [--no-progress]\n"
          "       nala eval coco --merge P0 P1 ... [--out-prefix P] [--threads N]\n"
          "  runs the detector over the split and writes P.bbox.json (and P.segm.json for a model with\n"
          "  masks) as mmdet's CocoMetric writes them, P.meta.json (annotation file + the images run),\n"
          "  then prints the 12 summary lines per iou type over exactly the images run (mmdet's imgIds).\n"
          "  --ann FILE      instances JSON, relative to --data-root (default annotations/instances_val2017.json)\n"
          "  --img-dir DIR   images, relative to --data-root (default val2017/)\n"
          "  --weights W     mmdet checkpoint converted to safetensors; default: seeded\n"
          "                  random weights (--seed, default 0)\n"
          "  --limit N       the first N images; --shard i/n: the i-th of n contiguous slices of those\n"
          "  --merge P...    joins the outputs of shards P0 P1 ... (in shard order) and prints the stats\n"
          "                  of the whole run; with --out-prefix also writes the merged files\n"
          "  an image that cannot be read or run is named on stderr, skipped, and makes the exit code 1\n");
}

int cli_eval_coco_is_model_mode(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--merge"))
      return 1;
  return 0;
}

/* rel under root (unless absolute); 1 when it does not fit. */
static int join(const char *root, const char *rel, char *out, size_t cap) {
  int n;
  if (rel[0] == '/' || !root[0])
    n = snprintf(out, cap, "%s", rel);
  else
    n = snprintf(out, cap, "%s%s%s", root, root[strlen(root) - 1] == '/' ? "" : "/", rel);
  return n < 0 || (size_t)n >= cap;
}

/* Evaluates bbox (and segm) result texts over the run's images. */
static int evaluate(const det_coco_run_meta *m, const char *bbox, size_t bbox_len, const char *bbox_name,
                    const char *segm, size_t segm_len, const char *segm_name, int threads) {
  nala_err err;
  nala_err_clear(&err);
  nala_coco_gt *gt = NULL;
  nala_status st = det_coco_gt_load_subset(m->ann_file, m->image_ids, m->n_images, m->has_segm, &gt, &err);
  if (st == NALA_OK)
    st = det_coco_eval_text(gt, bbox, bbox_len, bbox_name, NALA_COCO_BBOX, threads, stdout, NULL, &err);
  if (st == NALA_OK && m->has_segm)
    st = det_coco_eval_text(gt, segm, segm_len, segm_name, NALA_COCO_SEGM, threads, stdout, NULL, &err);
  nala_coco_gt_free(gt);
  if (st != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    return 1;
  }
  return 0;
}

static int merge(const char *const *prefixes, int n, const char *out_prefix, int threads) {
  nala_err err;
  nala_err_clear(&err);
  det_coco_run_meta all = {0};
  nala_status st = NALA_OK;
  for (int i = 0; i < n && st == NALA_OK; i++) {
    det_coco_run_meta m;
    st = det_coco_meta_read(prefixes[i], &m, &err);
    if (st != NALA_OK)
      break;
    if (i == 0) {
      all.ann_file = strdup(m.ann_file);
      all.has_segm = m.has_segm;
      if (!all.ann_file)
        st = nala_fail(&err, NALA_E_NOMEM, "out of memory");
    } else if (strcmp(m.ann_file, all.ann_file) || m.has_segm != all.has_segm)
      st = nala_fail(&err, NALA_E_ARG, "%s.meta.json: a run of %s%s, but %s.meta.json is of %s%s", prefixes[i],
                     m.ann_file, m.has_segm ? " with masks" : "", prefixes[0], all.ann_file,
                     all.has_segm ? " with masks" : "");
    for (size_t k = 0; st == NALA_OK && k < m.n_images; k++) {
      for (size_t j = 0; j < all.n_images; j++)
        if (all.image_ids[j] == m.image_ids[k]) {
          st = nala_fail(&err, NALA_E_ARG, "%s: image id %lld is in two of the merged runs", prefixes[i],
                         (long long)m.image_ids[k]);
          break;
        }
      if (st == NALA_OK)
        st = det_coco_meta_add(&all, m.image_ids[k], &err);
    }
    all.n_bad += m.n_bad;
    det_coco_meta_free(&m);
  }
  char *bbox = NULL, *segm = NULL;
  size_t bbox_len = 0, segm_len = 0;
  if (st == NALA_OK)
    st = det_coco_merge_lists(prefixes, n, "bbox", &bbox, &bbox_len, &err);
  if (st == NALA_OK && all.has_segm)
    st = det_coco_merge_lists(prefixes, n, "segm", &segm, &segm_len, &err);
  char path[4200];
  if (st == NALA_OK && out_prefix) {
    snprintf(path, sizeof path, "%s.bbox.json", out_prefix);
    st = nala_write_atomic(path, bbox, bbox_len, &err);
    if (st == NALA_OK && segm) {
      snprintf(path, sizeof path, "%s.segm.json", out_prefix);
      st = nala_write_atomic(path, segm, segm_len, &err);
    }
    if (st == NALA_OK)
      st = det_coco_meta_write(out_prefix, &all, &err);
  }
  int rc = NALA_EXIT_OK;
  if (st != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    rc = NALA_EXIT_RUNTIME;
  } else {
    printf("merged %d runs: %zu images of %s\n", n, all.n_images, all.ann_file);
    if (evaluate(&all, bbox, bbox_len, "merged bbox results", segm, segm_len, "merged segm results", threads))
      rc = NALA_EXIT_RUNTIME;
    if (all.n_bad) {
      fprintf(stderr, CMD ": %zu images of the merged runs could not be used (named by their runs)\n", all.n_bad);
      rc = NALA_EXIT_RUNTIME;
    }
  }
  free(bbox);
  free(segm);
  det_coco_meta_free(&all);
  return rc;
}

typedef struct model_args {
  det_run_opts run;
  const char *data_root, *ann, *img_dir, *out_prefix;
  const char *overrides[64];
  int limit, shard[2], no_eval, no_progress;
} model_args;

static nala_status add_override(const char *flag, const char *text, void *dst, nala_err *err) {
  model_args *a = dst;
  if (a->run.n_overrides == 64)
    return nala_fail(err, NALA_E_ARG, "%s: at most 64", flag);
  a->overrides[a->run.n_overrides++] = text;
  return NALA_OK;
}

/* One image: run, write its detections. A failure of this image only is returned as NALA_E_FORMAT
 * etc. with err set; *fatal says the output itself failed (stop). */
static nala_status run_image(det_run *r, nala_dataset *ds, int i, det_json_file *bbox, det_json_file *segm,
                             int *fatal, nala_err *err) {
  const nala_sample *s = nala_dataset_sample(ds, i);
  nala_image img = {0};
  *fatal = 0;
  NALA_CHECK(nala_dataset_read_image(ds, i, NALA_BGR, 0, &img, err)); /* logged as bad by the dataset */
  nala_status st = det_run_frame(r, &img, err);
  nala_image_free(&img);
  if (st != NALA_OK) {
    nala_dataset_bad_sample(ds, s->file_name, err->msg, NULL);
    return st;
  }
  for (int k = 0; k < r->n_dets && st == NALA_OK; k++) {
    const nala_detection *d = &r->dets[k];
    int64_t cat = nala_dataset_category_id(ds, d->label);
    *fatal = 1;
    st = det_json_add(bbox, s->image_id, cat, d->x1, d->y1, d->x2, d->y2, d->score, NULL, err);
    if (st == NALA_OK && segm) {
      nala_rle rle = {0};
      st = nala_det_read_mask_rle(r->ctx, k, &rle, err);
      if (st == NALA_OK)
        st = det_json_add(segm, s->image_id, cat, d->x1, d->y1, d->x2, d->y2, d->score, &rle, err);
      nala_rle_free(&rle);
    }
  }
  return st;
}

static int run_model(model_args *a) {
  nala_dataset_cfg dc;
  char ann[sizeof dc.ann_file], img_dir[sizeof dc.img_dir];
  int too_long = join(a->data_root, a->ann ? a->ann : "annotations/instances_val2017.json", ann, sizeof ann) |
                 join(a->data_root, a->img_dir ? a->img_dir : "val2017/", img_dir, sizeof img_dir);
  nala_err err;
  nala_err_clear(&err);
  nala_dataset *ds = NULL;
  det_json_file *bbox = NULL, *segm = NULL;
  det_run r;
  int rc = NALA_EXIT_RUNTIME;
  char path[4200];
  nala_dataset_opts dopts = {.limit = a->limit, .shard_index = a->shard[0], .shard_count = a->shard[1]};
  nala_status st = nala_dataset_cfg_init(NALA_DATASET_COCO, a->data_root, &dc, &err);
  if (st == NALA_OK && too_long)
    st = nala_fail(&err, NALA_E_ARG, "--data-root with --ann / --img-dir: path longer than %zu bytes", sizeof ann - 1);
  if (st == NALA_OK) {
    memcpy(dc.ann_file, ann, sizeof ann);
    memcpy(dc.img_dir, img_dir, sizeof img_dir);
    st = nala_dataset_open(&dc, &dopts, &ds, &err);
  }
  /* Outputs first: an unwritable prefix fails before the model is even built. */
  if (st == NALA_OK) {
    snprintf(path, sizeof path, "%s.bbox.json", a->out_prefix);
    st = det_json_open(path, &bbox, &err);
  }
  if (st == NALA_OK) {
    snprintf(path, sizeof path, "%s.meta.json", a->out_prefix);
    st = det_check_writable_parent(path, &err);
  }
  if (st != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    det_json_abort(bbox);
    nala_dataset_close(ds);
    return NALA_EXIT_RUNTIME;
  }
  if (det_run_open(CMD, &a->run, &r)) {
    det_json_abort(bbox);
    nala_dataset_close(ds);
    return NALA_EXIT_RUNTIME;
  }
  int k = nala_detector_num_classes(r.model), kd = nala_dataset_num_classes(ds);
  det_coco_run_meta meta = {0};
  meta.has_segm = nala_detector_has_masks(r.model);
  meta.ann_file = strdup(ann);
  if (!meta.ann_file)
    st = nala_fail(&err, NALA_E_NOMEM, "out of memory");
  else if (k != kd)
    st = nala_fail(&err, NALA_E_ARG,
                   "the model has %d classes but %s has %d categories: labels could not be mapped to category ids",
                   k, ann, kd);
  if (st == NALA_OK && meta.has_segm) {
    snprintf(path, sizeof path, "%s.segm.json", a->out_prefix);
    st = det_json_open(path, &segm, &err);
  }
  int n = nala_dataset_size(ds), every = n >= 20 ? n / 20 : 1;
  double t0 = cli_now_ms();
  if (st == NALA_OK && !a->no_progress)
    fprintf(stderr, CMD ": %d images of %s (%d in the file)%s\n", n, ann, nala_dataset_total(ds),
            a->shard[1] > 1 ? " in this shard" : "");
  for (int i = 0; i < n && st == NALA_OK; i++) {
    const nala_sample *s = nala_dataset_sample(ds, i);
    nala_err ie;
    nala_err_clear(&ie);
    int fatal = 0;
    nala_status is = run_image(&r, ds, i, bbox, segm, &fatal, &ie);
    if (is == NALA_OK)
      st = det_coco_meta_add(&meta, s->image_id, &err);
    else if (fatal) {
      st = is;
      err = ie;
    } else {
      fprintf(stderr, CMD ": skipped %s: %s\n", s->file_name, ie.msg);
      meta.n_bad++;
    }
    if (!a->no_progress && ((i + 1) % every == 0 || i + 1 == n))
      fprintf(stderr, "[%d/%d] %s  %.1f s\n", i + 1, n, s->file_name, (cli_now_ms() - t0) / 1e3);
  }
  if (st == NALA_OK) {
    st = det_json_close(bbox, &err);
    bbox = NULL;
  }
  if (st == NALA_OK && segm) {
    st = det_json_close(segm, &err);
    segm = NULL;
  }
  if (st == NALA_OK)
    st = det_coco_meta_write(a->out_prefix, &meta, &err);
  if (st != NALA_OK)
    fprintf(stderr, CMD ": %s\n", err.msg);
  else {
    fprintf(stderr, "%zu images run, mean per image (plan %.1f ms in all):\n", meta.n_images, r.plan_ms);
    det_run_print_stages(&r, stderr, "  ");
    rc = NALA_EXIT_OK;
    if (!a->no_eval) {
      char *texts[2] = {NULL, NULL};
      size_t lens[2] = {0, 0};
      const char *prefix = a->out_prefix;
      st = det_coco_merge_lists(&prefix, 1, "bbox", &texts[0], &lens[0], &err);
      if (st == NALA_OK && meta.has_segm)
        st = det_coco_merge_lists(&prefix, 1, "segm", &texts[1], &lens[1], &err);
      if (st != NALA_OK) {
        fprintf(stderr, CMD ": %s\n", err.msg);
        rc = NALA_EXIT_RUNTIME;
      } else if (evaluate(&meta, texts[0], lens[0], "bbox results", texts[1], lens[1], "segm results",
                          a->run.threads))
        rc = NALA_EXIT_RUNTIME;
      free(texts[0]);
      free(texts[1]);
    }
  }
  if (nala_dataset_print_report(ds, stderr))
    rc = NALA_EXIT_RUNTIME;
  det_json_abort(bbox);
  det_json_abort(segm);
  det_coco_meta_free(&meta);
  det_run_close(&r);
  nala_dataset_close(ds);
  return rc;
}

int cli_eval_coco_model(int argc, char **argv) {
  /* --merge takes every following word up to the next option; the rest goes to the parser. */
  const char *prefixes[MAX_MERGE];
  int n_prefixes = 0, merging = 0;
  char **rest = malloc((size_t)(argc + 1) * sizeof *rest);
  if (!rest)
    return NALA_EXIT_RUNTIME;
  int n_rest = 0;
  rest[n_rest++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--merge")) {
      merging = 1;
      for (; i + 1 < argc && strncmp(argv[i + 1], "--", 2); i++) {
        if (n_prefixes == MAX_MERGE) {
          fprintf(stderr, CMD ": --merge: at most %d runs\n", MAX_MERGE);
          free(rest);
          return NALA_EXIT_USAGE;
        }
        prefixes[n_prefixes++] = argv[i + 1];
      }
    } else
      rest[n_rest++] = argv[i];
  }
  rest[n_rest] = NULL;
  model_args a = {0};
  const char *shard = NULL;
  a.run.overrides = a.overrides;
  const cli_option options[] = {{"--config", CLI_TEXT, &a.run.config, 0, 0, NULL},
                                {"--weights", CLI_TEXT, &a.run.weights, 0, 0, NULL},
                                {"--seed", CLI_U64, &a.run.seed, 0, 0, NULL},
                                {"--threads", CLI_INT, &a.run.threads, 0, CLI_MAX_THREADS, NULL},
                                {"--isa", CLI_CUSTOM, &a.run.isa, 0, 0, cli_parse_isa},
                                {"--cfg-options", CLI_CUSTOM, &a, 0, 0, add_override},
                                {"--data-root", CLI_TEXT, &a.data_root, 0, 0, NULL},
                                {"--ann", CLI_TEXT, &a.ann, 0, 0, NULL},
                                {"--img-dir", CLI_TEXT, &a.img_dir, 0, 0, NULL},
                                {"--limit", CLI_INT, &a.limit, 0, 1 << 30, NULL},
                                {"--shard", CLI_TEXT, &shard, 0, 0, NULL},
                                {"--out-prefix", CLI_TEXT, &a.out_prefix, 0, 0, NULL},
                                {"--no-eval", CLI_SWITCH, &a.no_eval, 0, 0, NULL},
                                {"--no-progress", CLI_SWITCH, &a.no_progress, 0, 0, NULL},
                                {0}};
  const cli_option *tables[] = {options, NULL};
  int parsed = cli_parse_options(CMD, n_rest, rest, tables, usage);
  free(rest);
  if (parsed >= 0)
    return parsed;
  nala_err err;
  nala_err_clear(&err);
  a.shard[1] = 1;
  if (shard && cli_parse_shard("--shard", shard, &a.shard[0], &a.shard[1], &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  if (merging) {
    if (!n_prefixes || a.run.config) {
      fprintf(stderr, CMD ": --merge needs the prefixes of the runs (P0 P1 ...) and no --config\n");
      usage(stderr);
      return NALA_EXIT_USAGE;
    }
    return merge(prefixes, n_prefixes, a.out_prefix, a.run.threads);
  }
  if (!a.run.config || !a.data_root || !a.out_prefix) {
    fprintf(stderr, CMD ": --config, --data-root and --out-prefix are required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  return run_model(&a);
}
