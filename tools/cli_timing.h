/* Clocks, peak RSS and timed backbone runs for the commands that measure (demo, bench). */
#ifndef NALA_TOOLS_CLI_TIMING_H
#define NALA_TOOLS_CLI_TIMING_H

#include <stddef.h>
#include <stdint.h>

#include "nala/backbone.h"

/* Peak resident set size of this process in MB. */
double cli_peak_rss_mb(void);
/* Bytes the process has malloc'd and not freed (glibc mallinfo2: arenas + mmapped chunks), in MB; -1
 * where unavailable. Unlike the peak RSS it holds neither the library pages a run happened to fault in
 * nor the free chunks of malloc's per-thread arenas, so it compares across runs: a leak shows in it. */
double cli_heap_in_use_mb(void);

/* Monotonic clock in milliseconds. */
double cli_now_ms(void);

/* CPU time of the whole process (all threads) in milliseconds. */
double cli_cpu_ms(void);

/* Median of n values (sorts v in place); 0 for n == 0. */
double cli_median(double *v, size_t n);

/* Seeded synthetic normalised image, NCHW [1,3,h,w] (a smooth pattern plus noise); NULL on OOM. */
float *cli_synthetic_image(int h, int w, uint64_t seed);

/* Runs warmup untimed forwards then runs timed ones; median wall time in *median_ms and, when
 * min_cpu_ms is not NULL, the least process CPU time of one forward (all threads): on a shared
 * machine the wall clock counts the time other programs ran, the CPU time much less so, which
 * makes it the figure to compare two builds by at 1 thread. 0 on success. */
int cli_time_backbone(nala_backbone_ctx *ctx, const float *x, int warmup, int runs, double *median_ms,
                      double *min_cpu_ms);

/* Timed run of a model on a synthetic h x w image: new context, plan, warm-up, timed forwards.
 * On success *ctx_out holds the context (outputs of the last forward); the caller frees it.
 * Prints the error and returns 1 on failure. */
int cli_timed_run(const nala_backbone *m, int threads, int h, int w, int warmup, int runs,
                  nala_backbone_ctx **ctx_out, double *plan_ms, double *median_ms, double *min_cpu_ms);

#endif
