/* Helpers of tests/test_attention.c: seeded problems laid out like the backbone's qkvg output,
 * and NALA.py's attention formulas restated plainly in double (included by that test only). */
#ifndef NALA_TESTS_ATTENTION_DIRECT_H
#define NALA_TESTS_ATTENTION_DIRECT_H

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels/attention.h"
#include "core/kernels/rope.h"

/* ---- problems: seeded inputs laid out like the backbone's qkvg output ---- */

typedef struct problem {
  int H, W, N, heads, d, C, ld_qk, ld_v, ld_out, nthreads;
  float *qk, *v, *out, *ws, *rope_buf, *angle;
  nala_rope rope;
} problem;

static unsigned long long rng_next(unsigned long long *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

/* Approximately N(0, 1): sum of four uniforms, rescaled. */
static float rng_normal(unsigned long long *s) {
  double u = 0;
  for (int i = 0; i < 4; i++)
    u += (double)(rng_next(s) >> 11) / 9007199254740992.0;
  return (float)((u - 2.0) * 1.7320508);
}

/* q at columns [0, C) and k at [C, 2C) of rows of ld_qk = 2C + 3 (odd padding exercises the
 * strides), v rows of C + 1, out rows of C + 5. */
static void problem_init(problem *p, int H, int W, int heads, int d, unsigned long long seed, float qs, float ks,
                         float vs) {
  memset(p, 0, sizeof *p);
  p->H = H, p->W = W, p->N = H * W, p->heads = heads, p->d = d, p->C = heads * d;
  p->ld_qk = 2 * p->C + 3, p->ld_v = p->C + 1, p->ld_out = p->C + 5, p->nthreads = 3;
  p->qk = malloc(sizeof(float) * (size_t)p->N * p->ld_qk);
  p->v = malloc(sizeof(float) * (size_t)p->N * p->ld_v);
  p->out = malloc(sizeof(float) * (size_t)p->N * p->ld_out);
  size_t wl = nala_attn_linear_ws_floats(p->N, heads, d, p->nthreads);
  size_t wsm = nala_attn_softmax_ws_floats(p->N, heads, d, p->nthreads);
  p->ws = malloc(sizeof(float) * (wl > wsm ? wl : wsm));
  p->angle = malloc(sizeof(float) * (size_t)d / 2);
  p->rope_buf = malloc(sizeof(float) * nala_rope_tables_floats(H, W, d));
  ck_assert(p->qk && p->v && p->out && p->ws && p->angle && p->rope_buf);
  unsigned long long s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int n = 0; n < p->N; n++) {
    for (int c = 0; c < p->ld_qk; c++)
      p->qk[(size_t)n * p->ld_qk + c] = (c < p->C ? qs : ks) * rng_normal(&s);
    for (int c = 0; c < p->ld_v; c++)
      p->v[(size_t)n * p->ld_v + c] = vs * rng_normal(&s);
  }
  nala_rope_angle(d, p->angle);
  nala_rope_build(H, W, d, p->angle, p->rope_buf, &p->rope);
}

static void problem_free(problem *p) {
  free(p->qk), free(p->v), free(p->out), free(p->ws), free(p->angle), free(p->rope_buf);
}

static float *qrow(const problem *p, int n, int h) { return p->qk + (size_t)n * p->ld_qk + (size_t)h * p->d; }
static float *krow(const problem *p, int n, int h) { return qrow(p, n, h) + p->C; }

static nala_attn_args problem_args(problem *p, nala_err *err) {
  nala_attn_args a = {.q = p->qk, .k = p->qk + p->C, .v = p->v, .ld_qk = p->ld_qk, .ld_v = p->ld_v,
                      .out = p->out, .ld_out = p->ld_out, .N = p->N, .heads = p->heads, .d = p->d,
                      .rope = &p->rope, .ws = p->ws, .nthreads = p->nthreads, .err = err};
  return a;
}

/* ---- the formulas of NALA.py, restated plainly in double (same fp32 RoPE tables) ---- */

static void rope_d(const problem *p, int n, const double *x, double *out) {
  int half = p->d / 2, y = n / p->W, xw = n % p->W;
  for (int i = 0; i < p->d; i++) {
    const float *sn = i < half ? p->rope.sin_h + (size_t)y * half + i : p->rope.sin_w + (size_t)xw * half + i - half;
    const float *cs = i < half ? p->rope.cos_h + (size_t)y * half + i : p->rope.cos_w + (size_t)xw * half + i - half;
    double rot = i % 2 == 0 ? -x[i + 1] : x[i - 1];
    out[i] = x[i] * *cs + rot * *sn;
  }
}

