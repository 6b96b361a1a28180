/* nala_config: load + merge (config_json.c), validate (config_schema.c against config_tables.c),
 * typed sections (config_sections.c). Every message starts with the file the user named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_internal.h"

struct nala_config {
  cJSON *merged;
  int has_model, has_dataset;
  nala_model_cfg model;
  nala_dataset_cfg dataset;
};

void nala_config_free(nala_config *cfg) {
  if (!cfg)
    return;
  cJSON_Delete(cfg->merged);
  cfg_dataset_release(&cfg->dataset);
  free(cfg);
}

/* Typed-section errors name their path in the message; find it to report the file that set it. */
static void path_from_message(const char *msg, char *buf, size_t size, cfg_path *where) {
  size_t n = strcspn(msg, ": [");
  snprintf(buf, size, "%.*s", (int)n, msg);
  where->depth = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ".", &save); tok && where->depth < CFG_MAX_PATH_DEPTH;
       tok = strtok_r(NULL, ".", &save)) {
    where->key[where->depth] = tok;
    where->index[where->depth++] = -1;
  }
}

/* Is prefix (an override's dotted key) the start of the JSON path where? */
static int override_covers(const char *assignment, const cfg_path *where) {
  const char *p = assignment, *eq = strchr(assignment, '=');
  for (int i = 0; i < where->depth && p < eq; i++) {
    if (!where->key[i])
      return 1; /* a list index under an overridden list */
    size_t len = strlen(where->key[i]);
    if ((size_t)(eq - p) < len || strncmp(p, where->key[i], len) || (p[len] != '.' && p + len != eq))
      return 0;
    p += len + (p + len != eq);
  }
  return p >= eq;
}

/* "<file>: <message>", plus " (set in <base>)" or " (set by --cfg-options)" when the offending
 * value did not come from the file the user named. */
static nala_status prefix_with_files(nala_err *err, const char *path, const cfg_source *source, const cfg_path *where,
                                     const char *const *overrides, int n_overrides) {
  const char *origin = NULL;
  for (int i = n_overrides - 1; where && i >= 0 && !origin; i--)
    if (where->depth && override_covers(overrides[i], where))
      origin = "--cfg-options";
  if (!origin && where)
    origin = cfg_source_origin(source, where);
  if (err && origin && strcmp(origin, path)) {
    size_t len = strnlen(err->msg, sizeof err->msg);
    snprintf(err->msg + len, sizeof err->msg - len, origin[0] == '-' ? " (set by %s)" : " (set in %s)", origin);
  }
  return nala_err_prefix(err, "%s: ", path);
}

nala_status nala_config_load(const char *path, nala_config **out, nala_err *err) {
  return nala_config_load_with(path, NULL, 0, out, err);
}

nala_status nala_config_load_with(const char *path, const char *const *overrides, int n_overrides,
                                  nala_config **out, nala_err *err) {
  return nala_config_parse(path, NULL, 0, &nala_config_files, overrides, n_overrides, out, err);
}

nala_status nala_config_parse(const char *name, const char *text, size_t len, const nala_config_resolver *resolver,
                              const char *const *overrides, int n_overrides, nala_config **out, nala_err *err) {
  const char *path = name;
  if (!path || !out || n_overrides < 0 || (n_overrides && !overrides))
    return nala_fail(err, NALA_E_ARG, "nala_config_load: NULL argument");
  *out = NULL;
  nala_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg)
    return nala_fail(err, NALA_E_NOMEM, "%s: out of memory", path);
  cfg_source *source = NULL;
  nala_status st = cfg_load_merged(path, text, len, resolver, &cfg->merged, &source, err);
  if (st != NALA_OK) {
    free(cfg);
    return st;
  }
  for (int i = 0; i < n_overrides && st == NALA_OK; i++)
    if ((st = cfg_apply_override(cfg->merged, overrides[i], err)) != NALA_OK)
      nala_err_prefix(err, "%s: ", path);
  if (st != NALA_OK)
    goto done;
  cfg_path where;
  memset(&where, 0, sizeof where);
  st = cfg_schema_validate_at(cfg->merged, &cfg_root_schema, "", &where, err);
  if (st != NALA_OK) {
    prefix_with_files(err, path, source, &where, overrides, n_overrides);
    goto done;
  }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(cfg->merged, "model");
  const cJSON *dataset = cJSON_GetObjectItemCaseSensitive(cfg->merged, "dataset");
  const cJSON *pipeline = cJSON_GetObjectItemCaseSensitive(cfg->merged, "test_pipeline");
  if (model)
    st = cfg_parse_model(model, pipeline, &cfg->model, err);
  if (st == NALA_OK && dataset)
    st = cfg_parse_dataset(dataset, &cfg->dataset, err);
  if (st != NALA_OK) {
    char buf[NALA_ERR_MSG_MAX];
    path_from_message(err ? err->msg : "", buf, sizeof buf, &where);
    prefix_with_files(err, path, source, &where, overrides, n_overrides);
    goto done;
  }
  cfg->has_model = model != NULL;
  cfg->has_dataset = dataset != NULL;
done:
  cfg_source_free(source);
  if (st != NALA_OK) {
    nala_config_free(cfg);
    return st;
  }
  *out = cfg;
  return NALA_OK;
}

const nala_model_cfg *nala_config_model(const nala_config *cfg) {
  return cfg && cfg->has_model ? &cfg->model : NULL;
}

const nala_dataset_cfg *nala_config_dataset(const nala_config *cfg) {
  return cfg && cfg->has_dataset ? &cfg->dataset : NULL;
}

const cJSON *nala_config_json(const nala_config *cfg) { return cfg ? cfg->merged : NULL; }

char *nala_config_to_json(const nala_config *cfg) { return cfg ? cfg_print_pretty(cfg->merged) : NULL; }
