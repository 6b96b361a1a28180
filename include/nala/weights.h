/* Strict weight binding for every model component (backbone, necks, heads).
 *
 * A binder reads from a safetensors file or from the seeded generator (nala/seeded_init.h).
 * Components call nala_weights_take for each PyTorch state_dict key they need, with the PyTorch
 * shape; problems (missing key, wrong shape, non-float dtype) are recorded, not returned one by
 * one, so that nala_weights_finish can report every problem by name in a single error:
 *
 *   nala_weights *w;
 *   NALA_CHECK(nala_weights_open("upernet_nalaformer_t.safetensors", &w, err));
 *   nala_weights_ignore_suffix(w, ".num_batches_tracked");
 *   int64_t shape[2] = {192, 64};
 *   nala_weights_take(w, "backbone.layers.0.blocks.0.attn.qkvg.weight", 2, shape, qkvg);
 *   ...
 *   nala_status st = nala_weights_finish(w, "backbone.", err); // missing/unexpected/shape/dtype
 *   nala_weights_close(w);
 *
 * A binder holds no global state; use one binder per thread (take/finish mutate it). */
#ifndef NALA_WEIGHTS_H
#define NALA_WEIGHTS_H

#include <stdint.h>

#include "nala/safetensors.h"
#include "nala/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nala_weights nala_weights;

/* Binder over a safetensors file (validated by nala_st_open). */
nala_status nala_weights_open(const char *path, nala_weights **out, nala_err *err);

/* Binder over a safetensors image in memory (nala_st_open_memory: not copied, must outlive the binder). */
nala_status nala_weights_open_memory(const void *data, size_t size, const char *name, nala_weights **out,
                                     nala_err *err);

/* Binder whose every key comes from the seeded generator (RoPE.angle keys: NALA.py's 1 / 10000^linspace buffer). */
nala_status nala_weights_seeded(uint64_t seed, nala_weights **out, nala_err *err);

/* Frees the binder (and closes its file); NULL is a no-op. */
void nala_weights_close(nala_weights *w);

/* Converts key to float32 into dst (may be NULL to only check) when present with exactly this
 * PyTorch shape and a float dtype; otherwise records the problem, zero-fills dst and returns
 * NALA_E_FORMAT (missing), NALA_E_SHAPE or NALA_E_UNSUPPORTED (dtype). Callers may ignore it. */
nala_status nala_weights_take(nala_weights *w, const char *key, int ndim, const int64_t *shape, float *dst);

/* Like take for keys that may be absent (e.g. RoPE.angle, verified when present): returns 1 when
 * filled, 0 when absent (not a problem) or when present but wrong (recorded as take does). */
int nala_weights_optional(nala_weights *w, const char *key, int ndim, const int64_t *shape, float *dst);

/* take with a printf-style key, e.g. ("backbone.layers.%d.blocks.%d.norm1.weight", s, b). */
nala_status nala_weights_takef(nala_weights *w, int ndim, const int64_t *shape, float *dst, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Whether key is in the source (always 1 for a seeded binder), and its shape (ndim <= 8; returns 0
 * when absent, and always for a seeded binder, which has no shapes). Neither marks the key as
 * used: they let a loader infer a config (e.g. depths) from a checkpoint. */
int nala_weights_has(const nala_weights *w, const char *key);
int nala_weights_shape(const nala_weights *w, const char *key, int *ndim, int64_t shape[NALA_ST_MAX_DIMS]);

/* Keys with this prefix (suffix) are never reported as unexpected ("auxiliary_head.",
 * ".num_batches_tracked"). Returns NALA_E_NOMEM/NALA_E_ARG on failure. */
nala_status nala_weights_ignore_prefix(nala_weights *w, const char *prefix);
nala_status nala_weights_ignore_suffix(nala_weights *w, const char *suffix);

/* One error listing, by name, every problem recorded since the last finish, plus every key under
 * scope_prefix (NULL or "" = all keys) never taken and not ignored; counts come first, lists are
 * capped at 50 per kind. Clears the recorded problems, so components sharing a binder may each
 * finish their own scope. NALA_OK when there is nothing to report. */
nala_status nala_weights_finish(nala_weights *w, const char *scope_prefix, nala_err *err);

/* Full text of the last finish's report (uncapped, one problem per line); "" when clean. */
const char *nala_weights_report(const nala_weights *w);

/* The underlying file, or NULL for a seeded binder. */
const nala_st_file *nala_weights_file(const nala_weights *w);

#ifdef __cplusplus
}
#endif

#endif
