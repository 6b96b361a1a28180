/* The `nala` command: dispatches `nala <command> [<subcommand>] ...` to tools/cli_*.c. */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: nala <command> [options]\n"
          "commands:\n"
          "  demo                         backbone on a generated image with seeded weights\n"
          "  backbone --model M ...       run the backbone, dump the feature pyramid\n"
          "  bench backbone|attention ... time the backbone or the attention kernels\n"
          "  eval coco --gt G --results R --iou-type bbox|segm\n"
          "  eval seg --dataset ade20k|cityscapes --pred DIR --gt DIR\n"
          "  config show FILE             print the fully merged config\n"
          "Run `nala <command> --help` for its options.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return NALA_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return NALA_EXIT_OK;
  }
  if (!strcmp(cmd, "demo"))
    return nala_cli_demo(argc - 1, argv + 1);
  if (!strcmp(cmd, "backbone"))
    return nala_cli_backbone(argc - 1, argv + 1);
  if (!strcmp(cmd, "bench"))
    return nala_cli_bench(argc - 1, argv + 1);
  if (!strcmp(cmd, "config"))
    return nala_cli_config(argc - 1, argv + 1);
  if (!strcmp(cmd, "eval")) {
    if (argc >= 3 && !strcmp(argv[2], "coco"))
      return nala_cli_eval_coco(argc - 2, argv + 2);
    if (argc >= 3 && !strcmp(argv[2], "seg"))
      return nala_cli_eval_seg(argc - 2, argv + 2);
    fprintf(stderr, "nala eval: expected `coco` or `seg`\n");
    return NALA_EXIT_USAGE;
  }
  fprintf(stderr, "nala: unknown command '%s'\n", cmd);
  usage(stderr);
  return NALA_EXIT_USAGE;
}
