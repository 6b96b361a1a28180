/* The `nala` command: one table of commands, from which both dispatch and the usage text come. */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

typedef struct cli_command {
  const char *words[2]; /* "eval", "coco"; second NULL for a one-word command */
  const char *args;     /* argument synopsis for the usage text */
  const char *help;     /* one line */
  int (*run)(int argc, char **argv);
  int keep_first; /* hand argv from the first word on (the command reads its own subcommand) */
} cli_command;

static const cli_command commands[] = {
    {{"demo", NULL}, "[--size HxW] [model options]", "backbone on a generated image with seeded weights",
     nala_cli_demo, 0},
    {{"backbone", NULL}, "--model M --input X --dump OUT", "run the backbone, dump the feature pyramid",
     nala_cli_backbone, 0},
    {{"det", NULL}, "--config C --input X (--out P | --dump D)", "detect objects (RetinaNet, Mask R-CNN)",
     nala_cli_det, 0},
    {{"bench", "backbone"}, "--model M --size HxW ...", "time the backbone", nala_bench_backbone, 0},
    {{"seg", NULL}, "--config C --input X --out P [--contact-sheet S.png] [--labels-dir D] | --dump D",
     "segment images, video, cameras (overlay video, contact sheet, label PNGs); parity dump", nala_cli_seg, 0},
    {{"bench", "seg"}, "--config C --size HxW ...", "time a segmentor, tensor to label map", nala_bench_seg, 0},
    {{"bench", "attention"}, "--tokens N ...", "time the attention kernels alone", nala_bench_attention, 0},
    {{"bench", "det"}, "--config C --size HxW ...", "time a detector, tensor to detections", nala_bench_det, 0},
    {{"eval", "coco"}, "--gt G --results R --iou-type bbox|segm | --config C --data-root D --out-prefix P",
     "COCO mAP as pycocotools reports it (of a results file, or of a detector over a split)", nala_cli_eval_coco, 0},
    {{"eval", "seg"}, "--dataset ade20k|cityscapes|synth --pred DIR --gt DIR | --config C --data-root D",
     "mIoU as mmseg reports it (of label PNGs, or of a segmentor over a split)", nala_cli_eval_seg, 0},
    {{"config", "show"}, "FILE [--output OUT]", "print the fully merged, validated config", nala_cli_config, 1},
    {{"config", "samples"}, "FILE [--check] [--limit N] [--shard i/n]", "list the samples of a config's dataset",
     nala_cli_config, 1},
    {{"synth", "seg"}, "--out DIR --count N --size HxW [--seed S]", "street scenes as an mmseg dataset", nala_cli_synth, 1},
    {{"synth", "coco"}, "--out DIR --count N --size HxW [--seed S]", "shape scenes as a COCO instances dataset",
     nala_cli_synth, 1},
    {{"synth", "video"}, "--out CLIP.mp4 --frames N --size HxW", "a panning street clip (+ --labels DIR)",
     nala_cli_synth, 1},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out, const char *only_first_word) {
  fprintf(out, "usage: nala <command> [options]\ncommands:\n");
  for (int i = 0; i < N_COMMANDS; i++) {
    const cli_command *c = &commands[i];
    if (only_first_word && strcmp(c->words[0], only_first_word))
      continue;
    char name[64];
    snprintf(name, sizeof name, "%s%s%s", c->words[0], c->words[1] ? " " : "", c->words[1] ? c->words[1] : "");
    fprintf(out, "  %-18s %s\n  %-18s   %s\n", name, c->args, "", c->help);
  }
  fprintf(out, "Run `nala <command> --help` for its options. Exit codes: 0 ok, 1 bad data or runtime error\n"
               "(the message names the file, key or value), 2 bad arguments.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr, NULL);
    return NALA_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout, NULL);
    return NALA_EXIT_OK;
  }
  int first_word_known = 0;
  const cli_command *reads_own_subcommand = NULL;
  for (int i = 0; i < N_COMMANDS; i++) {
    const cli_command *c = &commands[i];
    if (strcmp(c->words[0], cmd))
      continue;
    first_word_known = 1;
    if (!c->words[1])
      return c->run(argc - 1, argv + 1);
    if (argc >= 3 && !strcmp(c->words[1], argv[2]))
      return c->keep_first ? c->run(argc - 1, argv + 1) : c->run(argc - 2, argv + 2);
    if (c->keep_first && !reads_own_subcommand)
      reads_own_subcommand = c;
  }
  /* A command that reads its own subcommand explains a missing or wrong one with its own usage. */
  if (reads_own_subcommand)
    return reads_own_subcommand->run(argc - 1, argv + 1);
  if (first_word_known && argc >= 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
    usage(stdout, cmd);
    return NALA_EXIT_OK;
  }
  if (first_word_known)
    fprintf(stderr, "nala %s: unknown or missing subcommand%s%s\n", cmd, argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
  else
    fprintf(stderr, "nala: unknown command '%s'\n", cmd);
  usage(stderr, first_word_known ? cmd : NULL);
  return NALA_EXIT_USAGE;
}
