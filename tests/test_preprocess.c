/* mmdet/mmseg test preprocessing against cv2 + numpy references (tools/fixtures/make_preprocess_fixtures.py).
 * Fixtures: tests/fixtures/preprocess (~250 KB) and tests/fixtures/images. Every case checks meta exactly,
 * the resized uint8 image exactly (FNV-1a hash of all bytes, plus full arrays for the small cases), and
 * every output float against the reference's float32 normalisation table (<= 1e-6, in practice 0). */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nala/config.h"
#include "nala/preprocess.h"
#include "nala/seg_test.h"
#include "tests/support/compare.h"
#include "tests/support/suite.h"

#define PRE(name) NALA_FIXTURES "/preprocess/" name

typedef struct pp_case {
  char name[64], image[64], preset[32];
  int scale0, scale1, keep_ratio, interp, to_rgb, pad_divisor, pad_h, pad_w, layout, full;
  double pad_value;
  nala_preprocess_meta meta;
  unsigned long long resized_hash;
  double sums[3];
} pp_case;

#define MAX_CASES 16
static pp_case cases[MAX_CASES];
static int n_cases;
static float ref_table[3][256];

/* Reads exactly n bytes of a fixture. */
static void read_exact(const char *path, void *buf, size_t n) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  ck_assert_msg(fread(buf, 1, n, f) == n, "%s: short read", path);
  ck_assert_msg(fgetc(f) == EOF, "%s: longer than %zu bytes", path, n);
  fclose(f);
}

static unsigned long long fnv1a64(unsigned long long h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001B3ULL;
  return h;
}
#define FNV_SEED 0xCBF29CE484222325ULL

static void load_cases(void) {
  if (n_cases)
    return;
  FILE *f = fopen(PRE("cases.txt"), "r");
  ck_assert(f);
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    pp_case *c = &cases[n_cases];
    if (!strncmp(line, "case ", 5)) {
      ck_assert_int_lt(n_cases, MAX_CASES);
      ck_assert_int_eq(sscanf(line, "case %63s %63s %31s %d %d %d %d %d %d %d %d %lf %d %d", c->name, c->image,
                              c->preset, &c->scale0, &c->scale1, &c->keep_ratio, &c->interp, &c->to_rgb,
                              &c->pad_divisor, &c->pad_h, &c->pad_w, &c->pad_value, &c->layout, &c->full),
                       14);
    } else if (!strncmp(line, "meta ", 5)) {
      nala_preprocess_meta *m = &c->meta;
      ck_assert_int_eq(sscanf(line, "meta %d %d %d %d %d %d %lf %lf", &m->ori_h, &m->ori_w, &m->img_h, &m->img_w,
                              &m->pad_h, &m->pad_w, &m->w_scale, &m->h_scale),
                       8);
    } else if (!strncmp(line, "check ", 6)) {
      ck_assert_int_eq(sscanf(line, "check %llx %lf %lf %lf", &c->resized_hash, &c->sums[0], &c->sums[1], &c->sums[2]),
                       4);
      n_cases++;
    }
  }
  fclose(f);
  ck_assert_int_ge(n_cases, 10);
  read_exact(PRE("imagenet_table_rgb.f32"), ref_table, sizeof ref_table);
}

static nala_preprocess_cfg cfg_of(const pp_case *c) {
  nala_preprocess_cfg cfg;
  if (!strcmp(c->preset, "custom")) {
    cfg = nala_preprocess_mmdet_coco(); /* for mean/std only; everything else comes from the case */
  } else {
    if (!strcmp(c->preset, "mmdet_coco"))
      cfg = nala_preprocess_mmdet_coco();
    else if (!strcmp(c->preset, "mmseg_ade20k"))
      cfg = nala_preprocess_mmseg_ade20k();
    else
      cfg = nala_preprocess_mmseg_cityscapes();
    /* The preset itself must say what the reference used. */
    ck_assert_int_eq(cfg.scale[0], c->scale0);
    ck_assert_int_eq(cfg.scale[1], c->scale1);
    ck_assert_int_eq(cfg.keep_ratio, c->keep_ratio);
    ck_assert_int_eq(cfg.interp, c->interp);
    ck_assert_int_eq(cfg.to_rgb, c->to_rgb);
    ck_assert_int_eq(cfg.pad_divisor, c->pad_divisor);
    ck_assert_int_eq(cfg.pad_h, 0);
    ck_assert_int_eq(cfg.pad_w, 0);
    ck_assert(cfg.pad_value == 0.0f);
  }
  cfg.scale[0] = c->scale0;
  cfg.scale[1] = c->scale1;
  cfg.keep_ratio = c->keep_ratio;
  cfg.interp = (nala_interp)c->interp;
  cfg.to_rgb = c->to_rgb;
  cfg.pad_divisor = c->pad_divisor;
  cfg.pad_h = c->pad_h;
  cfg.pad_w = c->pad_w;
  cfg.pad_value = (float)c->pad_value;
  cfg.layout = (nala_layout)c->layout;
  return cfg;
}

