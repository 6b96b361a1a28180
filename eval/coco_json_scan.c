/* Byte-level JSON scanning. A 500k-detection results file parsed as one cJSON tree costs ~1 KB of
 * small mallocs per detection, and an instances file's annotations are 25 MB the dataset never
 * reads: walking values by bracket matching and parsing only what is needed keeps memory flat. */
#include "eval/coco_json_scan.h"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t coco_json_skip_ws(const char *text, size_t len, size_t pos) {
  while (pos < len && is_ws(text[pos]))
    pos++;
  return pos;
}

/* Moves past the string opening at *pos; 0 when it is not closed. */
static int skip_string(const char *text, size_t len, size_t *pos) {
  for (size_t p = *pos + 1; p < len; p++) {
    if (text[p] == '\\')
      p++;
    else if (text[p] == '"') {
      *pos = p + 1;
      return 1;
    }
  }
  return 0;
}

int coco_json_skip_value(const char *text, size_t len, size_t *pos) {
  size_t p = *pos;
  if (p >= len)
    return 0;
  char c = text[p];
  if (c == '"')
    return skip_string(text, len, pos);
  if (c == '{' || c == '[') {
    int depth = 0;
    while (p < len) {
      char ch = text[p];
      if (ch == '"') {
        if (!skip_string(text, len, &p))
          return 0;
        continue;
      }
      p++;
      if (ch == '{' || ch == '[')
        depth++;
      else if ((ch == '}' || ch == ']') && --depth == 0) {
        *pos = p;
        return 1;
      }
    }
    return 0;
  }
  while (p < len && text[p] != ',' && text[p] != ']' && text[p] != '}' && !is_ws(text[p]))
    p++;
  if (p == *pos)
    return 0;
  *pos = p;
  return 1;
}

nala_status coco_json_syntax_error(const char *text, size_t len, size_t at, nala_err *err) {
  if (at > len)
    at = len;
  int line = 1, col = 1;
  for (size_t p = 0; p < at; p++)
    if (text[p] == '\n')
      line++, col = 1;
    else
      col++;
  return nala_fail(err, NALA_E_FORMAT, "invalid JSON near line %d, column %d (byte offset %zu of %zu)", line, col, at,
                   len);
}

nala_status coco_json_list_begin(coco_json_list *it, const char *text, size_t len, nala_err *err) {
  it->text = text;
  it->len = len;
  it->count = 0;
  it->done = 0;
  it->pos = coco_json_skip_ws(text, len, 0);
  if (it->pos >= len || text[it->pos] != '[')
    return nala_fail(err, NALA_E_FORMAT, "results must be a list of objects");
  it->pos = coco_json_skip_ws(text, len, it->pos + 1);
  if (it->pos < len && text[it->pos] == ']') {
    it->pos++;
    it->done = 1;
  }
  return NALA_OK;
}

nala_status coco_json_list_next(coco_json_list *it, const char **elem, size_t *elem_len, nala_err *err) {
  *elem = NULL;
  *elem_len = 0;
  it->pos = coco_json_skip_ws(it->text, it->len, it->pos);
  if (it->done) {
    if (it->pos < it->len && it->text[it->pos] != '\0')
      return coco_json_syntax_error(it->text, it->len, it->pos, err);
    return NALA_OK;
  }
  size_t start = it->pos;
  if (!coco_json_skip_value(it->text, it->len, &it->pos))
    return coco_json_syntax_error(it->text, it->len, start < it->len && (it->text[start] == '{' || it->text[start] == '[' ||
                                                                          it->text[start] == '"')
                                                             ? it->len /* unclosed */
                                                             : start,
                                  err);
  *elem = it->text + start;
  *elem_len = it->pos - start;
  it->count++;
  it->pos = coco_json_skip_ws(it->text, it->len, it->pos);
  if (it->pos >= it->len)
    return coco_json_syntax_error(it->text, it->len, it->pos, err);
  if (it->text[it->pos] == ']') {
    it->pos++;
    it->done = 1;
  } else if (it->text[it->pos] == ',') {
    it->pos = coco_json_skip_ws(it->text, it->len, it->pos + 1);
    if (it->pos >= it->len || it->text[it->pos] == ']')
      return coco_json_syntax_error(it->text, it->len, it->pos, err);
  } else {
    return coco_json_syntax_error(it->text, it->len, it->pos, err);
  }
  return NALA_OK;
}
