/* Model configs: the NaLaFormer backbone description, and JSON config files with mmdet/mmseg-style
 * `_base_` merging and table-driven validation (core/config_*.c).
 *
 *   nala_backbone_cfg bb;
 *   nala_err err;
 *   if (nala_backbone_cfg_preset("t", &bb, &err) != NALA_OK ||
 *       nala_backbone_cfg_set_attn(&bb, "l,l,v,v", &err) != NALA_OK) fprintf(stderr, "%s\n", err.msg);
 *
 *   nala_config *cfg;
 *   if (nala_config_load("configs/nalaformer_t_backbone.json", &cfg, &err) == NALA_OK) {
 *     const nala_backbone_cfg *b = &nala_config_model(cfg)->backbone; ...
 *     nala_config_free(cfg);
 *   }
 *
 * A nala_config is immutable after load and holds no global state: threads may share one, and
 * threads may load configs concurrently. (cJSON itself records the position of its last parse
 * error in a process-global; nala never reads it, but two threads failing to parse at the same
 * instant race on that write.) */
#ifndef NALA_CONFIG_H
#define NALA_CONFIG_H

#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NALA_BACKBONE_STAGES 4
/* attn[s] holds one char per block of stage s plus the NUL, so a stage has at most 63 blocks. */
#define NALA_BACKBONE_MAX_DEPTH 63
/* Widest FFN hidden layer accepted (int(mlp_ratio * embed_dim)); the official variants use <= 2560. */
#define NALA_BACKBONE_MAX_FFN (1 << 20)

/* NaLaFormer backbone hyper-parameters, named as in the official NaLaformer/NALA.py. */
typedef struct nala_backbone_cfg {
  char variant[8];                                   /* "xt","t","s","b","l", or "custom" */
  int embed_dims[NALA_BACKBONE_STAGES];
  int depths[NALA_BACKBONE_STAGES];                  /* blocks per stage */
  int num_heads[NALA_BACKBONE_STAGES];
  int ffn_dims[NALA_BACKBONE_STAGES];                /* int(mlp_ratio * embed_dim), as NALA.py */
  float mlp_ratios[NALA_BACKBONE_STAGES];
  int layerscales[NALA_BACKBONE_STAGES];             /* 0/1: gamma_1/gamma_2 present */
  float layer_init_values[NALA_BACKBONE_STAGES];
  char attn[NALA_BACKBONE_STAGES][NALA_BACKBONE_MAX_DEPTH + 1]; /* 'l' NaLa / 'v' softmax, per block */
  int out_indices[NALA_BACKBONE_STAGES], n_out;      /* stages whose outputs are returned */
  char weights[4096];                                /* checkpoint path, "" = none */
} nala_backbone_cfg;

/* Fills out with an official variant ("xt","t","s","b","l", any case), default attention
 * (stages 1-2 'l', stages 3-4 'v'), out_indices 0..3 and no weights. */
nala_status nala_backbone_cfg_preset(const char *variant, nala_backbone_cfg *out, nala_err *err);

/* Sets cfg->attn from a spec, using cfg->depths: "l,l,v,v" (one flag per stage), "ll,ll,vvvvvv,vv"
 * (per block, per stage), "llvv" (4 chars: per stage), "llllvvvvvvvv" (sum(depths) chars: per block)
 * or "l" (every block). cfg is unchanged on error. */
nala_status nala_backbone_cfg_set_attn(nala_backbone_cfg *cfg, const char *spec, nala_err *err);

/* Fills cfg->attn with the official default for cfg->depths: stages 1-2 'l', stages 3-4 'v'. */
void nala_backbone_cfg_default_attn(nala_backbone_cfg *cfg);

/* Sets ffn_dims[s] = int(mlp_ratios[s] * embed_dims[s]) (the truncation NALA.py uses); 0 when that is
 * below 1, above NALA_BACKBONE_MAX_FFN or NaN, which nala_backbone_cfg_validate then reports. */
void nala_backbone_cfg_derive_ffn(nala_backbone_cfg *cfg);

/* Checks every field: positive dims, embed_dim % heads == 0, head_dim % 4 == 0 (RoPE), 1 <= depth
 * <= 63, 1 <= mlp_ratio * embed_dim <= NALA_BACKBONE_MAX_FFN, attn flags 'l'/'v' with one per block, out_indices unique in 0..3. Names the field at fault. */
nala_status nala_backbone_cfg_validate(const nala_backbone_cfg *cfg, nala_err *err);

/* ---- JSON config files ----
 * mmdet/mmseg-style: "_base_" (a path or list of paths, relative to the including file) are merged
 * first, in order, then the file's own keys; objects merge key by key, later values win, lists and
 * scalars replace; {"_delete_": true} in an object replaces the base object instead of merging.
 * Unknown keys, wrong types and out-of-range values are errors naming the file and the JSON path.
 * Relative data paths (ann_file, img_dir, seg_map_dir) are joined to data_root, as mmdet/mmseg do;
 * data_root and weights are used as written (relative to the working directory). */

