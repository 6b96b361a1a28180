/* Iterator over the elements of a top-level JSON array held in memory (coco_json_list.c). */
#ifndef NALA_EVAL_COCO_JSON_LIST_H
#define NALA_EVAL_COCO_JSON_LIST_H

#include <stddef.h>

#include "nala/status.h"

typedef struct coco_json_list {
  const char *text;
  size_t len, pos, count;
  int done;
} coco_json_list;

/* Expects '[' as the first non-blank character. */
nala_status coco_json_list_begin(coco_json_list *it, const char *text, size_t len, nala_err *err);

/* Next element's bytes in *elem / *elem_len; *elem is NULL after the closing ']'. Errors give the
 * byte offset. Element contents are not validated (parse them). */
nala_status coco_json_list_next(coco_json_list *it, const char **elem, size_t *elem_len, nala_err *err);

#endif
