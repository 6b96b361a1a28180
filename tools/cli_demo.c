/* Placeholder until its owner lands the real subcommand. */
#include <stdio.h>

#include "tools/cli.h"

int nala_cli_demo(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "nala: 'demo' is not built yet\n");
  return NALA_EXIT_RUNTIME;
}
