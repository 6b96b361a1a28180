/* The OpenCV shim (libnala_cv.so, datasets/cv_load.c) is mapped only once image/video IO is used:
 * a backbone forward and a label-map read leave /proc/self/maps without OpenCV, an image read brings
 * it in (the first call from several threads at once loads it once). A shim that cannot be loaded
 * makes every IO entry point return NALA_E_UNSUPPORTED naming the library and dlerror()'s reason,
 * checked in a fresh child process (this program re-run with $NALA_CV_LIBRARY set), since the load
 * happens once per process. The CLI's model-only commands (bench backbone/seg/det from a tensor,
 * backbone on a safetensors input) load no OpenCV either: the dynamic loader's own log
 * (LD_DEBUG=files) lists every library a run maps, dlopen'd ones included. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nala/backbone.h"
#include "nala/image_draw.h"
#include "nala/image_io.h"
#include "nala/weights.h"
#include "tests/support/cli.h"
#include "tests/support/suite.h"

#define IMG(name) NALA_FIXTURES "/images/" name

/* Mappings of /proc/self/maps whose path contains what. */
static int mappings_of(const char *what) {
  FILE *f = fopen("/proc/self/maps", "r");
  ck_assert_msg(f != NULL, "cannot open /proc/self/maps");
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f))
    n += strstr(line, what) != NULL;
  fclose(f);
  return n;
}

static void *read_image_thread(void *status) {
  nala_err err;
  nala_image img;
  *(nala_status *)status = nala_image_read(IMG("color_37x53.png"), NALA_BGR, 0, &img, &err);
  nala_image_free(&img);
  return NULL;
}

/* Must run first in the process (check forks per test by default; with CK_FORK=no it is the first). */
START_TEST(opencv_is_mapped_only_for_io) {
  ck_assert_int_eq(mappings_of("libopencv"), 0);
  nala_err err;
  nala_backbone_cfg cfg;
  nala_weights *weights;
  nala_backbone *model;
  nala_backbone_ctx *ctx;
  ck_assert_int_eq(nala_backbone_cfg_preset("xt", &cfg, &err), NALA_OK);
  ck_assert_int_eq(nala_weights_seeded(0, &weights, &err), NALA_OK);
  ck_assert_int_eq(nala_backbone_create(&cfg, weights, NULL, &model, &err), NALA_OK);
  nala_weights_close(weights);
  ck_assert_int_eq(nala_backbone_ctx_create(model, 2, &ctx, &err), NALA_OK);
  ck_assert_int_eq(nala_backbone_plan(ctx, 64, 64, &err), NALA_OK);
  float *input = calloc(3 * 64 * 64, sizeof(float));
  ck_assert_msg(nala_backbone_forward(ctx, input, &err) == NALA_OK, "%s", err.msg);
  free(input);
  nala_backbone_ctx_free(ctx);
  nala_backbone_free(model);
  /* Label maps (libpng) and owned images are plain C. */
  nala_image lab, img;
  ck_assert_msg(nala_image_read_labels(IMG("labels_29x31.png"), &lab, &err) == NALA_OK, "%s", err.msg);
  nala_image_free(&lab);
  ck_assert_int_eq(nala_image_alloc(4, 4, 3, NALA_BGR, &img, &err), NALA_OK);
  nala_image_free(&img);
  int dnnl = mappings_of("libdnnl"), opencv = mappings_of("libopencv"), shim = mappings_of("libnala_cv");
  printf("after a backbone forward and a label read: %d libdnnl, %d libopencv, %d libnala_cv mappings\n", dnnl,
         opencv, shim);
  ck_assert_int_gt(dnnl, 0); /* the scan does see libraries */
  ck_assert_int_eq(opencv, 0);
  ck_assert_int_eq(shim, 0);

  /* The first image reads race for the one load. */
  enum { THREADS = 4 };
  pthread_t threads[THREADS];
  nala_status status[THREADS];
  for (int i = 0; i < THREADS; i++)
    ck_assert_int_eq(pthread_create(&threads[i], NULL, read_image_thread, &status[i]), 0);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    ck_assert_int_eq(status[i], NALA_OK);
  }
  opencv = mappings_of("libopencv_imgcodecs"), shim = mappings_of("libnala_cv.so");
  printf("after image reads: %d libopencv_imgcodecs, %d libnala_cv.so mappings\n", opencv, shim);
  ck_assert_int_gt(opencv, 0);
  ck_assert_int_gt(shim, 0);
}
END_TEST

