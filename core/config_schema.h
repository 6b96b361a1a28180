/* Table-driven validation of JSON config sections (core/config_schema.c). Internal: configs are
 * validated by nala_config_load; the tables are not part of the public API.
 *
 * A section is described by a nala_schema: one nala_schema_key row per allowed key (its JSON kinds,
 * range, choices, list length, nested schema, whether required). Unknown keys, wrong kinds and
 * out-of-range values are errors naming the JSON path, e.g.
 *   model.backbone.depths[2]: expected positive integer, got "6"
 *   model.backbone: unknown key "deths" (did you mean "depths"?)
 * A section whose keys depend on its "type" (mmdet-style {"type": "FPN", ...}) lists its types
 * instead: the "type" string picks the nala_schema to validate against.
 * Adding a config key = adding one row to a table: core/config_tables.c holds the file's tables,
 * and each model module (backbone, neck, head) holds its own section's table, listed for its slot
 * ("model.neck": {"type": "FPN", ...}) by the module registry (models/registry.c). */
#ifndef NALA_CORE_CONFIG_SCHEMA_H
#define NALA_CORE_CONFIG_SCHEMA_H

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

/* JSON kinds a value may have (bit set). NALA_SK_INT is a number with an integral value. */
enum {
  NALA_SK_NULL = 1,
  NALA_SK_BOOL = 2,
  NALA_SK_INT = 4,
  NALA_SK_NUMBER = 8,
  NALA_SK_STRING = 16,
  NALA_SK_ARRAY = 32,
  NALA_SK_OBJECT = 64
};

typedef struct nala_schema nala_schema;

typedef struct nala_schema_key {
  const char *key;
  unsigned kinds;             /* accepted kinds of the value */
  unsigned item_kinds;        /* accepted kinds of list items when kinds has NALA_SK_ARRAY */
  int has_min, has_max;       /* numeric bounds for numbers and numeric items */
  double min, max;
  int min_exclusive;          /* min is a strict bound ("positive number") */
  const char *const *choices; /* NULL-terminated allowed strings (value or items), or NULL */
  int min_items, max_items;   /* list length bounds; max_items 0 = unbounded */
  const nala_schema *object;  /* schema of object values / object items, or NULL = any object */
  int required;
} nala_schema_key;

typedef struct nala_schema_type {
  const char *type;           /* value of the section's "type" key */
  const nala_schema *schema;  /* keys allowed with that type ("type" itself is implied) */
} nala_schema_type;

struct nala_schema {
  const nala_schema_key *keys;
  int n_keys;
  const nala_schema_type *types; /* non-NULL: "type" is required and picks the key table */
  int n_types;
  /* Or the types by reference (n_types of them): how the module registry lists the types of a
   * model slot, each module type starting with its nala_schema_type. */
  const nala_schema_type *const *type_refs;
};

/* Row helpers, so a table reads as a list of keys. R = 1 when the key is required. */
#define NALA_SKEY_BOOL(k, R) {.key = (k), .kinds = NALA_SK_BOOL, .required = (R)}
#define NALA_SKEY_STRING(k, R) {.key = (k), .kinds = NALA_SK_STRING, .required = (R)}
#define NALA_SKEY_ENUM(k, choices_, R) {.key = (k), .kinds = NALA_SK_STRING, .choices = (choices_), .required = (R)}
#define NALA_SKEY_INT(k, lo, hi, R) \
  {.key = (k), .kinds = NALA_SK_INT, .has_min = 1, .min = (lo), .has_max = 1, .max = (hi), .required = (R)}
#define NALA_SKEY_POS_INT(k, R) {.key = (k), .kinds = NALA_SK_INT, .has_min = 1, .min = 1, .required = (R)}
#define NALA_SKEY_NUMBER(k, R) {.key = (k), .kinds = NALA_SK_NUMBER, .required = (R)}
#define NALA_SKEY_NUMBER_IN(k, lo, hi, R) \
  {.key = (k), .kinds = NALA_SK_NUMBER, .has_min = 1, .min = (lo), .has_max = 1, .max = (hi), .required = (R)}
#define NALA_SKEY_POS_NUMBER(k, R) \
  {.key = (k), .kinds = NALA_SK_NUMBER, .has_min = 1, .min = 0, .min_exclusive = 1, .required = (R)}
#define NALA_SKEY_OBJECT(k, schema_, R) {.key = (k), .kinds = NALA_SK_OBJECT, .object = (schema_), .required = (R)}
/* List of n_lo..n_hi items of the given kinds (no numeric bounds). */
#define NALA_SKEY_LIST(k, item_kinds_, n_lo, n_hi, R) \
  {.key = (k), .kinds = NALA_SK_ARRAY, .item_kinds = (item_kinds_), .min_items = (n_lo), .max_items = (n_hi), \
   .required = (R)}
#define NALA_SKEY_POS_INT_LIST(k, n_lo, n_hi, R) \
  {.key = (k), .kinds = NALA_SK_ARRAY, .item_kinds = NALA_SK_INT, .has_min = 1, .min = 1, .min_items = (n_lo), \
   .max_items = (n_hi), .required = (R)}
#define NALA_SCHEMA(keys_) {(keys_), (int)(sizeof(keys_) / sizeof((keys_)[0])), NULL, 0, NULL}
#define NALA_SCHEMA_TYPED(types_) {NULL, 0, (types_), (int)(sizeof(types_) / sizeof((types_)[0])), NULL}

/* Validates an object against schema; path ("model.backbone", "" for the root) prefixes messages.
 * Fails with NALA_E_FORMAT and a message "<path>: ..." naming the key or item at fault. */
nala_status nala_schema_validate(const struct cJSON *object, const nala_schema *schema, const char *path,
                                 nala_err *err);

/* Writes what a key row accepts, e.g. "positive integer" or "list of 4 numbers", into buf. */
void nala_schema_describe(const nala_schema_key *row, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
