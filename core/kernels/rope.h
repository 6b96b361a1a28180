/* RoPE tables of NaLaFormer's official RoPE module, computed in float32 exactly as PyTorch does,
 * in the separable layout the attention kernels take (core/kernels/attention.h). */
#ifndef NALA_CORE_KERNELS_ROPE_H
#define NALA_CORE_KERNELS_ROPE_H

#include "core/kernels/attention.h"

/* RoPE.angle buffer of NALA.py for head_dim: 1 / 10000^linspace(0, 1, head_dim/4), each value
 * twice ([a0, a0, a1, a1, ...]), 2*(head_dim/4) floats, bit for bit as the reference PyTorch
 * (1.13, AVX2) computes it for every head_dim <= 76 and 84..100 (official ones: 32, 64, 96); some
 * larger head_dims differ by 1 ulp in a few entries. Checkpoints carry their own buffer. */
/* Defined in core/seeded_init.c (verified bit for bit against PyTorch there). */
void nala_rope_angle(int head_dim, float *angle);

/* sin_h/cos_h[y][j] = sinf/cosf(y * angle[j]) for y < H, sin_w/cos_w[x][j] likewise for x < W,
 * j < d/2, the product rounded to fp32 first (as index_h[:, None] * angle[None, :]). */
void nala_rope_tables(int H, int W, int d, const float *angle, float *sin_h, float *cos_h, float *sin_w,
                      float *cos_w);

/* Floats needed by nala_rope_tables' four outputs together: 2 * (H + W) * d/2. */
size_t nala_rope_tables_floats(int H, int W, int d);

/* Fills *rope to view four tables carved from one buffer of nala_rope_tables_floats() floats
 * (sin_h, cos_h, sin_w, cos_w in that order) after computing them from angle. */
void nala_rope_build(int H, int W, int d, const float *angle, float *buf, nala_rope *rope);

#endif