/* Runs `nala argv...` (no shell) with LD_DEBUG=files and returns the loader's log (its stderr). */
static char *cli_loader_log(const char *const *argv) {
  char log_path[64];
  snprintf(log_path, sizeof log_path, "/tmp/nala_cv_lazy_%d.log", (int)getpid());
  const char *args[32] = {NALA_CLI};
  int n = 1;
  for (; argv[n - 1] && n < 31; n++)
    args[n] = argv[n - 1];
  args[n] = NULL;
  fflush(stdout);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout) || !freopen(log_path, "w", stderr))
      _exit(98);
    setenv("LD_DEBUG", "files", 1);
    execv(NALA_CLI, (char *const *)args);
    _exit(99);
  }
  int wstatus = 0;
  ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
  char *log = nala_read_text(log_path);
  unlink(log_path);
  ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "nala %s ...: status %#x: %s", argv[0], wstatus,
                log ? log : "");
  ck_assert_ptr_nonnull(log);
  return log;
}

/* Log lines "file=<name or path> [..];  needed by / dynamically loaded by ..." naming a library that contains what. */
static int loads(const char *log, const char *what) {
  int n = 0;
  for (const char *p = log; (p = strstr(p, "file=")) != NULL; p++) {
    const char *end = strpbrk(p, " \n"), *hit = strstr(p, what);
    n += hit && end && hit < end;
  }
  return n;
}

START_TEST(cli_model_commands_load_no_opencv) {
  char dump[128];
  snprintf(dump, sizeof dump, "/tmp/nala_cv_lazy_%d.safetensors", (int)getpid());
  const char *bench_backbone[] = {"bench", "backbone", "--model", "nalaformer_xt", "--size", "64x64", "--threads", "1",
                                  "--runs", "1", "--warmup", "0", NULL};
  const char *bench_seg[] = {"bench", "seg", "--config", NALA_SOURCE_DIR "/configs/fpn_nalaformer-demo_synth.json",
                             "--size", "64x64", "--threads", "1", "--runs", "1", "--warmup", "0", NULL};
  const char *bench_det[] = {"bench", "det", "--config", NALA_SOURCE_DIR "/configs/mask-rcnn_nalaformer-demo_synth.json",
                             "--size", "64x64", "--threads", "1", "--runs", "1", "--warmup", "0", "--profile-runs", "0",
                             NULL};
  const char *backbone[] = {"backbone", "--model", "nalaformer_xt", "--attn", "l,l,v,v", "--input",
                            NALA_FIXTURES "/backbone/xt_200x328_llvv.safetensors", "--dump", dump, "--threads", "1",
                            NULL};
  const char *const *model_only[] = {bench_backbone, bench_seg, bench_det, backbone};
  for (size_t i = 0; i < sizeof model_only / sizeof model_only[0]; i++) {
    char *log = cli_loader_log(model_only[i]);
    int dnnl = loads(log, "libdnnl"), opencv = loads(log, "libopencv"), shim = loads(log, "libnala_cv");
    printf("nala %s %s: loader log lines naming libdnnl %d, libopencv* %d, libnala_cv %d\n", model_only[i][0],
           model_only[i][1], dnnl, opencv, shim);
    free(log);
    ck_assert_int_gt(dnnl, 0); /* the log does list libraries */
    ck_assert_int_eq(opencv, 0);
    ck_assert_int_eq(shim, 0);
  }
  /* An image input does load them. */
  const char *image[] = {"backbone", "--model", "nalaformer_xt", "--input", NALA_FIXTURES "/images/exif_rot6_37x53.jpg",
                         "--dump", dump, "--threads", "1", NULL};
  char *log = cli_loader_log(image);
  int opencv = loads(log, "libopencv"), shim = loads(log, "libnala_cv");
  free(log);
  printf("nala backbone --input <jpg>: loader log lines naming libopencv* %d, libnala_cv %d\n", opencv, shim);
  ck_assert_int_gt(opencv, 0);
  ck_assert_int_gt(shim, 0);
  unlink(dump);
}
END_TEST

/* Runs this program again with NALA_CV_LIBRARY=library and the child role; returns its exit code. */
static int run_child(const char *library, const char *want) {
  fflush(stdout);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    setenv("NALA_CV_LIBRARY", library, 1);
    execl("/proc/self/exe", "test_cv_lazy", "--child", want, (char *)NULL);
    _exit(99);
  }
  int wstatus = 0;
  ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
  ck_assert_msg(WIFEXITED(wstatus), "child for %s did not exit normally (status %#x)", library, wstatus);
  return WEXITSTATUS(wstatus);
}

START_TEST(missing_shim_is_a_status_naming_it) {
  ck_assert_int_eq(run_child("/nonexistent/libnala_cv.so", "cannot open shared object file"), 0);
  /* A library that loads but is not the shim: dlsym's error names the symbol. */
  ck_assert_int_eq(run_child("libm.so.6", "undefined symbol: nala_cv_api_v1"), 0);
}
END_TEST

