/* nala det on an image, a folder of images, a video file or a camera (tools/cli_det.h): drawn boxes,
 * labels and mask overlays per image or frame, an annotated video for a video or camera, COCO-style
 * JSON of every detection, progress and the per-stage times of the context. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nala/detector.h"
#include "nala/image_io.h"
#include "tools/cli.h"
#include "tools/cli_det.h"
#include "tools/cli_timing.h"
#include "tools/det_draw.h"
#include "tools/det_json.h"
#include "tools/det_run.h"

#define CMD "nala det"

typedef enum input_kind { IN_IMAGE, IN_DIR, IN_VIDEO, IN_CAMERA } input_kind;

static int has_ext(const char *path, const char *const *exts) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash))
    return 0;
  for (; *exts; exts++)
    if (!strcasecmp(dot + 1, *exts))
      return 1;
  return 0;
}

static const char *const image_exts[] = {"jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "ppm", "pgm", "pbm", NULL};
static const char *const video_exts[] = {"mp4", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", NULL};
static const char *const written_exts[] = {"jpg", "jpeg", "png", NULL};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Image files of a folder (by extension, not recursive), sorted by name (byte order). */
static nala_status list_dir(const char *dir, char ***names, int *n, nala_err *err) {
  DIR *d = opendir(dir);
  if (!d)
    return nala_fail(err, NALA_E_IO, "%s: cannot open folder: %s", dir, strerror(errno));
  char **v = NULL;
  int k = 0, cap = 0;
  nala_status st = NALA_OK;
  struct dirent *e;
  while (st == NALA_OK && (e = readdir(d))) {
    if (e->d_name[0] == '.' || !has_ext(e->d_name, image_exts))
      continue;
    if (k == cap) {
      cap = cap ? 2 * cap : 64;
      char **nv = realloc(v, (size_t)cap * sizeof *nv);
      if (!nv) {
        st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", dir);
        break;
      }
      v = nv;
    }
    if (!(v[k] = strdup(e->d_name)))
      st = nala_fail(err, NALA_E_NOMEM, "%s: out of memory", dir);
    else
      k++;
  }
  closedir(d);
  if (st == NALA_OK && !k)
    st = nala_fail(err, NALA_E_FORMAT, "%s: no image files (%s, ...) in the folder", dir, image_exts[0]);
  if (st != NALA_OK) {
    for (int i = 0; i < k; i++)
      free(v[i]);
    free(v);
    return st;
  }
  qsort(v, (size_t)k, sizeof *v, cmp_str);
  *names = v;
  *n = k;
  return NALA_OK;
}

/* Output file of a folder entry: same name, extension .png unless it is one nala writes. */
static void out_name(const char *out_dir, const char *name, char *dst, size_t cap) {
  if (has_ext(name, written_exts))
    snprintf(dst, cap, "%s/%s", out_dir, name);
  else {
    const char *dot = strrchr(name, '.');
    snprintf(dst, cap, "%s/%.*s.png", out_dir, (int)(dot ? dot - name : (long)strlen(name)), name);
  }
}

typedef struct stream {
  const cli_det_opts *o;
  det_run run;
  det_json_file *json;
  const char *const *names;
  int n_names, has_masks;
  const int *cat_ids; /* COCO ids for an 80-class model, else NULL (category_id = label) */
  det_labels labels;  /* every class's and score's label text, rendered once */
  uint8_t *mask;      /* one h x w bitmap, reused */
  size_t mask_cap;
  double read_ms, paste_ms, draw_ms, write_ms;
  long drawn;
} stream;

