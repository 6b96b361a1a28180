/* COCOeval.summarize: the 12 stats as np.mean over the selected precision / recall blocks (with
 * numpy's summation order, so the stats are bit-identical), the printed lines, per-category AP and
 * the JSON report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/atomic_write.h"
#include "eval/coco_eval_internal.h"

/* numpy pairwise_sum (loops_utils.h.src): 8 accumulators up to 128 elements, halves above. */
static double pairwise_sum(const double *a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; i++)
      res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; j++)
      r[j] = a[j];
    size_t i;
    for (i = 8; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; j++)
        r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++)
      res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double coco_numpy_mean(const double *v, size_t n) {
  enum { NUMPY_BUFSIZE = 8192 }; /* the reduction visits the array in buffers of this size */
  double sum = 0.0;
  for (size_t i = 0; i < n; i += NUMPY_BUFSIZE)
    sum += pairwise_sum(v + i, n - i < NUMPY_BUFSIZE ? n - i : NUMPY_BUFSIZE);
  return sum / (double)n;
}

typedef struct stat_spec {
  int ap;       /* 1: precision, 0: recall */
  double iou;   /* < 0: all thresholds */
  int area;     /* index in all, small, medium, large */
  int max_det;  /* index in 1, 10, 100 */
} stat_spec;

static const stat_spec coco_stats[NALA_COCO_NUM_STATS] = {
    {1, -1, 0, 2}, {1, .5, 0, 2}, {1, .75, 0, 2}, {1, -1, 1, 2}, {1, -1, 2, 2}, {1, -1, 3, 2},
    {0, -1, 0, 0}, {0, -1, 0, 1}, {0, -1, 0, 2}, {0, -1, 1, 2}, {0, -1, 2, 2}, {0, -1, 3, 2},
};

/* mean of s[s > -1] over the block in numpy's C order (t, r, k) or (t, k); -1 when empty. */
static double block_mean(const coco_eval_state *e, const stat_spec *s, double *buf, long only_k) {
  size_t n = 0, K = e->n_cat;
  for (int t = 0; t < COCO_T; t++) {
    if (s->iou >= 0 && e->iou_thr[t] != s->iou) /* np.where(iouThr == p.iouThrs): exact equality */
      continue;
    for (int r = 0; r < (s->ap ? COCO_R : 1); r++)
      for (size_t k = 0; k < K; k++) {
        if (only_k >= 0 && k != (size_t)only_k)
          continue;
        double v = s->ap ? e->precision[((((size_t)t * COCO_R + r) * K + k) * COCO_A + s->area) * COCO_M + s->max_det]
                         : e->recall[(((size_t)t * K + k) * COCO_A + s->area) * COCO_M + s->max_det];
        if (v > -1)
          buf[n++] = v;
      }
  }
  return n ? coco_numpy_mean(buf, n) : -1;
}

nala_status coco_summarize(const coco_eval_state *e, nala_coco_result *res, nala_err *err) {
  size_t cap = (size_t)COCO_T * COCO_R * (e->n_cat ? e->n_cat : 1);
  double *buf = malloc(sizeof(double) * cap);
  res->category_ap = malloc(sizeof(double) * (e->n_cat ? e->n_cat : 1));
  if (!buf || !res->category_ap) {
    free(buf);
    return nala_fail(err, NALA_E_NOMEM, "out of memory summarizing");
  }
  for (int i = 0; i < NALA_COCO_NUM_STATS; i++)
    res->stats[i] = block_mean(e, &coco_stats[i], buf, -1);
  for (size_t k = 0; k < e->n_cat; k++) /* mmdet classwise: precision[:, :, k, 0, -1] */
    res->category_ap[k] = block_mean(e, &coco_stats[0], buf, (long)k);
  free(buf);
  return NALA_OK;
}

void nala_coco_summary_print(FILE *out, const nala_coco_result *res) {
  static const char *area_names[COCO_A] = {"all", "small", "medium", "large"};
  for (int i = 0; i < NALA_COCO_NUM_STATS; i++) {
    const stat_spec *s = &coco_stats[i];
    char iou[16];
    if (s->iou < 0)
      snprintf(iou, sizeof iou, "%0.2f:%0.2f", 0.5, 0.95);
    else
      snprintf(iou, sizeof iou, "%0.2f", s->iou);
    fprintf(out, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
            s->ap ? "Average Precision" : "Average Recall", s->ap ? "(AP)" : "(AR)", iou, area_names[s->area],
            coco_max_dets[s->max_det], res->stats[i]);
  }
}

nala_status nala_coco_result_write_json(const char *path, const nala_coco_result *res, nala_err *err) {
  if (!path || !res)
    return nala_fail(err, NALA_E_ARG, "nala_coco_result_write_json: NULL argument");
  char *text = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&text, &n);
  if (!f)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  fprintf(f, "{\"iou_type\": \"%s\", \"stats\": [", res->iou_type == NALA_COCO_SEGM ? "segm" : "bbox");
  for (int i = 0; i < NALA_COCO_NUM_STATS; i++)
    fprintf(f, "%s%.17g", i ? ", " : "", res->stats[i]);
  fprintf(f, "], \"per_category\": {");
  for (size_t k = 0; k < res->num_categories; k++)
    fprintf(f, "%s\"%lld\": %.17g", k ? ", " : "", (long long)res->category_ids[k], res->category_ap[k]);
  fprintf(f, "}}\n");
  int failed = ferror(f) != 0;
  failed |= fclose(f) != 0;
  nala_status st = failed ? nala_fail(err, NALA_E_NOMEM, "%s: out of memory building the report", path)
                          : nala_write_atomic(path, text, n, err);
  free(text);
  return st;
}
