/* Placeholder until its owner lands the real benchmark. */
#include <stdio.h>

#include "tools/cli.h"

int nala_bench_backbone(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "nala: 'bench_backbone' is not built yet\n");
  return NALA_EXIT_RUNTIME;
}
