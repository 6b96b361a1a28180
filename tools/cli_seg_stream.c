/* nala seg on an image, a folder, a video file or a camera (the --dump parity mode is tools/cli_seg.c).
 * Outputs: a label PNG per image (palette PNG, the class index in every pixel; tools/seg_palette.c),
 * with --overlay a colour overlay as mmseg's visualizer blends it (tools/seg_overlay.c); for a video
 * or a camera, an overlay video at the source's fps and size, and on request each frame's label PNG
 * and a contact sheet of a few frames (tools/seg_contact_sheet.c). One frame is in flight at a time and
 * every buffer is reused, so memory stays flat over any number of frames. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nala/image_io.h"
#include "tools/cli.h"
#include "tools/cli_progress.h"
#include "tools/cli_seg.h"
#include "tools/cli_seg_model.h"
#include "tools/cli_seg_paths.h"
#include "tools/cli_timing.h"
#include "tools/seg_contact_sheet.h"
#include "tools/seg_overlay.h"
#include "tools/seg_palette.h"

#define CMD "nala seg"
#define MAX_IMAGE_PIXELS ((size_t)1 << 28) /* refused from the header, before decoding */

/* Ctrl-C on a camera or video: finish the video file instead of dying mid-write. The one piece of
 * process state in the command; a signal handler can reach nothing else. */
static volatile sig_atomic_t stop_requested;
static void on_sigint(int sig) {
  (void)sig;
  stop_requested = 1;
}

typedef struct seg_run {
  const cli_seg_opts *o;
  cli_seg_model m;
  uint8_t palette[256][3];
  int n_colours;
  seg_overlay_lut *lut;
  nala_image overlay; /* reused overlay buffer */
  seg_sheet sheet;    /* --contact-sheet */
  cli_progress progress;
  double decode_ms, encode_ms;
  long frames; /* segmented */
  long failed; /* images that could not be segmented or written */
} seg_run;

static seg_palette_kind palette_kind(const cli_seg_model *m) {
  const nala_dataset_cfg *ds = nala_config_dataset(m->cfg);
  if (ds)
    return ds->type == NALA_DATASET_ADE20K ? SEG_PALETTE_ADE20K
           : ds->type == NALA_DATASET_CITYSCAPES ? SEG_PALETTE_CITYSCAPES
                                                 : SEG_PALETTE_OTHER;
  return m->num_classes == 150 ? SEG_PALETTE_ADE20K : m->num_classes == 19 ? SEG_PALETTE_CITYSCAPES : SEG_PALETTE_OTHER;
}

/* Builds the model and everything the outputs need; prints the error and returns 0 on failure. */
static int run_open(seg_run *r, const cli_seg_opts *o) {
  memset(r, 0, sizeof *r);
  r->o = o;
  if (!cli_seg_model_open(&r->m, CMD, o->config, o->overrides, o->n_overrides, o->weights, o->threads, o->isa))
    return 0;
  if (r->m.num_classes > 256) {
    fprintf(stderr, CMD ": the model predicts %d classes; label PNGs hold at most 256\n", r->m.num_classes);
    return 0;
  }
  const nala_dataset_cfg *ds = nala_config_dataset(r->m.cfg);
  r->n_colours = seg_palette_fill_named(palette_kind(&r->m), ds ? (const char *const *)ds->classes : NULL,
                                        ds ? ds->n_classes : 0, r->m.num_classes, r->palette);
  r->lut = malloc(sizeof *r->lut);
  if (!r->lut) {
    fprintf(stderr, CMD ": out of memory\n");
    return 0;
  }
  seg_overlay_lut_init(r->lut, o->opacity);
  if (r->m.seeded)
    fprintf(stderr, CMD ": no --weights: seeded random weights (seed 0), the labels mean nothing\n");
  return 1;
}

static void run_close(seg_run *r) {
  cli_seg_model_close(&r->m);
  free(r->lut);
  nala_image_free(&r->overlay);
  seg_sheet_free(&r->sheet);
}

