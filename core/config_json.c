/* Loading config files: JSON parsing with line/column errors, duplicate keys, and mmengine's
 * `_base_` inheritance (mmengine/config/config.py `_merge_a_into_b`): objects merge key by key,
 * a child's object over a base's non-object is an error unless it says "_delete_": true, lists
 * and scalars replace. One deliberate difference: mmengine refuses top-level keys repeated across
 * sibling bases; we let the later base win, as our spec asks. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_internal.h"
#include "core/file_read.h"

#define MAX_BASE_DEPTH 16
#define MAX_CONFIG_BYTES (64u << 20)

typedef struct load_chain {
  const char *display[MAX_BASE_DEPTH + 1]; /* paths as the user sees them, outermost first */
  char *real[MAX_BASE_DEPTH + 1];          /* realpath of each, for cycle detection */
  int depth;
} load_chain;

/* Prefixes err with "a.json -> b.json -> ...: " (the whole include chain down to the culprit). */
static nala_status fail_chain(const load_chain *chain, const char *culprit, nala_err *err) {
  char prefix[512] = "";
  size_t len = 0;
  for (int i = 0; i < chain->depth && len < sizeof prefix; i++)
    len += (size_t)snprintf(prefix + len, sizeof prefix - len, "%s -> ", chain->display[i]);
  if (len < sizeof prefix)
    snprintf(prefix + len, sizeof prefix - len, "%s: ", culprit);
  return nala_err_prefix(err, "%s", prefix);
}

/* Same, for a failure in the file on top of the chain (the one being loaded). */
static nala_status fail_here(const load_chain *chain, nala_err *err) {
  load_chain outer = *chain;
  outer.depth--;
  return fail_chain(&outer, chain->display[chain->depth - 1], err);
}

/* Lexically removes "." and "dir/.." so messages show configs/_base_/x.json, not a/../b. */
static void normalize_path(char *path) {
  char *segs[256];
  int n = 0, absolute = path[0] == '/';
  char *save = NULL;
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  for (char *tok = strtok_r(copy, "/", &save); tok && n < 256; tok = strtok_r(NULL, "/", &save)) {
    if (!strcmp(tok, "."))
      continue;
    if (!strcmp(tok, "..") && n > 0 && strcmp(segs[n - 1], ".."))
      n--;
    else if (!(strcmp(tok, "..") == 0 && absolute && n == 0))
      segs[n++] = tok;
  }
  size_t len = 0, cap = strlen(path) + 1;
  char out[PATH_MAX];
  out[0] = '\0';
  if (absolute)
    len += (size_t)snprintf(out, sizeof out, "/");
  for (int i = 0; i < n && len < sizeof out; i++)
    len += (size_t)snprintf(out + len, sizeof out - len, i ? "/%s" : "%s", segs[i]);
  if (!n && !absolute)
    snprintf(out, sizeof out, ".");
  snprintf(path, cap, "%s", out); /* never longer than the input */
}

nala_status nala_config_read_file(void *user, const char *name, char **text, size_t *len, char **id, nala_err *err) {
  (void)user;
  char *real = realpath(name, NULL);
  if (!real)
    return nala_fail(err, NALA_E_IO, "cannot open: %s", strerror(errno));
  nala_file_bytes file;
  if (nala_file_read(name, MAX_CONFIG_BYTES, &file, err) != NALA_OK) {
    free(real);
    /* The loader prefixes the include chain, which names the file: drop the reader's own "name: ". */
    size_t n = strlen(name);
    if (err && !strncmp(err->msg, name, n) && !strncmp(err->msg + n, ": ", 2))
      memmove(err->msg, err->msg + n + 2, strlen(err->msg + n + 2) + 1);
    return err ? err->status : NALA_E_IO;
  }
  *text = malloc(file.len + 1);
  if (!*text) {
    free(real);
    nala_file_bytes_release(&file);
    return nala_fail(err, NALA_E_NOMEM, "out of memory");
  }
  if (file.len)
    memcpy(*text, file.data, file.len);
  (*text)[file.len] = '\0';
  *len = file.len;
  *id = real;
  nala_file_bytes_release(&file);
  return NALA_OK;
}

