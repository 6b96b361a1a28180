/* Synthetic camera frames for tests. */
#ifndef NALA_TEST_FRAMES_H
#define NALA_TEST_FRAMES_H

#include "nala/image_io.h"

/* An h x w BGR frame of a fixed non-periodic pattern (data malloc'd: free it); fails the running
 * check test when out of memory. */
nala_image nala_test_pattern_frame(int h, int w);

#endif
