/* Shared between core/config_*.c only. */
#ifndef NALA_CORE_CONFIG_INTERNAL_H
#define NALA_CORE_CONFIG_INTERNAL_H

#include <cjson/cJSON.h>

#include "nala/config.h"
#include "core/config_schema.h"

#define CFG_MAX_PATH_DEPTH 32

/* A JSON path as segments: key != NULL for an object member, else index into a list. */
typedef struct cfg_path {
  const char *key[CFG_MAX_PATH_DEPTH];
  int index[CFG_MAX_PATH_DEPTH];
  int depth;
} cfg_path;

/* nala_schema_validate that also reports where it failed (where may be NULL). */
nala_status cfg_schema_validate_at(const cJSON *object, const nala_schema *schema, const char *path,
                                   cfg_path *where, nala_err *err);

/* One loaded file: its own JSON (without "_base_") and the files it includes, for provenance. */
typedef struct cfg_source {
  char *path;
  cJSON *own;
  struct cfg_source **bases;
  int n_bases;
} cfg_source;

/* Loads path (or, when text is non-NULL, the len bytes of text named path) with its _base_ files
 * read through resolver and merged in; *merged and *source are owned by the caller. */
nala_status cfg_load_merged(const char *path, const char *text, size_t len, const nala_config_resolver *resolver,
                            cJSON **merged, cfg_source **source, nala_err *err);
void cfg_source_free(cfg_source *source);

/* Merges one "key.path=value" into a merged tree like a last, highest-priority file would. */
nala_status cfg_apply_override(cJSON *merged, const char *assignment, nala_err *err);

/* The file whose value wins at where (the file itself before its bases, later bases first), or NULL. */
const char *cfg_source_origin(const cfg_source *source, const cfg_path *where);

/* Schema of the whole config file (core/config_tables.c). */
extern const nala_schema cfg_root_schema;

/* Typed sections from a validated merged tree (core/config_sections.c); messages carry the JSON path. */
nala_status cfg_parse_model(const cJSON *model, const cJSON *test_pipeline, nala_model_cfg *out, nala_err *err);
nala_status cfg_parse_dataset(const cJSON *dataset, nala_dataset_cfg *out, nala_err *err);
void cfg_dataset_release(nala_dataset_cfg *dataset);
/* model.backbone (a validated NaLaFormer section) as a typed config; messages say "model.backbone...". */
nala_status cfg_parse_backbone(const cJSON *json, nala_backbone_cfg *bb, nala_err *err);

/* Pretty JSON with 2-space indent, scalars-only lists on one line, key order kept (core/config_print.c). */
char *cfg_print_pretty(const cJSON *item);

#endif
