/* nala eval coco: COCO bbox / segm mAP of a results JSON, printed as pycocotools prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/coco.h"
#include "tools/cli.h"
#include "tools/cli_args.h"
#include "tools/cli_eval_coco_model.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala eval coco --gt instances.json --results dets.json --iou-type bbox|segm\n"
          "                      [--per-class] [--json out.json] [--threads N]\n"
          "  prints the 12 summary lines of pycocotools' COCOeval.summarize();\n"
          "  --per-class    adds AP@[.5:.95] per category (-1.000 for a category without ground truth)\n"
          "  --json FILE    also writes the report, atomically (--out is the same flag):\n"
          "                 {\"iou_type\": \"bbox\"|\"segm\", \"stats\": [12 numbers, summarize()'s order,\n"
          "                 -1 where undefined], \"per_category\": {\"<category id>\": AP@[.5:.95], ...}}\n"
          "                 where AP is -1 for a category without ground truth (pycocotools' -1)\n"
          "  --threads N    OpenMP threads, 0..4096 (default 0: OpenMP's default)\n"
          "or, of a detection model over a COCO split: nala eval coco --config C ... (see --config --help)\n"
          "exit codes: 0 ok, 1 bad file or I/O error (the message names the file and record), 2 bad arguments\n");
}

typedef struct coco_args {
  const char *gt, *results, *json;
  nala_coco_iou_type iou_type;
  int per_class, threads;
} coco_args;

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, coco_args *a) {
  const char *iou = NULL;
  const cli_option options[] = {{"--gt", CLI_TEXT, &a->gt, 0, 0, NULL},
                                {"--results", CLI_TEXT, &a->results, 0, 0, NULL},
                                {"--iou-type", CLI_TEXT, &iou, 0, 0, NULL},
                                {"--json", CLI_TEXT, &a->json, 0, 0, NULL},
                                {"--out", CLI_TEXT, &a->json, 0, 0, NULL}, /* the name `eval seg` used first */
                                {"--per-class", CLI_SWITCH, &a->per_class, 0, 0, NULL},
                                {"--threads", CLI_INT, &a->threads, 0, CLI_MAX_THREADS, NULL},
                                {0}};
  const cli_option *tables[] = {options, NULL};
  int parsed = cli_parse_options("nala eval coco", argc, argv, tables, usage);
  if (parsed >= 0)
    return parsed;
  if (!a->gt || !a->results || !iou) {
    fprintf(stderr, "nala eval coco: --gt, --results and --iou-type are required\n");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  if (!strcmp(iou, "bbox"))
    a->iou_type = NALA_COCO_BBOX;
  else if (!strcmp(iou, "segm"))
    a->iou_type = NALA_COCO_SEGM;
  else {
    fprintf(stderr, "nala eval coco: --iou-type must be bbox or segm, not '%s'\n", iou);
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  return -1;
}

static void print_per_class(const nala_coco_gt *gt, const nala_coco_result *res) {
  printf("\n%12s  %-24s  %s\n", "category_id", "name", "AP");
  for (size_t k = 0; k < res->num_categories; k++)
    printf("%12lld  %-24s  %.3f\n", (long long)res->category_ids[k], nala_coco_gt_category_name(gt, k),
           res->category_ap[k]);
}

int nala_cli_eval_coco(int argc, char **argv) {
  if (cli_eval_coco_is_model_mode(argc, argv)) /* --config / --merge: tools/cli_eval_coco_model.c */
    return cli_eval_coco_model(argc, argv);
  coco_args a = {0};
  int parsed = parse_args(argc, argv, &a);
  if (parsed >= 0)
    return parsed;
  nala_err err;
  nala_err_clear(&err);
  nala_coco_gt *gt = NULL;
  nala_coco_dets *dets = NULL;
  nala_coco_result res = {0};
  int with_masks = a.iou_type == NALA_COCO_SEGM;
  nala_coco_params params = {a.threads};
  nala_status st = nala_coco_gt_load(a.gt, with_masks, &gt, &err);
  if (st == NALA_OK)
    st = nala_coco_dets_load(a.results, gt, with_masks, &dets, &err);
  if (st == NALA_OK && nala_coco_dets_num_unknown_category(dets))
    fprintf(stderr, "nala eval coco: warning: ignored %zu results whose category_id is not in %s\n",
            nala_coco_dets_num_unknown_category(dets), a.gt);
  if (st == NALA_OK)
    st = nala_coco_evaluate(gt, dets, a.iou_type, &params, &res, &err);
  if (st == NALA_OK) {
    nala_coco_summary_print(stdout, &res);
    if (a.per_class)
      print_per_class(gt, &res);
    fflush(stdout);
    if (a.json)
      st = nala_coco_result_write_json(a.json, &res, &err);
  }
  if (st != NALA_OK)
    fprintf(stderr, "nala eval coco: %s\n", err.msg);
  nala_coco_result_free(&res);
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
  return st == NALA_OK ? NALA_EXIT_OK : NALA_EXIT_RUNTIME;
}