/* Child role: every IO entry point must fail with NALA_E_UNSUPPORTED naming libnala_cv.so, the path
 * of $NALA_CV_LIBRARY and the dlerror() text want; the plain-C ones must still work. */
static int child_main(const char *want) {
  const char *library = getenv("NALA_CV_LIBRARY");
  int bad = 0;
  nala_err err;
  nala_image img = {0}, dst = {0};
  uint8_t pixels[4 * 4 * 3] = {0}, white[3] = {255, 255, 255};
  nala_image borrowed = {4, 4, 3, 12, pixels, NALA_BGR}, small = {2, 2, 3, 6, pixels, NALA_BGR};
  nala_video_reader *reader = (nala_video_reader *)&img; /* must be overwritten with NULL */
  nala_video_writer *writer = (nala_video_writer *)&img;
  nala_text_mask mask = {0};
  int w, h, base, got = 7;
  static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  struct {
    const char *name;
    nala_status st;
  } calls[] = {
      {"nala_image_read", nala_image_read(IMG("color_37x53.png"), NALA_BGR, 0, &img, &err)},
      {"nala_image_read_exif", nala_image_read_exif(IMG("color_37x53.jpg"), NALA_RGB, 0, NALA_EXIF_APPLY, &img, &err)},
      {"nala_image_decode", nala_image_decode(png, sizeof png, "bytes", NALA_BGR, 0, NALA_EXIF_IGNORE, &img, &err)},
      {"nala_image_write", nala_image_write("/tmp/nala_cv_lazy_never_written.png", &borrowed, &err)},
      {"nala_image_resize", nala_image_resize(&borrowed, &small, NALA_INTERP_AREA, &err)},
      {"nala_image_convert", nala_image_convert(&borrowed, &borrowed, &err)},
      {"nala_image_text_size", nala_image_text_size("x", 0.4, &w, &h, &base, &err)},
      {"nala_image_draw_text", nala_image_draw_text(&borrowed, "x", 1, 3, 0.4, white, &err)},
      {"nala_text_mask_measure", nala_text_mask_measure("x", 0.4, &mask, &err)},
      {"nala_text_mask_render", nala_text_mask_render("x", 0.4, &mask, &err)},
      {"nala_video_open", nala_video_open(IMG("color_37x53.png"), &reader, &err)},
      {"nala_video_open_camera", nala_video_open_camera(0, &reader, &err)},
      {"nala_video_writer_open", nala_video_writer_open("/tmp/nala_cv_lazy.mp4", 4, 4, 25, NULL, &writer, &err)},
      {"nala_video_read", nala_video_read(reader, NALA_BGR, &dst, &got, &err)},
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    if (calls[i].st != NALA_E_UNSUPPORTED) {
      printf("child: %s returned %s, want NALA_E_UNSUPPORTED\n", calls[i].name, nala_status_string(calls[i].st));
      bad = 1;
    }
  }
  /* err holds the last call's message; a call that failed otherwise was reported above. */
  printf("child ($NALA_CV_LIBRARY=%s): %s\n", library, err.msg);
  if (!strstr(err.msg, "libnala_cv.so") || !strstr(err.msg, library) || !strstr(err.msg, want)) {
    printf("child: the message does not name libnala_cv.so, %s and '%s'\n", library, want);
    bad = 1;
  }
  if (img.data || reader || writer || got != 0) {
    printf("child: an out-parameter was not cleared (image %p, reader %p, writer %p, got %d)\n", (void *)img.data,
           (void *)reader, (void *)writer, got);
    bad = 1;
  }
  nala_video_close(NULL);
  nala_video_writer_abort(NULL);
  nala_video_info none = nala_video_get_info(NULL);
  if (nala_video_writer_close(NULL, &err) != NALA_E_ARG || none.w != 0) {
    printf("child: NULL handles were not refused cleanly\n");
    bad = 1;
  }
  nala_image lab;
  if (nala_image_read_labels(IMG("labels_29x31.png"), &lab, &err) != NALA_OK) {
    printf("child: label maps need no OpenCV, but: %s\n", err.msg);
    bad = 1;
  }
  nala_image_free(&lab);
  return bad;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--child") == 0)
    return child_main(argv[2]);
  Suite *s = suite_create("cv_lazy");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, opencv_is_mapped_only_for_io);
  tcase_add_test(tc, missing_shim_is_a_status_naming_it);
  tcase_add_test(tc, cli_model_commands_load_no_opencv);
  suite_add_tcase(s, tc);
  return nala_run_suite(s);
}