/* Runs one frame, writes its JSON records (image_id = frame index) and draws on img. */
static nala_status process(stream *s, nala_image *img, long index, int *n_shown, nala_err *err) {
  NALA_CHECK(det_run_frame(&s->run, img, err));
  det_run *r = &s->run;
  size_t hw = (size_t)img->h * img->w;
  double t0 = cli_now_ms();
  if (s->has_masks && hw > s->mask_cap) {
    uint8_t *m = realloc(s->mask, hw);
    if (!m)
      return nala_fail(err, NALA_E_NOMEM, "out of memory for a %dx%d mask", img->h, img->w);
    s->mask = m, s->mask_cap = hw;
  }
  int shown = 0;
  double paste0 = s->paste_ms;
  for (int k = 0; k < r->n_dets; k++) {
    const nala_detection *d = &r->dets[k];
    if (s->json) {
      int64_t cat = s->cat_ids && d->label >= 0 && d->label < 80 ? s->cat_ids[d->label] : d->label;
      nala_rle rle = {0};
      double tp = cli_now_ms();
      nala_status st = s->has_masks ? nala_det_read_mask_rle(r->ctx, k, &rle, err) : NALA_OK;
      s->paste_ms += cli_now_ms() - tp;
      if (st == NALA_OK)
        st = det_json_add(s->json, index, cat, d->x1, d->y1, d->x2, d->y2, d->score, s->has_masks ? &rle : NULL,
                          err);
      nala_rle_free(&rle);
      NALA_CHECK(st);
    }
    if (!(d->score >= (float)s->o->score_thr))
      continue;
    shown++;
    if (s->has_masks) {
      uint8_t c[3];
      det_class_color(d->label, c);
      double tp = cli_now_ms();
      NALA_CHECK(nala_det_read_mask(r->ctx, k, s->mask, s->mask_cap, err));
      s->paste_ms += cli_now_ms() - tp;
      det_draw_mask(img, s->mask, c, 0.5f);
    }
  }
  NALA_CHECK(det_draw_detections(img, &s->labels, r->dets, r->n_dets, (float)s->o->score_thr, err));
  s->draw_ms += cli_now_ms() - t0;
  s->drawn++;
  s->draw_ms -= s->paste_ms - paste0; /* mask reads are counted as paste */
  *n_shown = shown;
  return NALA_OK;
}

static void print_timing(const stream *s, const char *what) {
  const det_run *r = &s->run;
  if (!r->frames)
    return;
  fprintf(stderr, "%ld %s, mean per %s (plans %.1f ms in all):\n", r->frames, what,
          !strcmp(what, "frames") ? "frame" : "image", r->plan_ms);
  fprintf(stderr, "  %-14s %9.2f ms\n", "read", s->read_ms / r->frames);
  det_run_print_stages(r, stderr, "  ");
  if (s->has_masks)
    fprintf(stderr, "  %-14s %9.2f ms  (masks pasted at the image size as they are read)\n", "paste",
            s->paste_ms / r->frames);
  fprintf(stderr, "  %-14s %9.2f ms\n", "draw + json", s->drawn ? s->draw_ms / s->drawn : 0.0);
  fprintf(stderr, "  %-14s %9.2f ms\n", "write", s->write_ms / r->frames);
}

