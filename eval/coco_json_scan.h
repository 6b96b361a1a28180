/* Byte-level JSON scanning for the COCO readers (coco_json_scan.c): skipping values without
 * building trees, the elements of a top-level array one by one, and syntax-error messages with
 * line, column and byte offset. */
#ifndef NALA_EVAL_COCO_JSON_SCAN_H
#define NALA_EVAL_COCO_JSON_SCAN_H

#include <stddef.h>

#include "nala/status.h"

/* First position >= pos that is not JSON white space. */
size_t coco_json_skip_ws(const char *text, size_t len, size_t pos);

/* Moves *pos past the value starting there. Strings and bracket balance are checked, nothing
 * else (the value is parsed by cJSON when it matters). 0 when the value is unclosed or empty. */
int coco_json_skip_value(const char *text, size_t len, size_t *pos);

/* Fails with "invalid JSON near line L, column C (byte offset B of N)" for an error at byte at. */
nala_status coco_json_syntax_error(const char *text, size_t len, size_t at, nala_err *err);

typedef struct coco_json_list {
  const char *text;
  size_t len, pos, count;
  int done;
} coco_json_list;

/* Expects '[' as the first non-blank character. */
nala_status coco_json_list_begin(coco_json_list *it, const char *text, size_t len, nala_err *err);

/* Next element's bytes in *elem / *elem_len; *elem is NULL after the closing ']'. Element
 * contents are not validated (parse them). */
nala_status coco_json_list_next(coco_json_list *it, const char **elem, size_t *elem_len, nala_err *err);

#endif