static void assert_meta_eq(const nala_preprocess_meta *got, const nala_preprocess_meta *want, const char *name) {
  ck_assert_msg(got->ori_h == want->ori_h && got->ori_w == want->ori_w && got->img_h == want->img_h &&
                    got->img_w == want->img_w && got->pad_h == want->pad_h && got->pad_w == want->pad_w,
                "%s: meta ori %dx%d img %dx%d pad %dx%d, want ori %dx%d img %dx%d pad %dx%d", name, got->ori_h,
                got->ori_w, got->img_h, got->img_w, got->pad_h, got->pad_w, want->ori_h, want->ori_w, want->img_h,
                want->img_w, want->pad_h, want->pad_w);
  ck_assert_msg(got->w_scale == want->w_scale && got->h_scale == want->h_scale,
                "%s: scales %.17g %.17g want %.17g %.17g", name, got->w_scale, got->h_scale, want->w_scale, want->h_scale);
}

/* Output channel ch at (y, x), whatever the layout. */
static float out_at(const float *out, const nala_preprocess_meta *m, int layout, int ch, int y, int x) {
  return layout == NALA_NCHW ? out[((size_t)ch * m->pad_h + y) * m->pad_w + x]
                             : out[((size_t)y * m->pad_w + x) * 3 + ch];
}

/* Checks every output value against the reference table applied to the resized bytes (BGR, dense). */
static void check_against_table(const pp_case *c, const float *out, const uint8_t *resized) {
  const nala_preprocess_meta *m = &c->meta;
  size_t bad = 0;
  double max_err = 0, sums[3] = {0, 0, 0};
  for (int y = 0; y < m->pad_h; y++)
    for (int x = 0; x < m->pad_w; x++)
      for (int ch = 0; ch < 3; ch++) {
        float got = out_at(out, m, c->layout, ch, y, x), want = (float)c->pad_value;
        if (y < m->img_h && x < m->img_w) {
          int src_ch = c->to_rgb ? 2 - ch : ch;
          want = ref_table[ch][resized[((size_t)y * m->img_w + x) * 3 + src_ch]];
        }
        double e = fabs((double)got - want);
        max_err = e > max_err ? e : max_err;
        bad += e > 1e-6;
        sums[ch] += got;
      }
  printf("%s: %dx%d -> %dx%d, padded %dx%d, max |err| vs reference table = %g\n", c->name, m->ori_h, m->ori_w,
         m->img_h, m->img_w, m->pad_h, m->pad_w, max_err);
  ck_assert_msg(bad == 0, "%s: %zu values off by > 1e-6", c->name, bad);
  for (int ch = 0; ch < 3; ch++)
    ck_assert_msg(fabs(sums[ch] - c->sums[ch]) <= 1e-9 * (1 + fabs(c->sums[ch])), "%s: channel %d sum %.17g want %.17g",
                  c->name, ch, sums[ch], c->sums[ch]);
}

/* Runs one case into caller buffers with canaries; returns the output (caller frees). */
static float *run_case(const pp_case *c, const nala_image *img, const nala_preprocess_cfg *cfg, uint8_t **scratch_out,
                       size_t *n_out) {
  nala_err err;
  nala_preprocess_sizes sz;
  ck_assert_int_eq(nala_preprocess_out_size(cfg, img->h, img->w, &sz, &err), NALA_OK);
  assert_meta_eq(&sz.meta, &c->meta, c->name);
  ck_assert_uint_eq(sz.out_floats, (size_t)3 * c->meta.pad_h * c->meta.pad_w);
  float *out = malloc((sz.out_floats + 16) * sizeof *out);
  uint8_t *scratch = malloc(sz.scratch_bytes + 16);
  for (int i = 0; i < 16; i++)
    out[sz.out_floats + i] = 12345.0f, scratch[sz.scratch_bytes + i] = 0x5A;
  nala_preprocess_meta meta;
  nala_status st = nala_preprocess_into(cfg, img, out, sz.out_floats, sz.scratch_bytes ? scratch : NULL,
                                        sz.scratch_bytes, &meta, &err);
  ck_assert_msg(st == NALA_OK, "%s: %s", c->name, err.msg);
  assert_meta_eq(&meta, &c->meta, c->name);
  for (int i = 0; i < 16; i++) {
    ck_assert(out[sz.out_floats + i] == 12345.0f);
    ck_assert_int_eq(scratch[sz.scratch_bytes + i], 0x5A);
  }
  *scratch_out = scratch;
  *n_out = sz.out_floats;
  return out;
}