/* cJSON keeps repeated keys and lookups see only the first: a repeat is an error, not a silent pick. */
static nala_status check_duplicates(const cJSON *item, char *path, size_t path_len, size_t cap, nala_err *err) {
  int index = 0;
  for (const cJSON *a = item->child; a; a = a->next, index++) {
    if (cJSON_IsObject(item))
      for (const cJSON *b = a->next; b; b = b->next)
        if (!strcmp(a->string, b->string))
          return nala_fail(err, NALA_E_FORMAT, "%s%sduplicate key \"%s\"", path, path_len ? ": " : "", a->string);
    if (!a->child)
      continue;
    int n = cJSON_IsObject(item) ? snprintf(path + path_len, cap - path_len, path_len ? ".%s" : "%s", a->string)
                                 : snprintf(path + path_len, cap - path_len, "[%d]", index);
    size_t next = path_len + (n > 0 ? (size_t)n : 0);
    nala_status st = check_duplicates(a, path, next < cap ? next : cap - 1, cap, err);
    path[path_len] = '\0';
    if (st != NALA_OK)
      return st;
  }
  return NALA_OK;
}

/* Parses len bytes of text into an object tree; errors carry "line L, column C" of the syntax error. */
static nala_status parse_text(const char *text, size_t len, cJSON **out, nala_err *err) {
  const char *nul = memchr(text, '\0', len);
  if (nul) /* cJSON would stop there and ignore the rest */
    return nala_fail(err, NALA_E_FORMAT, "NUL byte at offset %zu", (size_t)(nul - text));
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  /* Only white space may follow the value (cJSON's require_null_terminated, on a mapped file). */
  const char *p = end;
  while (root && p < text + len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  if (root && p < text + len) {
    cJSON_Delete(root);
    root = NULL;
    end = p;
  }
  if (!root) {
    int line = 1, col = 1;
    for (const char *q = text; end && q < end && q < text + len && *q; q++)
      if (*q == '\n')
        line++, col = 1;
      else
        col++;
    return nala_fail(err, NALA_E_FORMAT, "invalid JSON near line %d, column %d", line, col);
  }
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return nala_fail(err, NALA_E_FORMAT, "top level must be a JSON object");
  }
  char path_buf[1024] = "";
  nala_status st = check_duplicates(root, path_buf, 0, sizeof path_buf, err);
  if (st != NALA_OK) {
    cJSON_Delete(root);
    return st;
  }
  *out = root;
  return NALA_OK;
}

static const char *kind_name(const cJSON *item) {
  return cJSON_IsArray(item) ? "list" : cJSON_IsString(item) ? "string" : cJSON_IsNumber(item) ? "number"
         : cJSON_IsBool(item) ? "boolean" : cJSON_IsNull(item) ? "null" : "object";
}

/* Moves src's members into dst following mmengine's rules; src is emptied. */
static nala_status merge_into(cJSON *dst, cJSON *src, char *path, size_t path_len, size_t cap, nala_err *err) {
  while (src->child) {
    cJSON *item = cJSON_DetachItemViaPointer(src, src->child);
    cJSON *existing = cJSON_GetObjectItemCaseSensitive(dst, item->string);
    int n = snprintf(path + path_len, cap - path_len, path_len ? ".%s" : "%s", item->string);
    size_t next = path_len + (n > 0 ? (size_t)n : 0);
    if (next >= cap)
      next = cap - 1;
    if (cJSON_IsObject(item)) {
      cJSON *del = cJSON_GetObjectItemCaseSensitive(item, "_delete_");
      int replace = 0;
      if (del) {
        if (!cJSON_IsBool(del)) {
          cJSON_Delete(item);
          return nala_fail(err, NALA_E_FORMAT, "%s._delete_: expected boolean", path);
        }
        replace = cJSON_IsTrue(del);
        cJSON_DeleteItemFromObjectCaseSensitive(item, "_delete_");
      }
      if (existing && !replace) {
        if (!cJSON_IsObject(existing)) {
          nala_fail(err, NALA_E_FORMAT,
                    "%s: an object here cannot merge into the base's %s; add \"_delete_\": true to replace it", path,
                    kind_name(existing));
          cJSON_Delete(item);
          return NALA_E_FORMAT;
        }
        nala_status st = merge_into(existing, item, path, next, cap, err);
        cJSON_Delete(item);
        if (st != NALA_OK)
          return st;
        path[path_len] = '\0';
        continue;
      }
    }
    path[path_len] = '\0';
    if (existing)
      cJSON_ReplaceItemViaPointer(dst, existing, item);
    else
      cJSON_AddItemToObject(dst, item->string, item);
  }
  return NALA_OK;
}