/* Overlay of the last labels on img into r->overlay (allocated once per frame size). */
static nala_status draw_overlay(seg_run *r, const nala_image *img, nala_err *err) {
  if (r->overlay.h != img->h || r->overlay.w != img->w) {
    nala_image_free(&r->overlay);
    NALA_CHECK(nala_image_alloc(img->h, img->w, 3, img->order, &r->overlay, err));
  }
  seg_overlay_draw(img, r->m.labels, (size_t)img->w, (const uint8_t(*)[3])r->palette, r->n_colours, r->lut,
                   &r->overlay);
  return NALA_OK;
}

/* Segments one image file into label_path (+ overlay_path). Reports a failure by name and returns 0. */
static int segment_file(seg_run *r, const char *in_path, const char *label_path, const char *overlay_path) {
  nala_err err;
  nala_err_clear(&err);
  nala_image img = {0};
  double t0 = cli_now_ms();
  /* mmseg's LoadImageFromFile: cv2 IMREAD_COLOR, EXIF orientation applied. */
  nala_status st = nala_image_read_exif(in_path, NALA_BGR, MAX_IMAGE_PIXELS, NALA_EXIF_APPLY, &img, &err);
  double t1 = cli_now_ms();
  r->decode_ms += t1 - t0;
  if (st == NALA_OK)
    st = cli_seg_model_run(&r->m, &img, &err);
  double t2 = cli_now_ms();
  if (st == NALA_OK) {
    nala_image labels = {.h = img.h, .w = img.w, .c = 1, .stride = (size_t)img.w, .data = r->m.labels,
                         .order = NALA_GRAY};
    st = nala_image_write_labels(label_path, &labels, (const uint8_t(*)[3])r->palette, r->n_colours, &err);
    if (st == NALA_OK && overlay_path) {
      st = draw_overlay(r, &img, &err);
      if (st == NALA_OK)
        st = nala_image_write(overlay_path, &r->overlay, &err);
    }
    r->encode_ms += cli_now_ms() - t2;
  }
  nala_image_free(&img);
  if (st != NALA_OK) {
    r->failed++;
    cli_progress_note(&r->progress, "%s: %s", in_path, err.msg);
    return 0;
  }
  r->frames++;
  return 1;
}

/* Where a single image's outputs go: --out X.png, or a folder. 0 (message printed) when impossible. */
static int image_outputs(const cli_seg_opts *o, char *label_path, char *overlay_path, size_t cap, int *usage) {
  nala_err err;
  nala_err_clear(&err);
  *usage = 0;
  if (seg_has_ext(o->out, "png")) {
    snprintf(label_path, cap, "%s", o->out);
    if (snprintf(overlay_path, cap, "%.*s_overlay.png", (int)strlen(o->out) - 4, o->out) >= (int)cap) {
      fprintf(stderr, CMD ": --out %s: path too long\n", o->out);
      return 0;
    }
    if (seg_check_file_writable(label_path, &err) != NALA_OK) {
      fprintf(stderr, CMD ": --out %s\n", err.msg);
      return 0;
    }
    return 1;
  }
  struct stat info;
  int is_dir = stat(o->out, &info) == 0 && S_ISDIR(info.st_mode);
  const char *dot = strrchr(o->out, '.'), *slash = strrchr(o->out, '/');
  if (!is_dir && dot && (!slash || dot > slash) && dot[1]) {
    fprintf(stderr, CMD ": --out %s: label maps are PNG files: give X.png or a folder\n", o->out);
    *usage = 1;
    return 0;
  }
  const char *base = strrchr(o->input, '/');
  base = base ? base + 1 : o->input;
  if (seg_make_dirs(o->out, &err) != NALA_OK || seg_check_dir_writable(o->out, &err) != NALA_OK ||
      !seg_output_name(o->out, base, ".png", label_path, cap) ||
      !seg_output_name(o->out, base, "_overlay.png", overlay_path, cap)) {
    fprintf(stderr, CMD ": --out %s\n", err.msg[0] ? err.msg : "path too long");
    return 0;
  }
  return 1;
}

