/* Vector RoPE, exp2 / pow / tanh for the AVX-512 attention kernels (include only from *_avx512.c).
 *
 * Accuracy (measured against double in tests/test_attention.c through the kernels):
 *   exp2f_avx512   ~2 ulp on [-126, 128]; flushes to 0 below -150 and to the subnormal range
 *                  exactly through vscalefps.
 *   powf_unit_avx512(x, p) for x in [0, 1], p in [1.5, 4.5]: ~3e-7 relative (the exponent is
 *                  carried as hi + lo so p*floor(log2 x) adds no rounding).
 *   tanh_pd_avx512 for x >= 0 in double: ~1e-15 absolute, so its fp32 rounding matches tanhf. */
#ifndef NALA_CORE_KERNELS_AVX512_MATH_H
#define NALA_CORE_KERNELS_AVX512_MATH_H

#include <immintrin.h>

#include "core/kernels/attn_internal.h"

/* theta_shift of D vectors: rot pairs (x0, x1) -> (-x1, x0), fp32 products then add. */
static inline void nala_rope_vec_avx512(const float *x, float *out, int D, nala_rope_rows rows) {
  int half_vecs = D / 2;
  for (int c = 0; c < D; c++) {
    const float *sn = c < half_vecs ? rows.sin_h + 16 * c : rows.sin_w + 16 * (c - half_vecs);
    const float *cs = c < half_vecs ? rows.cos_h + 16 * c : rows.cos_w + 16 * (c - half_vecs);
    __m512 v = _mm512_loadu_ps(x + 16 * c);
    __m512 sw = _mm512_permute_ps(v, 0xB1);
    __m512 rot = _mm512_mask_sub_ps(sw, 0x5555, _mm512_setzero_ps(), sw);
    __m512 a = _mm512_mul_ps(v, _mm512_loadu_ps(cs)), b = _mm512_mul_ps(rot, _mm512_loadu_ps(sn));
    _mm512_storeu_ps(out + 16 * c, _mm512_add_ps(a, b));
  }
}

/* 2^f for f in [-0.5 - e, 0.5 + e]: Taylor series of e^(f ln 2) to degree 7, truncation
 * (0.35^8 / 8!) ~ 6e-9 relative, below fp32 rounding. */
static inline __m512 nala_exp2_frac_ps(__m512 f) {
  __m512 r = _mm512_set1_ps(1.52527338e-5f); /* ln2^7 / 7! */
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.54035304e-4f)); /* ln2^6 / 6! */
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.33335581e-3f)); /* ln2^5 / 5! */
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(9.61812911e-3f)); /* ln2^4 / 4! */
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(5.55041087e-2f)); /* ln2^3 / 3! */
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(2.40226507e-1f)); /* ln2^2 / 2! */
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(6.93147182e-1f)); /* ln2 */
  return _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.0f));
}

/* 2^t; t below -150 gives 0 (t = -inf included, so masked scores vanish). */
static inline __m512 nala_exp2_ps(__m512 t) {
  t = _mm512_max_ps(t, _mm512_set1_ps(-150.0f));
  t = _mm512_min_ps(t, _mm512_set1_ps(128.0f));
  __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_scalef_ps(nala_exp2_frac_ps(_mm512_sub_ps(t, n)), n);
}

/* e^x for x <= 0 (softmax weights): x * log2(e) costs one extra rounding, ~1 ulp of x*log2e. */
static inline __m512 nala_exp_nonpos_ps(__m512 x) {
  return nala_exp2_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)));
}

/* e^x for x <= 0 or NaN, the softmax weights' exponential: t = x log2(e), then 2^t =
 * 2^floor(t) * 2^f with f = t - floor(t) in [0, 1) from one vreduceps (exact), and vscalefps
 * applies floor(t) itself, so no separate rounding of t is needed. 2^f is a degree-6 minimax
 * polynomial (relative error 1.9e-9, 0.52 ulp max after fp32 Horner, both measured in fp64 on
 * 1e6 points). Four operations fewer than nala_exp_nonpos_ps (degree 7, clamp on both sides,
 * roundscale + subtract), same accuracy. t is clamped below at -160 (x = -inf gives 0); the
 * clamp's operand order returns t when t is NaN, so a NaN score stays NaN. */
static inline __m512 nala_exp_softmax_ps(__m512 x) {
  __m512 t = _mm512_max_ps(_mm512_set1_ps(-160.0f), _mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)));
  __m512 f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_set1_ps(2.170225489e-4f);
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.243968727e-3f));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(9.678840637e-3f));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(5.548334122e-2f));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(2.402298301e-1f));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(6.931470037e-1f));
  r = _mm512_fmadd_ps(r, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(r, t);
}

