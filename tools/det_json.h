/* COCO results JSON as mmdet writes it (mmdet 3.x CocoMetric.results2json + mmengine's json dump),
 * streamed to a temporary file beside the target and renamed into place at the end, so memory stays
 * fixed however many images a run has and an interrupted run leaves no half file at the path.
 *
 *   det_json_file *f;
 *   det_json_open("P.bbox.json", &f, &err);
 *   det_json_add(f, image_id, category_id, x1, y1, x2, y2, score, NULL, &err);   // one detection
 *   det_json_close(f, &err);                                                    // "[...]" renamed to path
 *
 * Records are `{"image_id": 1, "bbox": [x, y, w, h], "score": s, "category_id": c}` (+ "segmentation":
 * {"size": [h, w], "counts": "..."} for segm files), joined by ", " on one line: json.dump's default
 * separators. Floats are Python's repr of the float32 values (numpy float32 -> tolist() -> repr), with
 * w = x2 - x1 and h = y2 - y1 computed in double after tolist(), as mmdet's xyxy2xywh does. */
#ifndef NALA_TOOLS_DET_JSON_H
#define NALA_TOOLS_DET_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nala/rle.h"
#include "nala/status.h"

/* Python's repr(float(v)) (shortest round-trip digits, '.0' on integral values, exponent form below
 * 1e-4 and from 1e16 on, 'nan' / 'inf' / '-inf') into buf; returns its length. cap >= 32. */
int det_py_float_repr(double v, char *buf, size_t cap);

typedef struct det_json_file det_json_file;

/* Opens a temporary file beside path (fails naming path when its folder is not writable). */
nala_status det_json_open(const char *path, det_json_file **out, nala_err *err);

/* Appends one detection (x1 y1 x2 y2 in original image pixels); mask NULL for a bbox file. */
nala_status det_json_add(det_json_file *f, int64_t image_id, int64_t category_id, float x1, float y1, float x2,
                         float y2, float score, const nala_rle *mask, nala_err *err);

/* Records written so far. */
size_t det_json_count(const det_json_file *f);

/* Closes the list, syncs and renames the temporary file to path; frees f (also on failure). */
nala_status det_json_close(det_json_file *f, nala_err *err);

/* Drops an unfinished file (temporary removed, path untouched); safe on NULL. */
void det_json_abort(det_json_file *f);

/* Checks that the folder of path exists and is writable (run before any work). */
nala_status det_check_writable_parent(const char *path, nala_err *err);

#endif