START_TEST(pipelines_match_cv2_reference) {
  load_cases();
  nala_err err;
  for (int i = 0; i < n_cases; i++) {
    const pp_case *c = &cases[i];
    char path[512];
    snprintf(path, sizeof path, NALA_FIXTURES "/images/%s", c->image);
    nala_image img;
    ck_assert_int_eq(nala_image_read(path, NALA_BGR, 0, &img, &err), NALA_OK);
    nala_preprocess_cfg cfg = cfg_of(c);
    uint8_t *scratch;
    size_t n_out;
    float *out = run_case(c, &img, &cfg, &scratch, &n_out);

    /* The resized image is the scratch buffer, or the input itself when no resize was needed. */
    int resized_here = c->meta.img_h != c->meta.ori_h || c->meta.img_w != c->meta.ori_w;
    const uint8_t *resized = resized_here ? scratch : img.data;
    size_t resized_bytes = (size_t)3 * c->meta.img_h * c->meta.img_w;
    unsigned long long hash = fnv1a64(FNV_SEED, resized, resized_bytes);
    ck_assert_msg(hash == c->resized_hash, "%s: resized uint8 hash %016llx want %016llx", c->name, hash,
                  c->resized_hash);
    if (c->full) {
      uint8_t *want_resized = malloc(resized_bytes);
      float *want_out = malloc(n_out * sizeof *want_out);
      snprintf(path, sizeof path, NALA_FIXTURES "/preprocess/%.64s.resized.u8", c->name);
      read_exact(path, want_resized, resized_bytes);
      snprintf(path, sizeof path, NALA_FIXTURES "/preprocess/%.64s.out.f32", c->name);
      read_exact(path, want_out, n_out * sizeof *want_out);
      size_t diff = 0;
      for (size_t k = 0; k < resized_bytes; k++)
        diff += resized[k] != want_resized[k];
      ck_assert_msg(diff == 0, "%s: %zu resized bytes differ from cv2.resize", c->name, diff);
      nala_cmp cmp = nala_compare_f32(c->name, out, want_out, n_out, 1e-6, 0);
      ck_assert(cmp.max_abs <= 1e-6 && cmp.n_nonfinite == 0);
      free(want_resized);
      free(want_out);
    }
    check_against_table(c, out, resized);

    /* The same pixels as a borrowed RGB camera frame with padded rows give the same tensor. */
    size_t stride = (size_t)img.w * 3 + 7;
    uint8_t *frame_mem = malloc(stride * img.h);
    memset(frame_mem, 0xEE, stride * img.h);
    nala_image frame = {.h = img.h, .w = img.w, .c = 3, .stride = stride, .data = frame_mem, .order = NALA_RGB};
    ck_assert_int_eq(nala_image_convert(&img, &frame, &err), NALA_OK);
    uint8_t *scratch2;
    size_t n_out2;
    float *out2 = run_case(c, &frame, &cfg, &scratch2, &n_out2);
    ck_assert_msg(memcmp(out, out2, n_out * sizeof *out) == 0, "%s: borrowed RGB frame differs", c->name);
    free(out2);
    free(scratch2);
    free(frame_mem);
    free(out);
    free(scratch);
    nala_image_free(&img);
  }
}
END_TEST

