/* Vector RoPE, exp2 / pow / tanh for the AVX2 attention kernels (include only from *_avx2.c).
 * The same formulas as avx512_math.h on 8-lane YMM vectors; what AVX-512 does in one instruction
 * (getexp / getmant, scalef, masked moves) is built from integer bit operations here, giving the
 * same results: the exponent split and the power-of-two scaling are exact, so the accuracy
 * figures of avx512_math.h hold unchanged:
 *   nala_exp2_ps256          ~2 ulp on [-126, 128]; 0 below -150, subnormal results rounded once.
 *   nala_pow_unit_ps256(x,p) x in [0, 1], p in [1.5, 4.5]: ~3e-7 relative (subnormal x included).
 *   nala_tanh_pd256          x >= 0 in double: ~1e-15 absolute. */
#ifndef NALA_CORE_KERNELS_AVX2_MATH_H
#define NALA_CORE_KERNELS_AVX2_MATH_H

#include <immintrin.h>

#include "core/kernels/attn_internal.h"

/* theta_shift of one vector of 8 features (4 rotation pairs) held in a register, sn / cs its
 * columns of the tables: the operations of nala_rope_vec_avx2, so results are identical. */
static inline __m256 nala_rope_ymm(__m256 v, __m256 sn, __m256 cs) {
  __m256 sw = _mm256_permute_ps(v, 0xB1);
  __m256 rot = _mm256_blend_ps(sw, _mm256_sub_ps(_mm256_setzero_ps(), sw), 0x55);
  return _mm256_add_ps(_mm256_mul_ps(v, cs), _mm256_mul_ps(rot, sn));
}

/* theta_shift of D8 = d/8 vectors: rot pairs (x0, x1) -> (-x1, x0), fp32 products then add
 * (the negation is 0 - x, as in the AVX-512 kernel, so signed zeros agree too). */
static inline void nala_rope_vec_avx2(const float *x, float *out, int D8, nala_rope_rows rows) {
  int half_vecs = D8 / 2;
  __m256 zero = _mm256_setzero_ps();
  for (int c = 0; c < D8; c++) {
    const float *sn = c < half_vecs ? rows.sin_h + 8 * c : rows.sin_w + 8 * (c - half_vecs);
    const float *cs = c < half_vecs ? rows.cos_h + 8 * c : rows.cos_w + 8 * (c - half_vecs);
    __m256 v = _mm256_loadu_ps(x + 8 * c);
    __m256 sw = _mm256_permute_ps(v, 0xB1);
    __m256 rot = _mm256_blend_ps(sw, _mm256_sub_ps(zero, sw), 0x55);
    __m256 a = _mm256_mul_ps(v, _mm256_loadu_ps(cs)), b = _mm256_mul_ps(rot, _mm256_loadu_ps(sn));
    _mm256_storeu_ps(out + 8 * c, _mm256_add_ps(a, b));
  }
}

/* 2^f for f in [-0.5 - e, 0.5 + e]: the degree-7 Taylor series of avx512_math.h. */
static inline __m256 nala_exp2_frac_ps256(__m256 f) {
  __m256 r = _mm256_set1_ps(1.52527338e-5f);
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.54035304e-4f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.33335581e-3f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(9.61812911e-3f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(5.55041087e-2f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(2.40226507e-1f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(6.93147182e-1f));
  return _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.0f));
}

/* r * 2^n for integral n in [-160, 128] (vscalefps of AVX-512): two exact power-of-two factors
 * 2^(n/2) and 2^(n - n/2), each a normal float, so the product rounds once, into the subnormal
 * range where it must, and overflows to inf where scalef does. */
static inline __m256 nala_scale2_ps256(__m256 r, __m256 n) {
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  __m256i bias = _mm256_set1_epi32(127);
  __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(r, p1), p2);
}

/* 2^t; t below -150 gives 0 (t = -inf included, so masked scores vanish). */
static inline __m256 nala_exp2_ps256(__m256 t) {
  t = _mm256_max_ps(t, _mm256_set1_ps(-150.0f));
  t = _mm256_min_ps(t, _mm256_set1_ps(128.0f));
  __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return nala_scale2_ps256(nala_exp2_frac_ps256(_mm256_sub_ps(t, n)), n);
}

/* e^x for x <= 0 (softmax weights). */
static inline __m256 nala_exp_nonpos_ps256(__m256 x) {
  return nala_exp2_ps256(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)));
}

/* e^x for x <= 0 or NaN, the softmax weights' exponential, in 12 operations (nala_exp_nonpos_ps256:
 * 20): t = x log2(e) clamped below at -127 (the operand order keeps a NaN t), n = round(t) and
 * the bits of 2^n from one add of 1.5 * 2^23 + 127 (t + magic holds n + 127 in its low bits),
 * f = t - n in [-0.5, 0.5], 2^f a degree-6 minimax polynomial (relative error 7.9e-8, 0.66 ulp
 * after fp32 Horner, measured in fp64 on 1e6 points). 2^n is built as a normal float, so
 * results below 2^-126 (t < -126.5) flush to 0: in a softmax every weight is relative to the
 * row maximum's weight 1, so what is dropped is below 1e-38 of the sum. */