static float *direct_linear(const problem *p) {
  int N = p->N, d = p->d, F = 2 * d;
  float *out = calloc((size_t)N * p->C, sizeof(float));
  double *K = malloc(sizeof(double) * (size_t)N * F), *Kr = malloc(sizeof(double) * (size_t)N * F);
  double *kv = malloc(sizeof(double) * (size_t)F * d), kmean[256], Q[256], Qr[256];
  for (int h = 0; h < p->heads; h++) {
    memset(kv, 0, sizeof(double) * (size_t)F * d);
    memset(kmean, 0, sizeof kmean);
    for (int n = 0; n < N; n++) {
      const float *k = krow(p, n, h);
      double *Kn = K + (size_t)n * F, *Krn = Kr + (size_t)n * F;
      for (int i = 0; i < d; i++) {
        double k3 = (double)k[i] * k[i] * k[i];
        Kn[i] = fmax(k3, 0.0), Kn[d + i] = fmax(-k3, 0.0);
      }
      rope_d(p, n, Kn, Krn);
      rope_d(p, n, Kn + d, Krn + d);
      for (int f = 0; f < F; f++) {
        kmean[f] += Kn[f] / N;
        for (int j = 0; j < d; j++)
          kv[(size_t)f * d + j] += Krn[f] * p->v[(size_t)n * p->ld_v + (size_t)h * d + j] / N;
      }
    }
    for (int n = 0; n < N; n++) {
      const float *q = qrow(p, n, h);
      double qn = 0;
      for (int i = 0; i < d; i++)
        qn += (double)q[i] * q[i];
      qn = sqrt(qn);
      if (qn == 0.0)
        continue; /* defined as 0 (PyTorch: NaN) */
      double pw = 3.0 * (0.5 + tanh(qn));
      for (int i = 0; i < d; i++) {
        Q[i] = pow(fmax(q[i], 0.0) / qn, pw);
        Q[d + i] = pow(fmax(-q[i], 0.0) / qn, pw);
      }
      rope_d(p, n, Q, Qr);
      rope_d(p, n, Q + d, Qr + d);
      double den = 0;
      for (int f = 0; f < F; f++)
        den += Q[f] * kmean[f];
      for (int j = 0; j < d; j++) {
        double acc = 0;
        for (int f = 0; f < F; f++)
          acc += Qr[f] * kv[(size_t)f * d + j];
        out[(size_t)n * p->C + (size_t)h * d + j] = (float)(acc / (den + 1e-6));
      }
    }
  }
  free(K), free(Kr), free(kv);
  return out;
}

/* Softmax with the whole N x N score matrix (small N only). */
static float *direct_softmax(const problem *p) {
  int N = p->N, d = p->d;
  float *out = calloc((size_t)N * p->C, sizeof(float));
  double *qr = malloc(sizeof(double) * (size_t)N * d), *kr = malloc(sizeof(double) * (size_t)N * d);
  double *S = malloc(sizeof(double) * (size_t)N * N), x[128];
  for (int h = 0; h < p->heads; h++) {
    for (int n = 0; n < N; n++) {
      for (int i = 0; i < d; i++)
        x[i] = qrow(p, n, h)[i];
      rope_d(p, n, x, qr + (size_t)n * d);
      for (int i = 0; i < d; i++)
        x[i] = krow(p, n, h)[i];
      rope_d(p, n, x, kr + (size_t)n * d);
    }
    for (int n = 0; n < N; n++) {
      double mx = -INFINITY, sum = 0;
      for (int m = 0; m < N; m++) {
        double s = 0;
        for (int i = 0; i < d; i++)
          s += qr[(size_t)n * d + i] * kr[(size_t)m * d + i];
        S[(size_t)n * N + m] = s / sqrt((double)d);
        mx = fmax(mx, S[(size_t)n * N + m]);
      }
      for (int m = 0; m < N; m++)
        sum += (S[(size_t)n * N + m] = exp(S[(size_t)n * N + m] - mx));
      for (int j = 0; j < d; j++) {
        double acc = 0;
        for (int m = 0; m < N; m++)
          acc += S[(size_t)n * N + m] * p->v[(size_t)m * p->ld_v + (size_t)h * d + j];
        out[(size_t)n * p->C + (size_t)h * d + j] = (float)(acc / sum);
      }
    }
  }
  free(qr), free(kr), free(S);
  return out;
}

#endif