START_TEST(allocating_variant_matches) {
  load_cases();
  nala_err err;
  const pp_case *c = &cases[0];
  nala_image img;
  ck_assert_int_eq(nala_image_read(NALA_FIXTURES "/images/color_37x53.png", NALA_BGR, 0, &img, &err), NALA_OK);
  nala_preprocess_cfg cfg = cfg_of(c);
  nala_preprocessed t;
  ck_assert_int_eq(nala_preprocess(&cfg, &img, &t, &err), NALA_OK);
  ck_assert_int_eq(t.n, 1);
  ck_assert_int_eq(t.c, 3);
  ck_assert_int_eq(t.h, c->meta.pad_h);
  ck_assert_int_eq(t.w, c->meta.pad_w);
  ck_assert_int_eq(t.layout, NALA_NCHW);
  assert_meta_eq(&t.meta, &c->meta, c->name);
  size_t n = (size_t)3 * t.h * t.w;
  float *want = malloc(n * sizeof *want);
  read_exact(PRE("small_up_pad8.out.f32"), want, n * sizeof *want);
  nala_cmp cmp = nala_compare_f32("allocating small_up_pad8", t.data, want, n, 1e-6, 0);
  ck_assert(cmp.max_abs <= 1e-6);
  free(want);
  nala_preprocessed_free(&t);
  ck_assert_ptr_null(t.data);
  nala_image_free(&img);
}
END_TEST

typedef struct thread_job {
  const pp_case *c;
  float *out;
  size_t n;
} thread_job;

static void *thread_main(void *arg) {
  thread_job *job = arg;
  nala_err err;
  char path[512];
  snprintf(path, sizeof path, NALA_FIXTURES "/images/%s", job->c->image);
  nala_image img;
  if (nala_image_read(path, NALA_BGR, 0, &img, &err) != NALA_OK)
    return NULL;
  nala_preprocess_cfg cfg = cfg_of(job->c);
  nala_preprocessed t;
  for (int rep = 0; rep < 3; rep++) {
    if (nala_preprocess(&cfg, &img, &t, &err) != NALA_OK)
      break;
    free(job->out); /* the previous repetition's tensor; this one's data is taken over from t */
    job->out = t.data;
    job->n = (size_t)3 * t.h * t.w;
  }
  nala_image_free(&img);
  return NULL;
}

START_TEST(two_threads_independent) {
  load_cases();
  thread_job jobs[2] = {{&cases[0], NULL, 0}, {&cases[2], NULL, 0}};
  pthread_t tid[2];
  for (int k = 0; k < 2; k++)
    ck_assert_int_eq(pthread_create(&tid[k], NULL, thread_main, &jobs[k]), 0);
  for (int k = 0; k < 2; k++)
    ck_assert_int_eq(pthread_join(tid[k], NULL), 0);
  static const char *files[2] = {PRE("small_up_pad8.out.f32"), PRE("big_down_nhwc.out.f32")};
  for (int k = 0; k < 2; k++) {
    ck_assert_ptr_nonnull(jobs[k].out);
    float *want = malloc(jobs[k].n * sizeof *want);
    read_exact(files[k], want, jobs[k].n * sizeof *want);
    ck_assert(memcmp(want, jobs[k].out, jobs[k].n * sizeof *want) == 0);
    free(want);
    free(jobs[k].out);
  }
}
END_TEST