static int run_image(seg_run *r, const cli_seg_opts *o) {
  char label_path[4096], overlay_path[4096];
  int usage;
  if (!image_outputs(o, label_path, overlay_path, sizeof label_path, &usage))
    return usage ? NALA_EXIT_USAGE : NALA_EXIT_RUNTIME;
  if (!run_open(r, o))
    return NALA_EXIT_RUNTIME;
  cli_progress_start(&r->progress, CMD, "images", 1, 0);
  if (!segment_file(r, o->input, label_path, o->overlay ? overlay_path : NULL))
    return NALA_EXIT_RUNTIME;
  printf(CMD ": %s -> %s%s%s\n", o->input, label_path, o->overlay ? ", " : "", o->overlay ? overlay_path : "");
  return NALA_EXIT_OK;
}

static int run_folder(seg_run *r, const cli_seg_opts *o) {
  nala_err err;
  nala_err_clear(&err);
  if (seg_has_ext(o->out, "png")) {
    fprintf(stderr, CMD ": --out %s: a folder input writes a folder of label PNGs; give a folder\n", o->out);
    return NALA_EXIT_USAGE;
  }
  if (seg_make_dirs(o->out, &err) != NALA_OK || seg_check_dir_writable(o->out, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --out %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  seg_file_list list;
  if (seg_list_images(o->input, &list, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --input %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  if (list.count == 0) {
    fprintf(stderr, CMD ": --input %s: no image files (.jpg .png .bmp .tif .webp .pnm) in it or its subfolders\n",
            o->input);
    seg_file_list_free(&list);
    return NALA_EXIT_RUNTIME;
  }
  size_t n = o->limit > 0 && (size_t)o->limit < list.count ? (size_t)o->limit : list.count;
  size_t *first_of = malloc(list.count * sizeof *first_of);
  if (!first_of || seg_mark_same_stem(&list, first_of, &err) != NALA_OK || !run_open(r, o)) {
    if (!first_of)
      fprintf(stderr, CMD ": out of memory\n");
    else if (err.msg[0])
      fprintf(stderr, CMD ": %s\n", err.msg);
    free(first_of);
    seg_file_list_free(&list);
    return NALA_EXIT_RUNTIME;
  }
  cli_progress_start(&r->progress, CMD, "images", (long)n, !o->no_progress);
  for (size_t i = 0; i < n; i++) {
    char in_path[4096], label_path[4096], overlay_path[4096], sub_dir[4096];
    int ok = snprintf(in_path, sizeof in_path, "%s/%s", o->input, list.rel[i]) < (int)sizeof in_path &&
             seg_output_name(o->out, list.rel[i], ".png", label_path, sizeof label_path) &&
             seg_output_name(o->out, list.rel[i], "_overlay.png", overlay_path, sizeof overlay_path);
    if (!ok) {
      r->failed++;
      cli_progress_note(&r->progress, "%s/%s: path too long", o->input, list.rel[i]);
      continue;
    }
    if (first_of[i] != i) { /* its outputs are another image's */
      r->failed++;
      cli_progress_note(&r->progress, "%s: not segmented: %s/%s writes the same %s", in_path, o->input,
                        list.rel[first_of[i]], label_path);
      continue;
    }
    const char *slash = strrchr(list.rel[i], '/');
    if (slash) { /* mirror the input's subfolders */
      snprintf(sub_dir, sizeof sub_dir, "%s/%.*s", o->out, (int)(slash - list.rel[i]), list.rel[i]);
      if (seg_make_dirs(sub_dir, &err) != NALA_OK) {
        r->failed++;
        cli_progress_note(&r->progress, "%s: %s", in_path, err.msg);
        continue;
      }
    }
    segment_file(r, in_path, label_path, o->overlay ? overlay_path : NULL);
    cli_progress_step(&r->progress, (long)i + 1);
  }
  cli_progress_end(&r->progress);
  printf(CMD ": %s: %ld of %zu image(s) segmented into %s%s", o->input, r->frames, n, o->out,
         o->overlay ? " (label PNGs and _overlay.png images)" : "");
  if (list.other_files)
    printf("; %zu file(s) without an image extension left alone", list.other_files);
  printf("\n");
  if (r->failed)
    fprintf(stderr, CMD ": %ld image(s) could not be segmented, named above\n", r->failed);
  free(first_of);
  seg_file_list_free(&list);
  return r->failed ? NALA_EXIT_RUNTIME : NALA_EXIT_OK;
}

/* --labels-dir and --contact-sheet outputs of 0-based frame `index` (its labels are the model's last). */
static nala_status frame_extras(seg_run *r, long index, const nala_image *frame, nala_err *err) {
  if (r->o->labels_dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%06ld.png", r->o->labels_dir, index) >= (int)sizeof path)
      return nala_fail(err, NALA_E_ARG, "--labels-dir %s: path too long", r->o->labels_dir);
    nala_image labels = {.h = frame->h, .w = frame->w, .c = 1, .stride = (size_t)frame->w, .data = r->m.labels,
                         .order = NALA_GRAY};
    NALA_CHECK(nala_image_write_labels(path, &labels, (const uint8_t(*)[3])r->palette, r->n_colours, err));
  }
  if (r->o->contact_sheet && seg_sheet_wants(&r->sheet, index))
    NALA_CHECK(seg_sheet_add(&r->sheet, index, frame, &r->overlay, err));
  return NALA_OK;
}

/* Checks, before any work, that the --labels-dir / --contact-sheet outputs can be written: 1 yes, 0 no
 * (message printed), -1 a bad --contact-sheet name (usage). */
static int extras_writable(const cli_seg_opts *o) {
  nala_err err;
  nala_err_clear(&err);
  if (o->labels_dir && (seg_make_dirs(o->labels_dir, &err) != NALA_OK || seg_check_dir_writable(o->labels_dir, &err))) {
    fprintf(stderr, CMD ": --labels-dir %s\n", err.msg);
    return 0;
  }
  if (o->contact_sheet && !seg_has_ext(o->contact_sheet, "png") && !seg_has_ext(o->contact_sheet, "jpg") &&
      !seg_has_ext(o->contact_sheet, "jpeg")) {
    fprintf(stderr, CMD ": --contact-sheet %s: give a .png (or .jpg) path\n", o->contact_sheet);
    return -1;
  }
  if (o->contact_sheet && seg_check_file_writable(o->contact_sheet, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --contact-sheet %s\n", err.msg);
    return 0;
  }
  return 1;
}

static int run_video(seg_run *r, const cli_seg_opts *o, int camera) {
  nala_err err;
  nala_err_clear(&err);
  if (!seg_is_video_name(o->out)) {
    fprintf(stderr, CMD ": --out %s: a video or camera input writes an overlay video: give a .mp4, .avi, .mkv, "
                    ".mov, .m4v or .webm path\n", o->out);
    return NALA_EXIT_USAGE;
  }
  if (seg_check_file_writable(o->out, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --out %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  int writable = extras_writable(o);
  if (writable <= 0)
    return writable < 0 ? NALA_EXIT_USAGE : NALA_EXIT_RUNTIME;
  nala_video_reader *in = NULL;
  nala_status st = camera >= 0 ? nala_video_open_camera(camera, &in, &err) : nala_video_open(o->input, &in, &err);
  if (st != NALA_OK) {
    fprintf(stderr, CMD ": --input %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  nala_video_info info = nala_video_get_info(in);
  double fps = info.fps > 0 ? info.fps : 30.0;
  if (!(info.fps > 0))
    fprintf(stderr, CMD ": %s does not say its frame rate; writing %s at 30 fps\n", o->input, o->out);
  nala_video_writer *out = NULL;
  if (nala_video_writer_open(o->out, info.w, info.h, fps, NULL, &out, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --out %s\n", err.msg);
    nala_video_close(in);
    return NALA_EXIT_RUNTIME;
  }
  if (!run_open(r, o)) {
    nala_video_writer_abort(out);
    nala_video_close(in);
    return NALA_EXIT_RUNTIME;
  }
  long total = info.frame_count; /* 0: unknown (a camera) */
  if (o->limit > 0 && (total == 0 || o->limit < total))
    total = o->limit;
  if (o->contact_sheet &&
      seg_sheet_init(&r->sheet, o->sheet_frames, o->sheet_width, info.w, info.h, NALA_BGR, total, fps, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --contact-sheet %s: %s\n", o->contact_sheet, err.msg);
    nala_video_writer_abort(out);
    nala_video_close(in);
    return NALA_EXIT_RUNTIME;
  }
  stop_requested = 0;
  void (*previous)(int) = signal(SIGINT, on_sigint);
  cli_progress_start(&r->progress, CMD, "frames", total, !o->no_progress);
  nala_image frame = {0};
  int broken = 0;
  while (!stop_requested && (o->limit <= 0 || r->frames < o->limit)) {
    long number = r->frames + 1; /* 1-based number of the frame being read */
    int got = 0;
    double t0 = cli_now_ms();
    st = nala_video_read(in, NALA_BGR, &frame, &got, &err);
    double t1 = cli_now_ms();
    r->decode_ms += t1 - t0;
    if (st != NALA_OK) {
      cli_progress_note(&r->progress, "%s: frame %ld cannot be read: %s", o->input, number, err.msg);
      broken = 1;
      break;
    }
    if (!got)
      break;
    st = cli_seg_model_run(&r->m, &frame, &err);
    double t2 = cli_now_ms();
    if (st == NALA_OK)
      st = draw_overlay(r, &frame, &err);
    if (st == NALA_OK)
      st = nala_video_write(out, &r->overlay, &err);
    if (st == NALA_OK)
      st = frame_extras(r, r->frames, &frame, &err);
    r->encode_ms += cli_now_ms() - t2;
    if (st != NALA_OK) {
      cli_progress_note(&r->progress, "%s: frame %ld: %s", o->input, number, err.msg);
      broken = 1;
      break;
    }
    r->frames++;
    cli_progress_step(&r->progress, r->frames);
  }
  signal(SIGINT, previous);
  cli_progress_end(&r->progress);
  nala_image_free(&frame);
  nala_video_close(in);
  int code = broken ? NALA_EXIT_RUNTIME : NALA_EXIT_OK;
  if (r->frames == 0) {
    nala_video_writer_abort(out);
    fprintf(stderr, CMD ": %s: no frame segmented; %s not written\n", o->input, o->out);
    return NALA_EXIT_RUNTIME;
  }
  /* Closing finishes the container, so even a broken input leaves a playable file of the frames done. */
  double t0 = cli_now_ms();
  if (nala_video_writer_close(out, &err) != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    return NALA_EXIT_RUNTIME;
  }
  if (o->contact_sheet && seg_sheet_write(&r->sheet, o->contact_sheet, &err) != NALA_OK) {
    fprintf(stderr, CMD ": --contact-sheet %s\n", err.msg);
    code = NALA_EXIT_RUNTIME;
  }
  r->encode_ms += cli_now_ms() - t0;
  if (broken)
    fprintf(stderr, CMD ": kept the %ld frame(s) segmented before it in %s (playable)\n", r->frames, o->out);
  if (stop_requested)
    fprintf(stderr, CMD ": interrupted after %ld frame(s); %s is complete up to there\n", r->frames, o->out);
  printf(CMD ": %s -> %s: %ld frame(s), %dx%d at %g fps\n", o->input, o->out, r->frames, info.w, info.h, fps);
  if (o->labels_dir)
    printf(CMD ": label PNGs of the %ld frame(s) in %s (000000.png = the first)\n", r->frames, o->labels_dir);
  if (o->contact_sheet && code == NALA_EXIT_OK)
    printf(CMD ": contact sheet %s: %d row(s) of input | overlay, %dx%d\n", o->contact_sheet, r->sheet.filled,
           r->sheet.sheet.w, r->sheet.filled * (r->sheet.tile_h + SEG_SHEET_GAP) + SEG_SHEET_GAP);
  return code;
}

/* The per-stage split of the whole run and the overall rate (stdout). */
static void print_report(const seg_run *r, double wall_s) {
  if (r->frames == 0)
    return;
  const char *names[16];
  double ms[16];
  int n = nala_seg_profile(r->m.ctx, names, ms, 16);
  const char *rows[20];
  double row_ms[20];
  int rows_n = 0, neck_head = -1;
  rows[rows_n] = "decode", row_ms[rows_n++] = r->decode_ms;
  for (int i = 0; i < n && rows_n < 19; i++) {
    if (!strcmp(names[i], "neck") || !strcmp(names[i], "head") || !strcmp(names[i], "neck+head")) {
      if (neck_head < 0) {
        neck_head = rows_n;
        rows[rows_n] = "neck+head", row_ms[rows_n++] = 0;
      }
      row_ms[neck_head] += ms[i];
      continue;
    }
    rows[rows_n] = names[i], row_ms[rows_n++] = ms[i];
  }
  rows[rows_n] = "encode", row_ms[rows_n++] = r->encode_ms;
  double sum = 0;
  for (int i = 0; i < rows_n; i++)
    sum += row_ms[i];
  /* Planning is once per input size (once per video), so the rate leaves it out; it is printed below. */
  double run_s = wall_s - r->m.plan_ms / 1e3;
  printf("%ld frame(s) in %.2f s: %.2f frames/s overall (%s), peak RSS %.1f MB", r->frames, run_s,
         run_s > 0 ? r->frames / run_s : 0, r->m.seeded ? "seeded weights" : "weights from --weights",
         cli_peak_rss_mb());
  double heap_mb = cli_heap_in_use_mb();
  if (heap_mb >= 0)
    printf(", heap in use at the end %.3f MB", heap_mb);
  printf("\n");
  printf("%-12s %11s %10s %7s\n", "stage", "total ms", "ms/frame", "share");
  for (int i = 0; i < rows_n; i++)
    printf("%-12s %11.1f %10.2f %6.1f%%\n", rows[i], row_ms[i], row_ms[i] / (double)r->frames,
           sum > 0 ? 100.0 * row_ms[i] / sum : 0.0);
  printf("(encode = overlay drawing + PNG/video encoding and writing; planning for %d input size(s) took %.1f ms, "
         "in neither the table nor the rate)\n",
         r->m.plans, r->m.plan_ms);
}

int cli_seg_stream(const cli_seg_opts *o) {
  if (!o->input || !o->out) {
    fprintf(stderr, CMD ": --input and --out are required (or --dump for the tensor interface)\n");
    return NALA_EXIT_USAGE;
  }
  if (!(o->opacity >= 0.0 && o->opacity <= 1.0)) {
    fprintf(stderr, CMD ": --opacity %g: expected a number in [0, 1]\n", o->opacity);
    return NALA_EXIT_USAGE;
  }
  nala_err err;
  nala_err_clear(&err);
  seg_input_kind kind;
  int camera;
  nala_status st = seg_input_classify(o->input, &kind, &camera, &err);
  if (st != NALA_OK) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    return st == NALA_E_ARG ? NALA_EXIT_USAGE : NALA_EXIT_RUNTIME;
  }
  if ((o->labels_dir || o->contact_sheet) && kind != SEG_IN_VIDEO && kind != SEG_IN_CAMERA) {
    fprintf(stderr, CMD ": --labels-dir and --contact-sheet are for a video or camera input (an image or a "
                    "folder writes its label PNGs to --out)\n");
    return NALA_EXIT_USAGE;
  }
  seg_run r;
  memset(&r, 0, sizeof r);
  int code = kind == SEG_IN_IMAGE    ? run_image(&r, o)
             : kind == SEG_IN_FOLDER ? run_folder(&r, o)
                                     : run_video(&r, o, kind == SEG_IN_CAMERA ? camera : -1);
  if (r.m.ctx)
    print_report(&r, cli_progress_elapsed_s(&r.progress));
  run_close(&r);
  return code;
}
