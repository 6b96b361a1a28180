/* Element-by-element walk of a top-level JSON array. A 500k-detection results file parsed as one
 * cJSON tree costs ~1 KB of small mallocs per detection; parsing one element at a time keeps the
 * allocator on its fast path and memory flat, and still reports syntax errors by byte offset. */
#include "eval/coco_json_list.h"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(coco_json_list *it) {
  while (it->pos < it->len && is_ws(it->text[it->pos]))
    it->pos++;
}

static nala_status syntax_error(const coco_json_list *it, size_t at, nala_err *err) {
  return nala_fail(err, NALA_E_FORMAT, "malformed JSON at byte offset %zu (of %zu)", at, it->len);
}

/* Moves past the string opening at it->pos; 0 when it is not closed. */
static int skip_string(coco_json_list *it) {
  for (it->pos++; it->pos < it->len; it->pos++) {
    char c = it->text[it->pos];
    if (c == '\\')
      it->pos++;
    else if (c == '"') {
      it->pos++;
      return 1;
    }
  }
  return 0;
}

nala_status coco_json_list_begin(coco_json_list *it, const char *text, size_t len, nala_err *err) {
  it->text = text;
  it->len = len;
  it->pos = 0;
  it->count = 0;
  it->done = 0;
  skip_ws(it);
  if (it->pos >= len || text[it->pos] != '[')
    return nala_fail(err, NALA_E_FORMAT, "results must be a list of objects");
  it->pos++;
  skip_ws(it);
  if (it->pos < len && text[it->pos] == ']') {
    it->pos++;
    it->done = 1;
  }
  return NALA_OK;
}

nala_status coco_json_list_next(coco_json_list *it, const char **elem, size_t *elem_len, nala_err *err) {
  *elem = NULL;
  *elem_len = 0;
  if (it->done) {
    skip_ws(it);
    if (it->pos < it->len && it->text[it->pos] != '\0')
      return syntax_error(it, it->pos, err);
    return NALA_OK;
  }
  skip_ws(it);
  size_t start = it->pos;
  if (start >= it->len)
    return syntax_error(it, start, err);
  char c = it->text[start];
  if (c == '{' || c == '[') {
    /* Brackets are only counted here; cJSON checks they pair up when it parses the element. */
    int depth = 0;
    while (it->pos < it->len) {
      char ch = it->text[it->pos];
      if (ch == '"') {
        if (!skip_string(it))
          return syntax_error(it, it->len, err);
        continue;
      }
      it->pos++;
      if (ch == '{' || ch == '[')
        depth++;
      else if ((ch == '}' || ch == ']') && --depth == 0)
        break;
    }
    if (depth != 0)
      return syntax_error(it, it->len, err);
  } else if (c == '"') {
    if (!skip_string(it))
      return syntax_error(it, it->len, err);
  } else {
    while (it->pos < it->len && it->text[it->pos] != ',' && it->text[it->pos] != ']' && !is_ws(it->text[it->pos]))
      it->pos++;
  }
  *elem = it->text + start;
  *elem_len = it->pos - start;
  it->count++;
  skip_ws(it);
  if (it->pos >= it->len)
    return syntax_error(it, it->pos, err);
  if (it->text[it->pos] == ']') {
    it->pos++;
    it->done = 1;
  } else if (it->text[it->pos] == ',') {
    it->pos++;
    skip_ws(it);
    if (it->pos >= it->len || it->text[it->pos] == ']')
      return syntax_error(it, it->pos, err);
  } else {
    return syntax_error(it, it->pos, err);
  }
  return NALA_OK;
}