START_TEST(bad_inputs_and_configs) {
  nala_err err;
  nala_image img;
  ck_assert_int_eq(nala_image_read(NALA_FIXTURES "/images/color_37x53.png", NALA_BGR, 0, &img, &err), NALA_OK);
  nala_preprocess_cfg cfg = nala_preprocess_mmdet_coco();
  nala_preprocess_sizes sz;
  ck_assert_int_eq(nala_preprocess_out_size(&cfg, 37, 53, &sz, &err), NALA_OK);
  float *out = malloc(sz.out_floats * sizeof *out);
  uint8_t *scratch = malloc(sz.scratch_bytes);
  ck_assert_int_eq(nala_preprocess_into(&cfg, &img, out, sz.out_floats - 1, scratch, sz.scratch_bytes, NULL, &err),
                   NALA_E_NOMEM);
  ck_assert_ptr_nonnull(strstr(err.msg, "output holds"));
  ck_assert_int_eq(nala_preprocess_into(&cfg, &img, out, sz.out_floats, scratch, sz.scratch_bytes - 1, NULL, &err),
                   NALA_E_NOMEM);
  ck_assert_ptr_nonnull(strstr(err.msg, "scratch"));
  ck_assert_int_eq(nala_preprocess_into(&cfg, &img, out, sz.out_floats, NULL, sz.scratch_bytes, NULL, &err),
                   NALA_E_NOMEM);
  nala_image gray = {.h = 37, .w = 53, .c = 1, .stride = 53, .data = img.data, .order = NALA_GRAY};
  ck_assert_int_eq(nala_preprocess_into(&cfg, &gray, out, sz.out_floats, scratch, sz.scratch_bytes, NULL, &err),
                   NALA_E_SHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "3 channels"));
  nala_image empty = img;
  empty.h = 0;
  ck_assert_int_eq(nala_preprocess_into(&cfg, &empty, out, sz.out_floats, scratch, sz.scratch_bytes, NULL, &err),
                   NALA_E_SHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "zero-sized"));
  nala_image narrow = img;
  narrow.stride = 10;
  ck_assert_int_eq(nala_preprocess_into(&cfg, &narrow, out, sz.out_floats, scratch, sz.scratch_bytes, NULL, &err),
                   NALA_E_ARG);

  nala_preprocess_cfg bad = cfg;
  bad.std[1] = 0;
  ck_assert_int_eq(nala_preprocess_validate(&bad, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "std[1]"));
  bad = cfg;
  bad.pad_h = 512;
  ck_assert_int_eq(nala_preprocess_validate(&bad, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "exclusive"));
  bad.pad_divisor = 1; /* the config's "no divisor" spelling combines with a fixed size */
  ck_assert_int_eq(nala_preprocess_out_size(&bad, 37, 53, &sz, &err), NALA_OK);
  ck_assert_int_eq(sz.meta.pad_h, 800);
  ck_assert_int_eq(sz.meta.pad_w, 1146);
  bad = cfg;
  bad.scale[1] = 0;
  ck_assert_int_eq(nala_preprocess_out_size(&bad, 37, 53, &sz, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "scale"));
  bad = cfg;
  bad.layout = (nala_layout)5;
  ck_assert_int_eq(nala_preprocess_validate(&bad, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "layout"));
  /* A 1-pixel-wide strip would round to a 0-wide image: refused, not a zero-sized tensor. */
  ck_assert_int_eq(nala_preprocess_out_size(&cfg, 100000, 1, &sz, &err), NALA_E_SHAPE);
  /* The message gives the size after mmcv's truncation: 1x5000 scales by 1333/5000 to int(0.77) x
   * int(1333.5) = 0x1333 (it printed the rounded-up "1x1334", a size that would have been usable). */
  ck_assert_int_eq(nala_preprocess_out_size(&cfg, 1, 5000, &sz, &err), NALA_E_SHAPE);
  ck_assert_msg(strstr(err.msg, "1x5000 (HxW) resizes to an unusable 0x1333"), "%s", err.msg);
  nala_preprocessed t;
  ck_assert_int_eq(nala_preprocess(&cfg, &gray, &t, &err), NALA_E_SHAPE);
  ck_assert_ptr_null(t.data);
  free(out);
  free(scratch);
  nala_image_free(&img);
}
END_TEST

START_TEST(config_sections_map_to_pipelines) {
  nala_err err;
  nala_config *cfg;
  ck_assert_msg(nala_config_load(NALA_SOURCE_DIR "/configs/nalaformer_xt_all-linear_backbone_ade20k.json", &cfg,
                                 &err) == NALA_OK, "%s", err.msg);
  const nala_model_cfg *model = nala_config_model(cfg);
  nala_preprocess_cfg got, want = nala_preprocess_mmseg_ade20k();
  ck_assert_int_eq(nala_preprocess_from_config(&model->preprocess, NALA_NCHW, &got, &err), NALA_OK);
  ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "ADE20K config differs from the mmseg_ade20k preset");
  nala_seg_test_cfg seg;
  ck_assert_int_eq(nala_seg_test_from_config(&model->test_cfg, &seg, &err), NALA_OK);
  ck_assert_int_eq(seg.mode, NALA_SEG_WHOLE);
  nala_config_free(cfg);

  /* An mmdet-style section: divisor 32 pads; size (training-only in mmseg) does not; no Resize step. */
  nala_preprocess_section sec;
  memset(&sec, 0, sizeof sec);
  for (int c = 0; c < 3; c++)
    sec.mean[c] = 100.0f + c, sec.std[c] = 50.0f + c;
  sec.bgr_to_rgb = 1;
  sec.pad_size_divisor = 32;
  sec.pad_size[0] = sec.pad_size[1] = 512;
  ck_assert_int_eq(nala_preprocess_from_config(&sec, NALA_NHWC, &got, &err), NALA_OK);
  ck_assert_int_eq(got.no_resize, 1);
  ck_assert_int_eq(got.layout, NALA_NHWC);
  nala_preprocess_sizes sz;
  ck_assert_int_eq(nala_preprocess_out_size(&got, 37, 53, &sz, &err), NALA_OK);
  ck_assert(sz.meta.img_h == 37 && sz.meta.img_w == 53 && sz.meta.pad_h == 64 && sz.meta.pad_w == 64);
  ck_assert_uint_eq(sz.scratch_bytes, 0);
  sec.std[2] = 0;
  ck_assert_int_eq(nala_preprocess_from_config(&sec, NALA_NCHW, &got, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "std[2]"));

  nala_test_cfg tc = {"slide", {512, 1024}, {341, 683}};
  ck_assert_int_eq(nala_seg_test_from_config(&tc, &seg, &err), NALA_OK);
  ck_assert(seg.mode == NALA_SEG_SLIDE && seg.crop_h == 512 && seg.crop_w == 1024 && seg.stride_h == 341 &&
            seg.stride_w == 683);
  nala_test_cfg bad_mode = {"tiles", {0, 0}, {0, 0}}, bad_slide = {"slide", {512, 512}, {0, 0}};
  ck_assert_int_eq(nala_seg_test_from_config(&bad_mode, &seg, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "tiles"));
  ck_assert_int_eq(nala_seg_test_from_config(&bad_slide, &seg, &err), NALA_E_ARG);
}
END_TEST

