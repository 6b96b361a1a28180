#include "nala/synth.h"
int nala_synth_coco_num_classes(void) { return 5; }
const char *nala_synth_coco_class_name(int i) { (void)i; return NULL; }
nala_status nala_synth_coco_write(const char *out_dir, const char *split, int count, int h, int w, uint64_t seed,
                                  nala_err *err) { (void)out_dir; (void)split; (void)count; (void)h; (void)w; (void)seed;
  return nala_fail(err, NALA_E_UNSUPPORTED, "todo"); }
