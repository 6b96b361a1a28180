/* STUB, replaced by the seg-cli work (images, folders, video, cameras): keeps the build green
 * until that lands. `nala seg --dump` (tools/cli_seg.c) does not go through here. */
#include <stdio.h>

#include "tools/cli.h"
#include "tools/cli_seg.h"

int cli_seg_stream(const cli_seg_opts *o) {
  fprintf(stderr, "nala seg: --input %s: images, folders, video and cameras are not yet implemented (use --dump)\n",
          o->input ? o->input : "(none)");
  return NALA_EXIT_RUNTIME;
}
