#include "nala/synth.h"
nala_status nala_synth_video_write(const char *path, const char *labels_dir, int frames, int h, int w, uint64_t seed,
                                   double fps, nala_err *err) { (void)path; (void)labels_dir; (void)frames; (void)h; (void)w; (void)seed; (void)fps;
  return nala_fail(err, NALA_E_UNSUPPORTED, "todo"); }
