/* STUB (branch retina): `nala det` on images / folders / videos / cameras is written on branch
 * det-cli, which replaces this file. Until then the runner reports that it is missing. */
#include <stdio.h>

#include "tools/cli.h"
#include "tools/cli_det.h"

int cli_det_stream(const cli_det_opts *o) {
  (void)o;
  fprintf(stderr, "nala det: image / video input is not built yet (tools/cli_det_stream.c is a stub); "
                  "use --input X.safetensors --dump OUT\n");
  return NALA_EXIT_RUNTIME;
}
