/* nala eval coco: COCO bbox / segm mAP of a results JSON, printed as pycocotools prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/coco.h"
#include "tools/cli.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala eval coco --gt instances.json --results dets.json --iou-type bbox|segm\n"
          "                      [--per-class] [--json out.json] [--threads N]\n"
          "  prints the 12 summary lines of pycocotools' COCOeval.summarize();\n"
          "  --per-class adds AP@[.5:.95] per category, --json writes stats and per-category AP.\n");
}

typedef struct coco_args {
  const char *gt, *results, *json;
  nala_coco_iou_type iou_type;
  int per_class, threads;
} coco_args;

static int parse_args(int argc, char **argv, coco_args *a) {
  const char *iou = NULL;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (!strcmp(opt, "-h") || !strcmp(opt, "--help"))
      return -1;
    if (!strcmp(opt, "--per-class")) {
      a->per_class = 1;
      continue;
    }
    const char **dst = !strcmp(opt, "--gt") ? &a->gt
                       : !strcmp(opt, "--results") ? &a->results
                       : !strcmp(opt, "--json") ? &a->json
                       : !strcmp(opt, "--iou-type") ? &iou
                       : NULL;
    if (!strcmp(opt, "--threads")) {
      char *end;
      if (i + 1 >= argc || (a->threads = (int)strtol(argv[i + 1], &end, 10)) < 0 || *end || !*argv[i + 1]) {
        fprintf(stderr, "nala eval coco: --threads needs a non-negative integer\n");
        return 1;
      }
      i++;
      continue;
    }
    if (!dst) {
      fprintf(stderr, "nala eval coco: unknown option '%s'\n", opt);
      return 1;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "nala eval coco: %s needs a value\n", opt);
      return 1;
    }
    *dst = argv[++i];
  }
  if (!a->gt || !a->results || !iou) {
    fprintf(stderr, "nala eval coco: --gt, --results and --iou-type are required\n");
    return 1;
  }
  if (!strcmp(iou, "bbox"))
    a->iou_type = NALA_COCO_BBOX;
  else if (!strcmp(iou, "segm"))
    a->iou_type = NALA_COCO_SEGM;
  else {
    fprintf(stderr, "nala eval coco: --iou-type must be bbox or segm, not '%s'\n", iou);
    return 1;
  }
  return 0;
}

static void print_per_class(const nala_coco_gt *gt, const nala_coco_result *res) {
  printf("\n%12s  %-24s  %s\n", "category_id", "name", "AP");
  for (size_t k = 0; k < res->num_categories; k++)
    printf("%12lld  %-24s  %.3f\n", (long long)res->category_ids[k], nala_coco_gt_category_name(gt, k),
           res->category_ap[k]);
}

int nala_cli_eval_coco(int argc, char **argv) {
  coco_args a = {0};
  int parsed = parse_args(argc, argv, &a);
  if (parsed) {
    usage(parsed < 0 ? stdout : stderr);
    return parsed < 0 ? NALA_EXIT_OK : NALA_EXIT_USAGE;
  }
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