/* Image or folder. */
static int run_images(stream *s, input_kind kind) {
  const cli_det_opts *o = s->o;
  nala_err err;
  nala_err_clear(&err);
  char **names = NULL;
  int n = 1, n_all = 0, bad = 0, rc = NALA_EXIT_OK;
  if (kind == IN_DIR && list_dir(o->input, &names, &n, &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  n_all = kind == IN_DIR ? n : 0;
  if (o->limit > 0 && n > o->limit)
    n = o->limit;
  for (int i = 0; i < n; i++) {
    char in[4200], out[4400];
    if (kind == IN_DIR) {
      snprintf(in, sizeof in, "%s/%s", o->input, names[i]);
      out_name(o->out, names[i], out, sizeof out);
    } else {
      snprintf(in, sizeof in, "%s", o->input);
      snprintf(out, sizeof out, "%s", o->out);
    }
    nala_image img = {0};
    double t0 = cli_now_ms();
    nala_status st = nala_image_read_exif(in, NALA_BGR, 0, NALA_EXIF_APPLY, &img, &err); /* mmcv 'color' */
    double t1 = cli_now_ms();
    s->read_ms += t1 - t0;
    int shown = 0;
    int out_failed = 0;
    if (st == NALA_OK)
      st = process(s, &img, i, &shown, &err);
    if (st == NALA_OK) {
      double t2 = cli_now_ms();
      st = nala_image_write(out, &img, &err);
      s->write_ms += cli_now_ms() - t2;
      out_failed = st != NALA_OK;
    }
    if (st == NALA_OK && !o->no_progress)
      fprintf(stderr, "[%d/%d] %s: %d detections, %d drawn (score >= %.2f), %.1f ms\n", i + 1, n,
              kind == IN_DIR ? names[i] : in, s->run.n_dets, shown, o->score_thr, cli_now_ms() - t0);
    nala_image_free(&img);
    if (st != NALA_OK) {
      fprintf(stderr, CMD ": %s: %s\n", kind == IN_DIR ? names[i] : in, err.msg);
      bad++;
      rc = NALA_EXIT_RUNTIME;
      if (out_failed || st == NALA_E_NOMEM || kind == IN_IMAGE)
        break; /* the output itself failed: no point going on */
    }
  }
  print_timing(s, kind == IN_DIR ? "images" : "image");
  if (bad && kind == IN_DIR)
    fprintf(stderr, CMD ": %d of %d images failed (named above)\n", bad, n);
  for (int i = 0; i < n_all; i++)
    free(names[i]);
  free(names);
  return rc;
}

/* Video file or camera: read, detect, draw, append to the output video. */
static int run_video(stream *s, input_kind kind, int camera) {
  const cli_det_opts *o = s->o;
  nala_err err;
  nala_err_clear(&err);
  nala_video_reader *rd = NULL;
  nala_video_writer *wr = NULL;
  nala_status st = kind == IN_CAMERA ? nala_video_open_camera(camera, &rd, &err) : nala_video_open(o->input, &rd, &err);
  nala_video_info info = {0};
  if (st == NALA_OK) {
    info = nala_video_get_info(rd);
    if (!(info.fps > 0))
      fprintf(stderr, CMD ": %s does not say its frame rate; writing %s at 30 fps\n", o->input, o->out);
    st = nala_video_writer_open(o->out, info.w, info.h, info.fps > 0 ? info.fps : 30.0, NULL, &wr, &err);
  }
  if (st != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    nala_video_close(rd);
    return NALA_EXIT_RUNTIME;
  }
  nala_image frame = {0};
  long i = 0;
  double t_start = cli_now_ms();
  while (st == NALA_OK && (o->limit <= 0 || i < o->limit)) {
    int got = 0;
    double t0 = cli_now_ms();
    st = nala_video_read(rd, NALA_BGR, &frame, &got, &err);
    s->read_ms += cli_now_ms() - t0;
    if (st != NALA_OK || !got)
      break;
    int shown = 0;
    st = process(s, &frame, i, &shown, &err);
    if (st == NALA_OK) {
      double t2 = cli_now_ms();
      st = nala_video_write(wr, &frame, &err);
      s->write_ms += cli_now_ms() - t2;
    }
    i++;
    if (st == NALA_OK && !o->no_progress && (i % 30 == 0 || i == info.frame_count))
      fprintf(stderr, "[%ld%s%ld] frames, %.1f fps\n", i, info.frame_count > 0 ? "/" : "",
              info.frame_count > 0 ? info.frame_count : 0L, i / ((cli_now_ms() - t_start) / 1e3));
  }
  nala_image_free(&frame);
  nala_video_close(rd);
  long written = s->run.frames;
  print_timing(s, "frames");
  if (st != NALA_OK) {
    /* A frame that fails ends the run; the frames annotated before it stay a playable video. */
    fprintf(stderr, CMD ": frame %ld: %s\n", i, err.msg);
    nala_err cerr;
    if (written > 0 && nala_video_writer_close(wr, &cerr) == NALA_OK)
      fprintf(stderr, CMD ": kept the %ld frame(s) annotated before it in %s\n", written, o->out);
    else if (written == 0)
      nala_video_writer_abort(wr);
    return NALA_EXIT_RUNTIME;
  }
  if (i == 0) {
    nala_video_writer_abort(wr);
    fprintf(stderr, CMD ": %s: no frame could be read; %s not written\n", o->input, o->out);
    return NALA_EXIT_RUNTIME;
  }
  st = nala_video_writer_close(wr, &err);
  if (st != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  fprintf(stderr, "wrote %ld frames to %s\n", i, o->out);
  return NALA_EXIT_OK;
}

/* Checks the outputs before any work: --out (a writable folder for a folder input, created when
 * missing; else a file in a writable folder, .png/.jpg for an image) and --json's folder. */
static nala_status check_outputs(const cli_det_opts *o, input_kind kind, nala_err *err) {
  if (kind == IN_DIR) {
    struct stat st;
    if (stat(o->out, &st) != 0) {
      if (mkdir(o->out, 0777) != 0)
        return nala_fail(err, NALA_E_IO, "--out %s: cannot create the folder: %s", o->out, strerror(errno));
    } else if (!S_ISDIR(st.st_mode))
      return nala_fail(err, NALA_E_ARG, "--out %s: not a folder (the input is a folder of images)", o->out);
    if (access(o->out, W_OK | X_OK) != 0)
      return nala_fail(err, NALA_E_IO, "--out %s: folder not writable: %s", o->out, strerror(errno));
  } else {
    if (kind == IN_IMAGE && !has_ext(o->out, written_exts))
      return nala_fail(err, NALA_E_ARG, "--out %s: the annotated image is written as .png, .jpg or .jpeg", o->out);
    NALA_CHECK(det_check_writable_parent(o->out, err));
  }
  if (o->json)
    NALA_CHECK(det_check_writable_parent(o->json, err));
  return NALA_OK;
}

int cli_det_stream(const cli_det_opts *o) {
  nala_err err;
  nala_err_clear(&err);
  if (!o->input || !o->out) {
    fprintf(stderr, CMD ": --input and --out are required (or --dump with a .safetensors input)\n");
    return NALA_EXIT_USAGE;
  }
  input_kind kind;
  int camera = 0;
  struct stat st;
  if (!strncmp(o->input, "camera:", 7)) {
    char *end;
    long c = strtol(o->input + 7, &end, 10);
    if (!o->input[7] || *end || c < 0 || c > 255) {
      fprintf(stderr, CMD ": --input %s: expected camera:N with N in 0..255\n", o->input);
      return NALA_EXIT_USAGE;
    }
    kind = IN_CAMERA, camera = (int)c;
  } else if (stat(o->input, &st) != 0) {
    fprintf(stderr, CMD ": --input %s: %s\n", o->input, strerror(errno));
    return NALA_EXIT_RUNTIME;
  } else if (S_ISDIR(st.st_mode))
    kind = IN_DIR;
  else if (has_ext(o->input, video_exts))
    kind = IN_VIDEO;
  else
    kind = IN_IMAGE;
  if (check_outputs(o, kind, &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  stream s = {0};
  s.o = o;
  det_run_opts ro = {.config = o->config, .weights = o->weights, .overrides = o->overrides,
                     .n_overrides = o->n_overrides, .threads = o->threads, .isa = o->isa};
  if (det_run_open(CMD, &ro, &s.run))
    return NALA_EXIT_RUNTIME;
  s.names = det_run_class_names(&s.run, &s.n_names);
  s.has_masks = nala_detector_has_masks(s.run.model);
  s.cat_ids = nala_detector_num_classes(s.run.model) == 80 ? det_coco_category_ids : NULL;
  int rc = NALA_EXIT_OK;
  if (det_labels_init(&s.labels, s.names, s.n_names, nala_detector_num_classes(s.run.model), &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    det_run_close(&s.run);
    return NALA_EXIT_RUNTIME;
  }
  if (o->json && det_json_open(o->json, &s.json, &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    rc = NALA_EXIT_RUNTIME;
  }
  if (rc == NALA_EXIT_OK)
    rc = kind == IN_IMAGE || kind == IN_DIR ? run_images(&s, kind) : run_video(&s, kind, camera);
  if (s.json) {
    /* The records of the images that ran are kept even when another one failed. */
    if (det_json_close(s.json, &err)) {
      fprintf(stderr, CMD ": %s\n", err.msg);
      rc = NALA_EXIT_RUNTIME;
    } else if (!o->no_progress)
      fprintf(stderr, "wrote %s\n", o->json);
  }
  free(s.mask);
  det_labels_free(&s.labels);
  det_run_close(&s.run);
  return rc;
}