/* "_delete_" means nothing once merged; drop any left (e.g. inside objects that had no base). */
static nala_status strip_delete_keys(cJSON *item, char *path, size_t path_len, size_t cap, nala_err *err) {
  cJSON *del = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "_delete_") : NULL;
  if (del && !cJSON_IsBool(del))
    return nala_fail(err, NALA_E_FORMAT, "%s%s_delete_: expected boolean", path, path_len ? "." : "");
  if (del)
    cJSON_DeleteItemFromObjectCaseSensitive(item, "_delete_");
  int index = 0;
  for (cJSON *child = item->child; child; child = child->next, index++) {
    int n = cJSON_IsObject(item) ? snprintf(path + path_len, cap - path_len, path_len ? ".%s" : "%s", child->string)
                                 : snprintf(path + path_len, cap - path_len, "[%d]", index);
    size_t next = path_len + (n > 0 ? (size_t)n : 0);
    nala_status st = strip_delete_keys(child, path, next < cap ? next : cap - 1, cap, err);
    path[path_len] = '\0';
    if (st != NALA_OK)
      return st;
  }
  return NALA_OK;
}

void cfg_source_free(cfg_source *source) {
  if (!source)
    return;
  for (int i = 0; i < source->n_bases; i++)
    cfg_source_free(source->bases[i]);
  free(source->bases);
  cJSON_Delete(source->own);
  free(source->path);
  free(source);
}

/* Where the files come from: the top one may be given as text, the rest go through the resolver. */
typedef struct load_input {
  const char *top_text;
  size_t top_len;
  const nala_config_resolver *resolver;
} load_input;

/* Text (NUL-terminated, owned) and identity of one file of the chain. */
static nala_status read_one(const load_input *in, const char *display, int depth, char **text, size_t *len,
                            char **id, nala_err *err) {
  if (depth == 0 && in->top_text) {
    if (in->top_len > MAX_CONFIG_BYTES)
      return nala_fail(err, NALA_E_FORMAT, "config larger than %u bytes", MAX_CONFIG_BYTES);
    *text = malloc(in->top_len + 1);
    *id = strdup(display);
    if (!*text || !*id) {
      free(*text);
      free(*id);
      return nala_fail(err, NALA_E_NOMEM, "out of memory");
    }
    memcpy(*text, in->top_text, in->top_len);
    (*text)[in->top_len] = '\0';
    *len = in->top_len;
    return NALA_OK;
  }
  if (!in->resolver || !in->resolver->read)
    return nala_fail(err, NALA_E_IO, "cannot open: no resolver for _base_ files");
  *text = NULL;
  *id = NULL;
  nala_status st = in->resolver->read(in->resolver->user, display, text, len, id, err);
  if (st == NALA_OK && (!*text || !*id))
    st = nala_fail(err, NALA_E_ARG, "config resolver returned no text or id");
  if (st == NALA_OK && *len > MAX_CONFIG_BYTES)
    st = nala_fail(err, NALA_E_FORMAT, "config larger than %u bytes", MAX_CONFIG_BYTES);
  if (st != NALA_OK) {
    free(*text);
    free(*id);
    *text = *id = NULL;
  }
  return st;
}