/* ln(m) for m in [sqrt(1/2), sqrt(2)): 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716; series to
 * s^11, truncation 2 s^13 / 13 ~ 1e-11 relative. m - 1 is exact (Sterbenz). */
static inline __m512 nala_log_mant_ps(__m512 m) {
  __m512 one = _mm512_set1_ps(1.0f);
  __m512 s = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
  __m512 s2 = _mm512_mul_ps(s, s);
  __m512 r = _mm512_set1_ps(1.0f / 11.0f);
  r = _mm512_fmadd_ps(r, s2, _mm512_set1_ps(1.0f / 9.0f));
  r = _mm512_fmadd_ps(r, s2, _mm512_set1_ps(1.0f / 7.0f));
  r = _mm512_fmadd_ps(r, s2, _mm512_set1_ps(1.0f / 5.0f));
  r = _mm512_fmadd_ps(r, s2, _mm512_set1_ps(1.0f / 3.0f));
  r = _mm512_mul_ps(r, s2);
  /* 2s (1 + s^2/3 + s^4/5 + ...): the leading term is added last so its rounding stays small */
  __m512 two_s = _mm512_add_ps(s, s);
  return _mm512_fmadd_ps(two_s, r, two_s);
}

/* x^p for x in [0, 1] (features relu(+-q)/||q||) and p > 0: exp2(p * log2 x), 0 where x == 0.
 * x = 2^e * m with m in [sqrt(1/2), sqrt(2)); p*e is split exactly into hi + lo with an FMA so
 * the large part of the exponent adds no rounding. Subnormal x are handled by getexp/getmant. */
static inline __m512 nala_pow_unit_ps(__m512 x, __m512 p) {
  __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
  __m512 e = _mm512_getexp_ps(x);
  __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
  __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(e, big, e, _mm512_set1_ps(1.0f));
  __m512 log2m = _mm512_mul_ps(nala_log_mant_ps(m), _mm512_set1_ps(1.44269504f));
  __m512 y_hi = _mm512_mul_ps(p, e);
  __m512 y_err = _mm512_fmsub_ps(p, e, y_hi); /* exact: p*e - y_hi */
  __m512 y_lo = _mm512_fmadd_ps(p, log2m, y_err);
  __m512 y = _mm512_add_ps(y_hi, y_lo);
  y = _mm512_max_ps(y, _mm512_set1_ps(-160.0f));
  __m512 n = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  /* y_hi - n is exact (both multiples of ulp(y_hi), difference below 2^24 of them) */
  __m512 f = _mm512_add_ps(_mm512_sub_ps(_mm512_max_ps(y_hi, _mm512_set1_ps(-160.0f)), n), y_lo);
  __m512 r = _mm512_scalef_ps(nala_exp2_frac_ps(f), n);
  return _mm512_maskz_mov_ps(pos, r);
}

/* tanh(x) for x >= 0 in double: (1 - e) / (1 + e) with e = exp(-2x); x is clamped to 40 where
 * tanh is 1 to double precision. exp uses the degree-13 Taylor series of 2^f, f in [-0.5, 0.5]. */
static inline __m512d nala_tanh_pd(__m512d x) {
  x = _mm512_min_pd(x, _mm512_set1_pd(40.0));
  __m512d t = _mm512_mul_pd(x, _mm512_set1_pd(-2.0 * 1.4426950408889634));
  __m512d n = _mm512_roundscale_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d f = _mm512_mul_pd(_mm512_sub_pd(t, n), _mm512_set1_pd(0.6931471805599453));
  /* e^f, |f| <= 0.347: Taylor to f^13, truncation 0.347^14 / 14! ~ 4e-18 */
  __m512d r = _mm512_set1_pd(1.0 / 6227020800.0);
  static const double inv_fact[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                      1.0 / 40320.0,     1.0 / 5040.0,      1.0 / 720.0,     1.0 / 120.0,
                                      1.0 / 24.0,        1.0 / 6.0,         0.5,             1.0,
                                      1.0};
  for (int i = 0; i < 13; i++)
    r = _mm512_fmadd_pd(r, f, _mm512_set1_pd(inv_fact[i]));
  __m512d e = _mm512_scalef_pd(r, n);
  __m512d one = _mm512_set1_pd(1.0);
  return _mm512_div_pd(_mm512_sub_pd(one, e), _mm512_add_pd(one, e));
}

#endif
