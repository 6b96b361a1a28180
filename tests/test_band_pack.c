/* The NHWC <-> blocked band copies (core/nn/band_pack.c) against oneDNN's reorders between the same
 * layouts (nChw16c / nChw8c, channel slices of a wider NHWC map, zero pad columns, the summing
 * unpack), bit for bit, and the time of both on UPerHead's band (512 channels, 6 x 128), printed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/nn/band_pack.h"
#include "core/nn/dnnl_util.h"
#include "tests/support/suite.h"

typedef struct copy_case {
  int c, rows, w, wp, pad, blk, sum;
} copy_case;

static const copy_case cases[] = {
    {64, 3, 17, 17, 0, 16, 0}, {96, 5, 21, 24, 32, 16, 0}, {64, 4, 9, 12, 16, 8, 0},
    {80, 2, 13, 13, 48, 16, 1}, {64, 6, 11, 16, 8, 8, 1},   {512, 6, 128, 128, 0, 16, 0},
};

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void fill(float *v, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    v[i] = (float)((int)(seed >> 16) % 2001 - 1000) / 256.0f;
  }
}

/* oneDNN reorder from -> to on raw buffers (sum: to += from). */
static void reorder(dnnl_engine_t eng, dnnl_stream_t s, const dnnl_memory_desc_t *fmd, void *from,
                    const dnnl_memory_desc_t *tmd, void *to, int sum, int reps, double *ms) {
  dnnl_primitive_desc_t pd;
  nala_err err;
  ck_assert_int_eq(nala_reorder_pd(eng, fmd, tmd, sum, &pd, &err), NALA_OK);
  dnnl_primitive_t p;
  ck_assert_int_eq(dnnl_primitive_create(&p, pd), dnnl_success);
  dnnl_memory_t fm, tm;
  ck_assert_int_eq(dnnl_memory_create(&fm, fmd, eng, from), dnnl_success);
  ck_assert_int_eq(dnnl_memory_create(&tm, tmd, eng, to), dnnl_success);
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, fm}, {DNNL_ARG_TO, tm}};
  double t0 = cpu_ms();
  for (int r = 0; r < reps; r++)
    ck_assert_int_eq(dnnl_primitive_execute(p, s, 2, args), dnnl_success);
  dnnl_stream_wait(s);
  *ms = (cpu_ms() - t0) / reps;
  dnnl_memory_destroy(fm);
  dnnl_memory_destroy(tm);
  dnnl_primitive_destroy(p);
  dnnl_primitive_desc_destroy(pd);
}

START_TEST(copies_equal_onednn_reorders) {
  const copy_case *k = &cases[_i];
  int ld = k->c + k->pad, big = k->c >= 512, reps = big ? 200 : 1;
  size_t nhwc_n = (size_t)k->rows * k->w * ld, blk_n = (size_t)k->c * k->rows * k->wp;
  /* one workspace: NHWC map at 0, the blocked band after it */
  size_t blk_off = (nhwc_n * 4 + 63) / 64 * 64;
  char *ws = aligned_alloc(64, blk_off + blk_n * 4 + 64);
  float *want = aligned_alloc(64, (nhwc_n > blk_n ? nhwc_n : blk_n) * 4 + 64);
  ck_assert(ws && want);
  float *nhwc = (float *)ws, *blk = (float *)(ws + blk_off);
  fill(nhwc, nhwc_n, 11u + (unsigned)_i);
  dnnl_engine_t eng;
  dnnl_stream_t s;
  ck_assert_int_eq(dnnl_engine_create(&eng, dnnl_cpu, 0), dnnl_success);
  ck_assert_int_eq(dnnl_stream_create(&s, eng, dnnl_stream_default_flags), dnnl_success);
  /* the channel slice starts at pad / 2 */
  size_t slice = (size_t)(k->pad / 2) * 4;
  dnnl_memory_desc_t view, bmd, bcols;
  dnnl_dims_t dims = {1, k->c, k->rows, k->w}, strides = {(dnnl_dim_t)nhwc_n, 1, (dnnl_dim_t)k->w * ld, ld};
  dnnl_memory_desc_init_by_strides(&view, 4, dims, dnnl_f32, strides);
  dnnl_dims_t bdims = {1, k->c, k->rows, k->wp}, off0 = {0, 0, 0, 0};
  dnnl_memory_desc_init_by_tag(&bmd, 4, bdims, dnnl_f32, k->blk == 16 ? dnnl_nChw16c : dnnl_nChw8c);
  dnnl_memory_desc_init_submemory(&bcols, &bmd, dims, off0);
  nala_band_copy copy = {.nhwc = slice, .blocked = blk_off, .c = k->c, .rows = k->rows, .w = k->w, .wp = k->wp,
                         .ld = ld, .blk = k->blk, .sum = k->sum};
  double ms_dnnl, ms_ours;
  /* pack: oneDNN into want (pad columns zeroed first), ours into blk (pad columns hold garbage) */
  memset(want, 0, blk_n * 4);
  reorder(eng, s, &view, (char *)nhwc + slice, &bcols, want, 0, reps, &ms_dnnl);
  memset(blk, 0x7f, blk_n * 4);
  double t0 = cpu_ms();
  for (int r = 0; r < reps; r++)
    nala_band_pack(&copy, ws, 1);
  ms_ours = (cpu_ms() - t0) / reps;
  ck_assert_msg(!memcmp(want, blk, blk_n * 4), "pack c %d rows %d w %d wp %d block %d differs", k->c, k->rows, k->w,
                k->wp, k->blk);
  if (big)
    printf("pack   %d x %d x %d (block %d): oneDNN reorder %.3f ms, band copy %.3f ms (CPU time, 1 thread)\n", k->c,
           k->rows, k->w, k->blk, ms_dnnl, ms_ours);
  /* unpack (sum or not) of a fresh band into the NHWC map: oneDNN into want, ours into nhwc */
  fill(blk, blk_n, 77u + (unsigned)_i);
  memcpy(want, nhwc, nhwc_n * 4);
  reorder(eng, s, &bcols, blk, &view, (char *)want + slice, k->sum, 1, &ms_dnnl);
  nala_band_unpack(&copy, ws, 2);
  ck_assert_msg(!memcmp(want, nhwc, nhwc_n * 4), "unpack%s c %d rows %d w %d block %d differs", k->sum ? " (sum)" : "",
                k->c, k->rows, k->w, k->blk);
  if (big) {
    reorder(eng, s, &bcols, blk, &view, (char *)want + slice, 0, reps, &ms_dnnl);
    t0 = cpu_ms();
    for (int r = 0; r < reps; r++)
      nala_band_unpack(&copy, ws, 1);
    ms_ours = (cpu_ms() - t0) / reps;
    printf("unpack %d x %d x %d (block %d): oneDNN reorder %.3f ms, band copy %.3f ms (CPU time, 1 thread)\n", k->c,
           k->rows, k->w, k->blk, ms_dnnl, ms_ours);
  }
  printf("c %d rows %d w %d wp %d ld %d block %d%s: pack and unpack equal oneDNN's reorders\n", k->c, k->rows, k->w,
         k->wp, ld, k->blk, k->sum ? " sum" : "");
  dnnl_stream_destroy(s);
  dnnl_engine_destroy(eng);
  free(want);
  free(ws);
}
END_TEST

int main(void) {
  Suite *s = suite_create("band_pack");
  TCase *tc = tcase_create("band_pack");
  tcase_add_loop_test(tc, copies_equal_onednn_reorders, 0, (int)(sizeof cases / sizeof *cases));
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
