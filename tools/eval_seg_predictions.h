/* Prediction matching for `nala eval seg` (tools/eval_seg_predictions.c). */
#ifndef NALA_TOOLS_EVAL_SEG_PREDICTIONS_H
#define NALA_TOOLS_EVAL_SEG_PREDICTIONS_H

#include <stddef.h>


/* Finds the prediction of key under pred_dir (rules in the --help text). Returns 1 and the path in
 * path_out when found; 0 with the first candidate tried in path_out otherwise. */
int seg_find_prediction(const char *pred_dir, const char *key, int cityscapes, char *path_out, size_t cap);


#endif
