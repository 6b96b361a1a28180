/* Multiply-accumulate count of one forward, for GFLOP/s figures (GFLOP = 2 * GMAC). Counts convs,
 * linears and the attention products; LayerNorm, activations and RoPE are not counted. */
#include "nala/backbone.h"

double nala_backbone_macs(const nala_backbone_cfg *cfg, int h, int w) {
  int h1 = (h + 1) / 2, w1 = (w + 1) / 2, hs = (h1 + 1) / 2, ws = (w1 + 1) / 2;
  double c0 = cfg->embed_dims[0], half = c0 / 2, n1 = (double)h1 * w1;
  double macs = n1 * half * 3 * 9 + 2 * n1 * half * half * 9 + (double)hs * ws * c0 * half * 9;
  int last = 0;
  for (int i = 0; i < cfg->n_out; i++)
    if (cfg->out_indices[i] > last)
      last = cfg->out_indices[i];
  for (int si = 0; si <= last; si++) {
    double n = (double)hs * ws, c = cfg->embed_dims[si], f = cfg->ffn_dims[si];
    double d = c / cfg->num_heads[si];
    for (int bi = 0; bi < cfg->depths[si]; bi++) {
      macs += n * c * (9 + 9 + 25) + n * f * 9;         /* cpe1, cpe2, lepe, ffn dwconv */
      macs += n * c * 4 * c + n * c * c + 2 * n * c * f; /* qkvg, out_proj, fc1, fc2 */
      if (cfg->attn[si][bi] == 'l')
        macs += 2 * (n * c * 2 * d) + 2 * n * c;         /* K^T V state, Q . state, Q . mean(K) */
      else
        macs += 2 * n * n * c;                           /* Q K^T and P V */
    }
    if (si < last) {
      int h2 = (hs + 1) / 2, w2 = (ws + 1) / 2;
      macs += (double)h2 * w2 * cfg->embed_dims[si + 1] * c * 9;
      hs = h2, ws = w2;
    }
  }
  return macs;
}
