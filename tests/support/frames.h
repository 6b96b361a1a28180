/* Synthetic camera frames for tests. */
#ifndef NALA_TEST_FRAMES_H
#define NALA_TEST_FRAMES_H

#include "nala/image_io.h"

/* An h x w BGR frame of a fixed non-periodic pattern (data malloc'd: free it); fails the running
 * check test when out of memory. */
nala_image nala_test_pattern_frame(int h, int w);

/* Frame k of a moving clip: a smooth colour pattern that shifts with k plus seeded noise, so
 * frames differ and labels vary. Fills img (BGR, its own h, w and stride) in place. */
void nala_test_moving_frame(nala_image *img, int k);

#endif