static nala_status load_recursive(const load_input *in, const char *display, load_chain *chain, cJSON **merged,
                                  cfg_source **out, nala_err *err) {
  char *real = NULL, *text = NULL;
  size_t text_len = 0;
  if (read_one(in, display, chain->depth, &text, &text_len, &real, err) != NALA_OK)
    return fail_chain(chain, display, err);
  for (int i = 0; i < chain->depth; i++)
    if (!strcmp(chain->real[i], real)) {
      free(real);
      free(text);
      nala_fail(err, NALA_E_FORMAT, "_base_ include cycle");
      return fail_chain(chain, display, err);
    }
  if (chain->depth == MAX_BASE_DEPTH) {
    free(real);
    free(text);
    nala_fail(err, NALA_E_FORMAT, "_base_ nested deeper than %d files", MAX_BASE_DEPTH);
    return fail_chain(chain, display, err);
  }
  cfg_source *source = calloc(1, sizeof *source);
  cJSON *acc = cJSON_CreateObject();
  nala_status st = NALA_OK;
  if (!source || !acc || !(source->path = strdup(display))) {
    st = nala_fail(err, NALA_E_NOMEM, "out of memory");
    goto done_early;
  }
  st = parse_text(text, text_len, &source->own, err);
  if (st != NALA_OK) {
    fail_chain(chain, display, err);
    goto done_early;
  }
  chain->display[chain->depth] = display;
  chain->real[chain->depth] = real;
  chain->depth++;
  cJSON *bases = cJSON_DetachItemFromObjectCaseSensitive(source->own, "_base_");
  if (bases && !cJSON_IsString(bases) && !cJSON_IsArray(bases))
    st = nala_fail(err, NALA_E_FORMAT, "_base_: expected string or list of strings, got %s", kind_name(bases));
  if (st != NALA_OK) {
    fail_here(chain, err);
  }
  int n_bases = !bases ? 0 : cJSON_IsString(bases) ? 1 : cJSON_GetArraySize(bases);
  if (st == NALA_OK && n_bases && !(source->bases = calloc((size_t)n_bases, sizeof *source->bases)))
    st = nala_fail(err, NALA_E_NOMEM, "out of memory");
  for (int i = 0; st == NALA_OK && i < n_bases; i++) {
    const cJSON *entry = cJSON_IsString(bases) ? bases : cJSON_GetArrayItem(bases, i);
    if (!cJSON_IsString(entry)) {
      st = nala_fail(err, NALA_E_FORMAT, "_base_[%d]: expected string, got %s", i, kind_name(entry));
      fail_here(chain, err);
      break;
    }
    char base_path[PATH_MAX];
    const char *slash = strrchr(display, '/');
    int dir_len = entry->valuestring[0] == '/' || !slash ? 0 : (int)(slash - display + 1);
    if (snprintf(base_path, sizeof base_path, "%.*s%s", dir_len, display, entry->valuestring) >=
        (int)sizeof base_path) {
      st = nala_fail(err, NALA_E_FORMAT, "_base_[%d]: path too long", i);
      fail_here(chain, err);
      break;
    }
    normalize_path(base_path);
    cJSON *base_merged = NULL;
    st = load_recursive(in, base_path, chain, &base_merged, &source->bases[i], err);
    if (st != NALA_OK)
      break; /* the message already names the chain */
    source->n_bases = i + 1;
    char path_buf[1024] = "";
    st = merge_into(acc, base_merged, path_buf, 0, sizeof path_buf, err);
    cJSON_Delete(base_merged);
    if (st != NALA_OK)
      fail_chain(chain, base_path, err);
  }
  cJSON_Delete(bases);
  if (st == NALA_OK) {
    cJSON *own_copy = cJSON_Duplicate(source->own, 1);
    char path_buf[1024] = "";
    st = own_copy ? merge_into(acc, own_copy, path_buf, 0, sizeof path_buf, err)
                  : nala_fail(err, NALA_E_NOMEM, "out of memory");
    cJSON_Delete(own_copy);
    if (st == NALA_OK) {
      path_buf[0] = '\0';
      st = strip_delete_keys(acc, path_buf, 0, sizeof path_buf, err);
    }
    if (st != NALA_OK) {
      fail_here(chain, err);
    }
  }
  chain->depth--;
done_early:
  free(real);
  free(text);
  if (st != NALA_OK) {
    cJSON_Delete(acc);
    cfg_source_free(source);
    return st;
  }
  *merged = acc;
  *out = source;
  return NALA_OK;
}

