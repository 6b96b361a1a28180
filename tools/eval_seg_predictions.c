/* Which prediction `nala eval seg` compares with a ground-truth key (the ground truth itself is
 * listed by nala_seg_label_maps_list, as the datasets list it). */
#include "tools/eval_seg_predictions.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int is_regular_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int seg_find_prediction(const char *pred_dir, const char *key, int cityscapes, char *path_out, size_t cap) {
  const char *base = strrchr(key, '/');
  base = base ? base + 1 : key;
  /* Mirrored folders first, then flat; bare key first, then mmseg's Cityscapes image suffix. */
  const char *stems[2] = {key, base};
  const char *suffixes[2] = {".png", "_leftImg8bit.png"};
  int n_stems = base == key ? 1 : 2, n_suffixes = cityscapes ? 2 : 1;
  path_out[0] = '\0';
  for (int s = 0; s < n_stems; s++)
    for (int x = 0; x < n_suffixes; x++) {
      char candidate[4096];
      if (snprintf(candidate, sizeof candidate, "%s/%s%s", pred_dir, stems[s], suffixes[x]) >= (int)sizeof candidate)
        continue;
      if (!path_out[0] || is_regular_file(candidate))
        snprintf(path_out, cap, "%s", candidate);
      if (is_regular_file(candidate))
        return 1;
    }
  return 0;
}