START_TEST(slide_windows_match_mmseg) {
  FILE *f = fopen(PRE("cases.txt"), "r");
  ck_assert(f);
  char line[4096];
  int n_slides = 0;
  nala_err err;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "slide ", 6))
      continue;
    int h, w, used;
    size_t want_n;
    nala_seg_test_cfg cfg = {.mode = NALA_SEG_SLIDE};
    ck_assert_int_eq(sscanf(line, "slide %d %d %d %d %d %d %zu%n", &h, &w, &cfg.crop_h, &cfg.crop_w, &cfg.stride_h,
                            &cfg.stride_w, &want_n, &used),
                     7);
    size_t n;
    ck_assert_int_eq(nala_seg_slide_windows(&cfg, h, w, NULL, 0, &n, &err), NALA_OK);
    ck_assert_uint_eq(n, want_n);
    nala_crop_window wins[64];
    ck_assert_uint_le(n, 64);
    if (n > 1)
      ck_assert_int_eq(nala_seg_slide_windows(&cfg, h, w, wins, n - 1, &n, &err), NALA_E_NOMEM);
    ck_assert_int_eq(nala_seg_slide_windows(&cfg, h, w, wins, 64, &n, &err), NALA_OK);
    const char *p = line + used;
    for (size_t k = 0; k < n; k++) {
      int y1, x1, y2, x2, len;
      ck_assert_int_eq(sscanf(p, "%d %d %d %d%n", &y1, &x1, &y2, &x2, &len), 4);
      p += len;
      ck_assert_msg(wins[k].y1 == y1 && wins[k].x1 == x1 && wins[k].y2 == y2 && wins[k].x2 == x2,
                    "%dx%d window %zu: got %d %d %d %d want %d %d %d %d", h, w, k, wins[k].y1, wins[k].x1, wins[k].y2,
                    wins[k].x2, y1, x1, y2, x2);
    }
    n_slides++;
  }
  fclose(f);
  ck_assert_int_ge(n_slides, 5);
  nala_seg_test_cfg ade = nala_seg_test_ade20k(), city = nala_seg_test_cityscapes();
  ck_assert_int_eq(ade.mode, NALA_SEG_WHOLE);
  ck_assert(ade.crop_h == 512 && ade.crop_w == 512 && ade.stride_h == 341 && ade.stride_w == 341);
  ck_assert(city.crop_h == 512 && city.crop_w == 1024 && city.stride_h == 341 && city.stride_w == 683);
  nala_seg_test_cfg bad = ade;
  bad.stride_w = 0;
  size_t n;
  ck_assert_int_eq(nala_seg_slide_windows(&bad, 512, 512, NULL, 0, &n, &err), NALA_E_ARG);
  ck_assert_ptr_nonnull(strstr(err.msg, "stride"));
  ck_assert_int_eq(nala_seg_slide_windows(&ade, 0, 512, NULL, 0, &n, &err), NALA_E_SHAPE);
}
END_TEST

int main(void) {
  Suite *s = suite_create("preprocess");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120); /* check's 4 s default is too tight for ASan on a shared machine */
  tcase_add_test(tc, pipelines_match_cv2_reference);
  tcase_add_test(tc, allocating_variant_matches);
  tcase_add_test(tc, two_threads_independent);
  tcase_add_test(tc, bad_inputs_and_configs);
  tcase_add_test(tc, config_sections_map_to_pipelines);
  tcase_add_test(tc, slide_windows_match_mmseg);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
