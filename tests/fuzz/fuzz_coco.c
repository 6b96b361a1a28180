/* libFuzzer harness: COCO ground truth + results loading and evaluation (nala_coco_gt_parse,
 * nala_coco_dets_parse, nala_coco_evaluate), in the format of fuzz_input.h (flag byte, GT JSON,
 * "@@", results JSON). Oracles: every refusal names the input; stats are -1 or in [0, 1];
 * precision and recall are -1 or in [0, 1]; per-category AP likewise. */
#include <stdint.h>
#include <string.h>

#include "nala/coco.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

static int in_unit(double v) { return v == -1 || (v >= 0 && v <= 1 + 1e-12); }

static void check_result(const nala_coco_result *res) {
  for (int i = 0; i < NALA_COCO_NUM_STATS; i++)
    FUZZ_ASSERT(in_unit(res->stats[i]), "stats[%d] = %g", i, res->stats[i]);
  for (size_t k = 0; k < res->num_categories; k++)
    FUZZ_ASSERT(in_unit(res->category_ap[k]), "category_ap[%zu] = %g", k, res->category_ap[k]);
  size_t per_t = 101 * res->num_categories * 4 * 3;
  for (size_t i = 0; i < 10 * per_t; i++)
    FUZZ_ASSERT(in_unit(res->precision[i]), "precision[%zu] = %g", i, res->precision[i]);
  for (size_t i = 0; i < 10 * res->num_categories * 4 * 3; i++)
    FUZZ_ASSERT(in_unit(res->recall[i]), "recall[%zu] = %g", i, res->recall[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_coco_input in;
  if (!fuzz_coco_split(data, size, &in))
    return 0;
  nala_coco_gt *gt = NULL;
  nala_coco_dets *dets = NULL;
  nala_err err;
  if (nala_coco_gt_parse(in.gt, in.gt_len, "gt.json", in.gt_masks, &gt, &err) != NALA_OK) {
    FUZZ_ASSERT(gt == NULL && !strncmp(err.msg, "gt.json", 7), "%s", err.msg);
    return 0;
  }
  for (size_t k = 0; k < nala_coco_gt_num_categories(gt); k++)
    FUZZ_ASSERT(nala_coco_gt_category_name(gt, k) != NULL, "category %zu", k);
  if (in.dt) {
    int masks = in.gt_masks && in.dt_masks;
    if (nala_coco_dets_parse(in.dt, in.dt_len, "dt.json", gt, masks, &dets, &err) != NALA_OK) {
      FUZZ_ASSERT(dets == NULL && !strncmp(err.msg, "dt.json", 7), "%s", err.msg);
    } else if (in.evaluate) {
      nala_coco_params params = {.num_threads = 1};
      nala_coco_result res;
      nala_coco_iou_type type = masks ? NALA_COCO_SEGM : NALA_COCO_BBOX;
      if (nala_coco_evaluate(gt, dets, type, &params, &res, &err) == NALA_OK) {
        check_result(&res);
        nala_coco_result_free(&res);
      } else {
        FUZZ_ASSERT(err.msg[0], "evaluation failed without a message");
      }
    }
  }
  nala_coco_dets_free(dets);
  nala_coco_gt_free(gt);
  return 0;
}
