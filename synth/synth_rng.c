/* splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for drawing scenes; each image
 * gets its own state from (seed, stream, index), so any image can be rebuilt alone. */
#include <math.h>

#include "synth/synth_internal.h"

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

sy_rng sy_rng_make(uint64_t seed, uint64_t stream, uint64_t index) {
  sy_rng r = {mix(mix(seed + 0x9e3779b97f4a7c15ULL) ^ mix(stream * 0x632be59bd9b4e019ULL + 1) ^
                  mix(index * 0x85157af5ULL + 0x2545f4914f6cdd1dULL))};
  return r;
}

uint64_t sy_next(sy_rng *r) {
  r->s += 0x9e3779b97f4a7c15ULL;
  return mix(r->s);
}

double sy_uniform(sy_rng *r, double lo, double hi) {
  return lo + (hi - lo) * ((double)(sy_next(r) >> 11) * (1.0 / 9007199254740992.0));
}

int sy_int(sy_rng *r, int lo, int hi) {
  if (hi <= lo)
    return lo;
  return lo + (int)(sy_next(r) % (uint64_t)(hi - lo + 1));
}

double sy_normal(sy_rng *r) {
  double u1 = sy_uniform(r, 1e-12, 1.0), u2 = sy_uniform(r, 0.0, 1.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int sy_chance(sy_rng *r, double p) { return sy_uniform(r, 0.0, 1.0) < p; }
