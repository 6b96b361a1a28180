/* nala synth seg|coco|video: the procedural datasets of nala/synth.h from the command line. */
#include <stdio.h>
#include <string.h>

#include "nala/synth.h"
#include "tools/cli.h"
#include "tools/cli_args.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala synth seg   --out DIR --count N --size HxW [--seed S] [--split NAME]\n"
          "       nala synth coco  --out DIR --count N --size HxW [--seed S] [--split NAME]\n"
          "       nala synth video --out CLIP.mp4 --frames N --size HxW [--seed S] [--fps F] [--labels DIR]\n"
          "Procedural datasets; the same arguments always give the same bytes.\n"
          "  seg    street scenes (%d classes: sky, building, road, ...) in ADE20K's layout:\n"
          "         DIR/images/SPLIT/*.jpg, DIR/annotations/SPLIT/*.png (values 1..%d, read with\n"
          "         reduce_zero_label), DIR/classes.json (names, palette). SPLIT defaults to validation.\n"
          "  coco   shape scenes (%d classes) as a COCO instances dataset: DIR/images/SPLIT/*.jpg and\n"
          "         DIR/annotations/instances_SPLIT.json (RLE masks, boxes, areas). SPLIT defaults to val.\n"
          "  video  a street clip (camera pan, moving cars and people); --labels DIR writes each frame's\n"
          "         label map as DIR/NNNNNN.png (as seg's annotations). --fps defaults to 10.\n"
          "  --seed defaults to 0.\n",
          nala_synth_seg_num_classes(), nala_synth_seg_num_classes(), nala_synth_coco_num_classes());
}

int nala_cli_synth(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "seg") && strcmp(argv[1], "coco") && strcmp(argv[1], "video"))) {
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
      usage(stdout);
      return NALA_EXIT_OK;
    }
    fprintf(stderr, "nala synth: expected seg, coco or video%s%s\n", argc >= 2 ? ", got " : "", argc >= 2 ? argv[1] : "");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  const char *kind = argv[1];
  int video = !strcmp(kind, "video");
  const char *out = NULL, *split = NULL, *labels = NULL;
  int count = 0, frames = 0, fps = 10, size[2] = {0, 0};
  uint64_t seed = 0;
  const cli_option own[] = {{"--out", CLI_TEXT, &out, 0, 0, NULL},
                            {"--count", CLI_INT, &count, 1, 10000000, NULL},
                            {"--frames", CLI_INT, &frames, 1, 1000000, NULL},
                            {"--size", CLI_SIZE, size, 0, 0, NULL},
                            {"--seed", CLI_U64, &seed, 0, 0, NULL},
                            {"--split", CLI_TEXT, &split, 0, 0, NULL},
                            {"--labels", CLI_TEXT, &labels, 0, 0, NULL},
                            {"--fps", CLI_INT, &fps, 1, 240, NULL},
                            {0}};
  const cli_option *tables[] = {own, NULL};
  char cmd[32];
  snprintf(cmd, sizeof cmd, "nala synth %s", kind);
  int parsed = cli_parse_options(cmd, argc - 1, argv + 1, tables, usage);
  if (parsed >= 0)
    return parsed;
  const char *missing = !out ? "--out" : !size[0] ? "--size" : video && !frames ? "--frames" : !video && !count ? "--count" : NULL;
  const char *wrong = video ? (count ? "--count" : split ? "--split" : NULL) : (frames ? "--frames" : labels ? "--labels" : NULL);
  if (missing || wrong) {
    fprintf(stderr, "%s: %s %s\n", cmd, missing ? missing : wrong, missing ? "is required" : "does not apply here");
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  nala_err err;
  nala_err_clear(&err);
  nala_status st;
  if (!strcmp(kind, "seg"))
    st = nala_synth_seg_write(out, split ? split : "validation", count, size[0], size[1], seed, &err);
  else if (!strcmp(kind, "coco"))
    st = nala_synth_coco_write(out, split ? split : "val", count, size[0], size[1], seed, &err);
  else
    st = nala_synth_video_write(out, labels, frames, size[0], size[1], seed, fps, &err);
  if (st != NALA_OK) {
    if (!strncmp(err.msg, "synth ", 6)) /* the library already names the generator */
      fprintf(stderr, "nala %s\n", err.msg);
    else
      fprintf(stderr, "%s: %s\n", cmd, err.msg);
    return st == NALA_E_ARG ? NALA_EXIT_USAGE : NALA_EXIT_RUNTIME;
  }
  if (video)
    printf("wrote %s: %d frames of %dx%d at %d fps%s%s\n", out, frames, size[0], size[1], fps,
           labels ? ", label maps in " : "", labels ? labels : "");
  else
    printf("wrote %d %s scenes of %dx%d (seed %llu) to %s\n", count, kind, size[0], size[1], (unsigned long long)seed, out);
  return NALA_EXIT_OK;
}