/* Image normalisation and test-time resize: model.data_preprocessor + the Resize step of test_pipeline. */
typedef struct nala_preprocess_section {
  float mean[3], std[3];  /* per channel, in the channel order after bgr_to_rgb */
  int bgr_to_rgb;
  int pad_size_divisor;   /* pad bottom/right to a multiple of this; 1 = none */
  int pad_size[2];        /* mmseg's data_preprocessor "size" (h, w): padding when training only, so
                             the test pipeline (nala_preprocess_from_config) ignores it; 0 = none */
  float pad_val;
  int seg_pad_val;
  int has_resize;         /* test_pipeline has a Resize step */
  int scale[2];           /* its scale as mmcv reads it: (w, h), or (long, short) edges with keep_ratio */
  int keep_ratio;
} nala_preprocess_section;

/* model.test_cfg for segmentors: "whole" image or "slide" windows (mmseg). Sizes are (h, w). */
typedef struct nala_test_cfg {
  char mode[8];
  int crop_size[2];
  int stride[2];
} nala_test_cfg;

typedef struct nala_model_cfg {
  char type[32];                      /* "Backbone", "EncoderDecoder", "MaskRCNN", "RetinaNet" */
  nala_backbone_cfg backbone;
  nala_preprocess_section preprocess;
  nala_test_cfg test_cfg;
} nala_model_cfg;

typedef enum nala_dataset_type { NALA_DATASET_COCO, NALA_DATASET_ADE20K, NALA_DATASET_CITYSCAPES } nala_dataset_type;

/* The "dataset" section, with per-type defaults filled and relative paths joined to data_root. */
typedef struct nala_dataset_cfg {
  nala_dataset_type type;
  char type_name[32];       /* "CocoDataset", "ADE20KDataset", "CityscapesDataset" */
  char data_root[4096];
  char ann_file[4096];      /* COCO instances JSON */
  char img_dir[4096];
  char seg_map_dir[4096];   /* ADE20K / Cityscapes annotations */
  int reduce_zero_label;
  char **classes;           /* class names from the config, or NULL (use the dataset's own) */
  int n_classes;
} nala_dataset_cfg;

/* Fills out with a dataset type's official layout under data_root (ADE20K: images/validation +
 * annotations/validation, reduce_zero_label; Cityscapes: leftImg8bit/val + gtFine/val; COCO:
 * val2017/ + annotations/instances_val2017.json), no class list. */
nala_status nala_dataset_cfg_init(nala_dataset_type type, const char *data_root, nala_dataset_cfg *out,
                                  nala_err *err);

/* A loaded, merged and validated config file; immutable, may be shared between threads. */
typedef struct nala_config nala_config;
struct cJSON;

/* Loads path and its _base_ files, validates everything and fills the typed sections. */
nala_status nala_config_load(const char *path, nala_config **out, nala_err *err);

/* nala_config_load plus mmengine-style --cfg-options: each "key.path=value" is merged last (value
 * parsed as JSON, else taken as a string: model.backbone.attn=l, model.backbone.out_indices=[3]),
 * then the whole config is validated. Errors on an overridden value say "set by --cfg-options". */
nala_status nala_config_load_with(const char *path, const char *const *overrides, int n_overrides,
                                  nala_config **out, nala_err *err);

/* Reads the config file called name (the top file, or a _base_ entry joined to the including file's
 * directory and lexically normalised) into *text (malloc'd, NUL at (*text)[*len]) and sets *id
 * (malloc'd) to a name that is equal exactly when the file is the same (include-cycle detection).
 * Both are freed by the loader. Errors go to err ("cannot open: ..."); the loader adds the chain. */
typedef nala_status (*nala_config_read_fn)(void *user, const char *name, char **text, size_t *len, char **id,
                                           nala_err *err);
typedef struct nala_config_resolver {
  nala_config_read_fn read;
  void *user;
} nala_config_resolver;

/* The reader nala_config_load uses: files on disk, id = realpath; user is unused. */
nala_status nala_config_read_file(void *user, const char *name, char **text, size_t *len, char **id, nala_err *err);
extern const nala_config_resolver nala_config_files; /* {nala_config_read_file, NULL} */

/* nala_config_load_with on a config held in memory: text (len bytes, no NUL needed) is the file called
 * name (used in messages and to resolve relative _base_ paths); _base_ files are read through
 * resolver (NULL: any _base_ is an error). nala_config_load_with is this with nala_config_files. */
nala_status nala_config_parse(const char *name, const char *text, size_t len, const nala_config_resolver *resolver,
                              const char *const *overrides, int n_overrides, nala_config **out, nala_err *err);

/* Frees a config from nala_config_load; NULL is fine. */
void nala_config_free(nala_config *cfg);

/* The typed model section, or NULL when the file has no "model" (e.g. a dataset base file). */
const nala_model_cfg *nala_config_model(const nala_config *cfg);

/* The typed dataset section, or NULL when the file has no "dataset". */
const nala_dataset_cfg *nala_config_dataset(const nala_config *cfg);

/* The merged, validated JSON tree (sections without a typed struct are read from here). */
const struct cJSON *nala_config_json(const nala_config *cfg);

/* Pretty JSON of the merged config, keys in merge order (bases first); free() it. NULL if out of memory. */
char *nala_config_to_json(const nala_config *cfg);

/* Merges path with its _base_ files without validating; *out is freed with cJSON_Delete. */
nala_status nala_config_merge_file(const char *path, struct cJSON **out, nala_err *err);

#ifdef __cplusplus
}
#endif

#endif