static inline __m256 nala_exp_softmax_ps256(__m256 x) {
  __m256 t = _mm256_max_ps(_mm256_set1_ps(-127.0f), _mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)));
  __m256 magic = _mm256_set1_ps(12583039.0f); /* 1.5 * 2^23 + 127 */
  __m256 tm = _mm256_add_ps(t, magic);
  __m256 f = _mm256_sub_ps(t, _mm256_sub_ps(tm, magic));
  __m256 r = _mm256_set1_ps(1.534581243e-4f);
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.339993090e-3f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(9.618489072e-3f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(5.550328642e-2f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(2.402264625e-1f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(6.931471825e-1f));
  r = _mm256_fmadd_ps(r, f, _mm256_set1_ps(1.0f));
  return _mm256_mul_ps(r, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(tm), 23)));
}

/* ln(m) for m in [sqrt(1/2), sqrt(2)): the atanh series of avx512_math.h. */
static inline __m256 nala_log_mant_ps256(__m256 m) {
  __m256 one = _mm256_set1_ps(1.0f);
  __m256 s = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  __m256 s2 = _mm256_mul_ps(s, s);
  __m256 r = _mm256_set1_ps(1.0f / 11.0f);
  r = _mm256_fmadd_ps(r, s2, _mm256_set1_ps(1.0f / 9.0f));
  r = _mm256_fmadd_ps(r, s2, _mm256_set1_ps(1.0f / 7.0f));
  r = _mm256_fmadd_ps(r, s2, _mm256_set1_ps(1.0f / 5.0f));
  r = _mm256_fmadd_ps(r, s2, _mm256_set1_ps(1.0f / 3.0f));
  r = _mm256_mul_ps(r, s2);
  __m256 two_s = _mm256_add_ps(s, s);
  return _mm256_fmadd_ps(two_s, r, two_s);
}

/* x^p for x in [0, 1] and p > 0: exp2(p * log2 x), 0 where x == 0 (nala_pow_unit_ps of
 * avx512_math.h). x = 2^e * m, m in [1, 2), read from the bits; subnormal x are first scaled by
 * 2^24 (exact) and e corrected, which is what getexp/getmant do for them. */
static inline __m256 nala_pow_unit_ps256(__m256 x, __m256 p) {
  __m256 zero = _mm256_setzero_ps();
  __m256 pos = _mm256_cmp_ps(x, zero, _CMP_GT_OQ);
  __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  x = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(16777216.0f)), tiny);
  __m256i bits = _mm256_castps_si256(x);
  __m256i ei = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  __m256 e = _mm256_sub_ps(_mm256_cvtepi32_ps(ei), _mm256_and_ps(tiny, _mm256_set1_ps(24.0f)));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
  __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_ps(e, _mm256_and_ps(big, _mm256_set1_ps(1.0f)));
  __m256 log2m = _mm256_mul_ps(nala_log_mant_ps256(m), _mm256_set1_ps(1.44269504f));
  __m256 y_hi = _mm256_mul_ps(p, e);
  __m256 y_err = _mm256_fmsub_ps(p, e, y_hi); /* exact: p*e - y_hi */
  __m256 y_lo = _mm256_fmadd_ps(p, log2m, y_err);
  __m256 y = _mm256_add_ps(y_hi, y_lo);
  y = _mm256_max_ps(y, _mm256_set1_ps(-160.0f));
  __m256 n = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 f = _mm256_add_ps(_mm256_sub_ps(_mm256_max_ps(y_hi, _mm256_set1_ps(-160.0f)), n), y_lo);
  __m256 r = nala_scale2_ps256(nala_exp2_frac_ps256(f), n);
  return _mm256_and_ps(r, pos);
}

/* tanh(x) for x >= 0 in double, 4 lanes: (1 - e) / (1 + e), e = exp(-2x), x clamped to 40
 * (the series of avx512_math.h; 2^n, n in [-116, 0], built from the exponent bits). */
static inline __m256d nala_tanh_pd256(__m256d x) {
  x = _mm256_min_pd(x, _mm256_set1_pd(40.0));
  __m256d t = _mm256_mul_pd(x, _mm256_set1_pd(-2.0 * 1.4426950408889634));
  __m256d n = _mm256_round_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d f = _mm256_mul_pd(_mm256_sub_pd(t, n), _mm256_set1_pd(0.6931471805599453));
  __m256d r = _mm256_set1_pd(1.0 / 6227020800.0);
  static const double inv_fact[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                      1.0 / 40320.0,     1.0 / 5040.0,      1.0 / 720.0,     1.0 / 120.0,
                                      1.0 / 24.0,        1.0 / 6.0,         0.5,             1.0,
                                      1.0};
  for (int i = 0; i < 13; i++)
    r = _mm256_fmadd_pd(r, f, _mm256_set1_pd(inv_fact[i]));
  __m256i ni = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n));
  __m256d pow2n = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(ni, _mm256_set1_epi64x(1023)), 52));
  __m256d e = _mm256_mul_pd(r, pow2n);
  __m256d one = _mm256_set1_pd(1.0);
  return _mm256_div_pd(_mm256_sub_pd(one, e), _mm256_add_pd(one, e));
}

#endif
