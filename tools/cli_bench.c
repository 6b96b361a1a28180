/* nala bench <what>: dispatch to the benchmark of one part. */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

int nala_cli_bench(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "backbone"))
    return nala_bench_backbone(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "attention"))
    return nala_bench_attention(argc - 1, argv + 1);
  fprintf(stderr, "usage: nala bench backbone|attention [options]\n");
  return NALA_EXIT_USAGE;
}