nala_status cfg_apply_override(cJSON *merged, const char *assignment, nala_err *err) {
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment)
    return nala_fail(err, NALA_E_ARG, "--cfg-options \"%s\": expected key.path=value", assignment);
  /* The value is JSON when it parses as JSON, else a plain string (model.backbone.attn=l). */
  cJSON *value = cJSON_Parse(eq + 1);
  if (!value)
    value = cJSON_CreateString(eq + 1);
  cJSON *overlay = cJSON_CreateObject(), *node = overlay;
  char key[256];
  const char *p = assignment;
  nala_status st = value && overlay ? NALA_OK : nala_fail(err, NALA_E_NOMEM, "out of memory");
  while (st == NALA_OK) {
    const char *dot = memchr(p, '.', (size_t)(eq - p));
    const char *end = dot ? dot : eq;
    if (end == p || end - p >= (long)sizeof key) {
      st = nala_fail(err, NALA_E_ARG, "--cfg-options \"%s\": empty or too long key", assignment);
      break;
    }
    snprintf(key, sizeof key, "%.*s", (int)(end - p), p);
    if (!dot) {
      cJSON_AddItemToObject(node, key, value);
      value = NULL;
      break;
    }
    node = cJSON_AddObjectToObject(node, key);
    if (!node)
      st = nala_fail(err, NALA_E_NOMEM, "out of memory");
    p = dot + 1;
  }
  if (st == NALA_OK) {
    char path_buf[1024] = "";
    st = merge_into(merged, overlay, path_buf, 0, sizeof path_buf, err);
    if (st == NALA_OK)
      st = strip_delete_keys(merged, path_buf, 0, sizeof path_buf, err);
    if (st != NALA_OK)
      nala_err_prefix(err, "--cfg-options \"%.*s\": ", (int)(eq - assignment), assignment);
  }
  cJSON_Delete(value);
  cJSON_Delete(overlay);
  return st;
}

const nala_config_resolver nala_config_files = {nala_config_read_file, NULL};

nala_status cfg_load_merged(const char *path, const char *text, size_t len, const nala_config_resolver *resolver,
                            cJSON **merged, cfg_source **source, nala_err *err) {
  if (!path || !merged || !source)
    return nala_fail(err, NALA_E_ARG, "config: NULL argument");
  load_chain chain;
  memset(&chain, 0, sizeof chain);
  load_input in = {text, len, resolver};
  return load_recursive(&in, path, &chain, merged, source, err);
}

nala_status nala_config_merge_file(const char *path, cJSON **out, nala_err *err) {
  cfg_source *source = NULL;
  NALA_CHECK(cfg_load_merged(path, NULL, 0, &nala_config_files, out, &source, err));
  cfg_source_free(source);
  return NALA_OK;
}

/* Does tree define the value at where? A list or scalar on the way answers yes: it replaced wholesale. */
static int defines(const cJSON *tree, const cfg_path *where) {
  const cJSON *node = tree;
  for (int i = 0; i < where->depth; i++) {
    if (!cJSON_IsObject(node))
      return 1;
    if (!where->key[i])
      return 1;
    node = cJSON_GetObjectItemCaseSensitive(node, where->key[i]);
    if (!node)
      return 0;
  }
  return 1;
}

const char *cfg_source_origin(const cfg_source *source, const cfg_path *where) {
  if (!source || !where)
    return NULL;
  if (where->depth > 0 && defines(source->own, where))
    return source->path;
  for (int i = source->n_bases - 1; i >= 0; i--) {
    const char *found = cfg_source_origin(source->bases[i], where);
    if (found)
      return found;
  }
  return NULL;
}
