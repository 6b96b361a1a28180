"""PyTorch reference of the NaLaFormer backbone in its dense-prediction form.

Math and module names follow the official NALA.py (ZacharyMeng/NaLaFormer, NaLaformer/NALA.py),
so state_dict keys equal checkpoint keys; the dense wrapper (stage outputs through extra_norms.i,
PatchMerging after the tap) follows qhfan/RALA detection/mmdet/models/backbones/RALA.py.
No timm: drop-path is identity at inference, so it is left out.

One deliberate difference from the official code: an all-zero query row makes NALA.py compute
q/||q|| = 0/0 = NaN. Here such a row gets q+ = q- = 0 (so its linear-attention term is exactly 0
and the block output there is lepe alone); every other row is bit-identical to the official math.
`official_nan=True` restores the NaN for comparisons.

Run in double for error analysis with `.to(torch.float64)`; nothing here forces float32.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# Official configs (NALA.py's NALAFORMER_* functions). layerscale is on in every stage of every
# variant; gammas start at layer_init_values but checkpoints hold the trained values.
VARIANTS = {
    "xt": dict(embed_dims=[32, 64, 128, 384], depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 12],
               mlp_ratios=[3.5] * 4, layerscales=[True] * 4, layer_init_values=[1, 1, 1, 1]),
    "t": dict(embed_dims=[64, 128, 256, 512], depths=[2, 2, 6, 2], num_heads=[1, 2, 4, 8],
              mlp_ratios=[4] * 4, layerscales=[True] * 4, layer_init_values=[1, 1, 1, 1]),
    "s": dict(embed_dims=[64, 128, 320, 512], depths=[3, 5, 9, 3], num_heads=[1, 2, 5, 8],
              mlp_ratios=[3.5] * 4, layerscales=[True] * 4, layer_init_values=[1, 1, 1, 1]),
    "b": dict(embed_dims=[96, 192, 384, 512], depths=[4, 6, 12, 6], num_heads=[1, 2, 6, 8],
              mlp_ratios=[4] * 4, layerscales=[True] * 4, layer_init_values=[1, 1, 1e-6, 1e-6]),
    "l": dict(embed_dims=[96, 192, 448, 640], depths=[4, 7, 19, 8], num_heads=[1, 2, 7, 10],
              mlp_ratios=[3.5] * 4, layerscales=[True] * 4, layer_init_values=[1e-6] * 4),
}
DEFAULT_STAGE_FLAGS = "llvv"  # NALA.py default flagss: stages 1-2 NaLa, stages 3-4 vanilla


def expand_flags(flags, depths):
    """Per-block flags as a list of per-stage strings.

    flags: None (default "llvv"), a 4-char string with one flag per stage ("llll"), a list of
    4 strings with one flag per block (["ll", "ll", "lv", "vv"]) or per stage (["l", "l", "v", "v"]),
    or the same list comma-separated ("l,l,v,v", the C CLI's --attn form).
    """
    if flags is None:
        flags = DEFAULT_STAGE_FLAGS
    if isinstance(flags, str):
        flags = flags.split(",") if "," in flags else list(flags)
    if len(flags) != len(depths):
        raise ValueError(f"flags {flags}: need {len(depths)} stages")
    flags = ["".join(f) for f in flags]
    flags = [f * d if f in ("l", "v") else f for f, d in zip(flags, depths)]
    if len(flags) != len(depths):
        raise ValueError(f"flags {flags}: need {len(depths)} stages")
    for i, (f, d) in enumerate(zip(flags, depths)):
        if len(f) != d or any(c not in "lv" for c in f):
            raise ValueError(f"flags of stage {i} '{f}': need {d} chars from 'l' (NaLa) / 'v' (vanilla)")
    return flags


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of an NCHW map (key: <name>.norm.{weight,bias}), eps 1e-6."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def rotate_every_two(x):
    # pairs (2i, 2i+1) -> (-x[2i+1], x[2i])
    return torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)


def theta_shift(x, sin, cos):
    return x * cos + rotate_every_two(x) * sin


class RoPE(nn.Module):
    """2-D RoPE tables: sin, cos of shape (H*W, head_dim) = [row part (d/2), column part (d/2)]."""

    def __init__(self, embed_dim, num_heads):
        super().__init__()
        head_dim = embed_dim // num_heads
        if head_dim % 4:
            raise ValueError(f"RoPE: head_dim {head_dim} (= {embed_dim}/{num_heads}) must be a multiple of 4")
        angle = 1.0 / (10000 ** torch.linspace(0, 1, head_dim // 4))
        self.register_buffer("angle", angle.unsqueeze(-1).repeat(1, 2).flatten())

    def forward(self, h, w):
        angle = self.angle
        rows = torch.arange(h).to(angle)[:, None] * angle[None, :]  # (h, d/2)
        cols = torch.arange(w).to(angle)[:, None] * angle[None, :]  # (w, d/2)
        half = angle.numel()

        def table(fn):
            return torch.cat([fn(rows)[:, None, :].expand(h, w, half),
                              fn(cols)[None, :, :].expand(h, w, half)], dim=-1).reshape(h * w, 2 * half)

        return table(torch.sin), table(torch.cos)


class _AttnBase(nn.Module):
    """Shared layers of both attention kinds (keys qkvg, lepe, out_proj, ln)."""

    def __init__(self, dim, num_heads):
        super().__init__()
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkvg = nn.Linear(dim, dim * 4)
        self.lepe = nn.Conv2d(dim, dim, 5, 1, 2, groups=dim)
        self.out_proj = nn.Linear(dim, dim)
        self.ln = nn.LayerNorm(dim)  # plain nn.LayerNorm: eps 1e-5

    def split(self, x):
        """x NCHW -> q, k, v as (B, heads, N, d), g (B, N, C), lepe (B, N, C)."""
        B, C, H, W = x.shape
        N = H * W
        tokens = x.reshape(B, C, N).transpose(-1, -2)
        # qkvg columns are four consecutive C-wide blocks q | k | v | g.
        q, k, v, g = self.qkvg(tokens).reshape(B, N, 4, C).permute(2, 0, 1, 3)
        lepe = self.lepe(v.reshape(B, H, W, C).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(B, N, C)

        def heads(t):
            return t.reshape(B, N, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

        return heads(q), heads(k), heads(v), g, lepe

    def finish(self, res, g, lepe, H, W):
        B, _, N, _ = res.shape
        res = res.transpose(1, 2).reshape(B, N, self.dim) + lepe
        res = self.out_proj(self.ln(res) * F.silu(g))
        return res.reshape(B, H, W, self.dim).permute(0, 3, 1, 2)


def nala_attention(q, k, v, sin, cos, official_nan=False):
    """NaLa core on per-head q, k, v (B, heads, N, d) -> (B, heads, N, d), before lepe/ln/gate."""
    N = q.shape[-2]
    k = k ** 3
    q_pos, q_neg = torch.relu(q), torch.relu(-q)
    k_pos, k_neg = torch.relu(k), torch.relu(-k)
    q_norm = q.norm(dim=-1, p=2, keepdim=True)
    divisor = q_norm if official_nan else torch.where(q_norm > 0, q_norm, torch.ones_like(q_norm))
    power = 3 * (0.5 + torch.tanh(q_norm))
    q_pos = (q_pos / divisor) ** power
    q_neg = (q_neg / divisor) ** power
    # RoPE rotates only the numerator features; the normaliser z uses the unrotated ones.
    q_rope = torch.cat([theta_shift(q_pos, sin, cos), theta_shift(q_neg, sin, cos)], dim=-1)
    k_rope = torch.cat([theta_shift(k_pos, sin, cos), theta_shift(k_neg, sin, cos)], dim=-1)
    q_feat = torch.cat([q_pos, q_neg], dim=-1)
    k_feat = torch.cat([k_pos, k_neg], dim=-1)
    z = 1 / (q_feat @ k_feat.mean(dim=-2, keepdim=True).transpose(-2, -1) + 1e-6)
    kv = (k_rope.transpose(-2, -1) * (N ** -0.5)) @ (v * (N ** -0.5))
    return q_rope @ kv * z


def softmax_attention(q, k, v, sin, cos):
    """Vanilla core: RoPE on q and k, softmax(q k^T / sqrt(d)) v; (B, heads, N, d)."""
    scale = q.shape[-1] ** -0.5
    q = theta_shift(q, sin, cos)
    k = theta_shift(k, sin, cos)
    return torch.softmax(scale * q @ k.transpose(-1, -2), dim=-1) @ v


class NormAwareLinearAttn(_AttnBase):
    """NaLa: ReLU-split directions, query-norm-gated power, linear attention with RoPE numerator."""

    official_nan = False

    def forward(self, x, sin, cos):
        q, k, v, g, lepe = self.split(x)
        return self.finish(nala_attention(q, k, v, sin, cos, self.official_nan), g, lepe, *x.shape[2:])


class VanillaSelfAttention(_AttnBase):
    """Softmax attention with RoPE on q and k."""

    def forward(self, x, sin, cos):
        q, k, v, g, lepe = self.split(x)
        return self.finish(softmax_attention(q, k, v, sin, cos), g, lepe, *x.shape[2:])


class FeedForwardNetwork(nn.Module):
    """fc1 -> GELU (erf) -> dwconv3x3 with residual -> fc2."""

    def __init__(self, dim, ffn_dim):
        super().__init__()
        self.ffn_dim = ffn_dim
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.dwconv = nn.Conv2d(ffn_dim, ffn_dim, 3, 1, 1, groups=ffn_dim)

    def forward(self, x):
        B, C, H, W = x.shape
        h = F.gelu(self.fc1(x.reshape(B, C, H * W).permute(0, 2, 1)))
        h = h.reshape(B, H, W, self.ffn_dim).permute(0, 3, 1, 2)
        h = self.dwconv(h) + h
        h = self.fc2(h.reshape(B, self.ffn_dim, H * W).permute(0, 2, 1))
        return h.reshape(B, H, W, C).permute(0, 3, 1, 2)


class Block(nn.Module):
    def __init__(self, flag, dim, num_heads, ffn_dim, layerscale, layer_init_value):
        super().__init__()
        self.layerscale = layerscale
        self.norm1 = LayerNorm2d(dim, eps=1e-6)
        self.attn = (NormAwareLinearAttn if flag == "l" else VanillaSelfAttention)(dim, num_heads)
        self.norm2 = LayerNorm2d(dim, eps=1e-6)
        self.ffn = FeedForwardNetwork(dim, ffn_dim)
        self.cpe1 = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)
        self.cpe2 = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)
        if layerscale:
            self.gamma_1 = nn.Parameter(layer_init_value * torch.ones(1, dim, 1, 1))
            self.gamma_2 = nn.Parameter(layer_init_value * torch.ones(1, dim, 1, 1))

    def forward(self, x, sin, cos):
        x = x + self.cpe1(x)
        attn = self.attn(self.norm1(x), sin, cos)
        x = x + (self.gamma_1 * attn if self.layerscale else attn)
        x = x + self.cpe2(x)
        ffn = self.ffn(self.norm2(x))
        return x + (self.gamma_2 * ffn if self.layerscale else ffn)


class PatchMerging(nn.Module):
    """conv3x3 stride 2 + BatchNorm: n -> ceil(n/2)."""

    def __init__(self, dim, out_dim):
        super().__init__()
        self.reduction = nn.Conv2d(dim, out_dim, 3, 2, 1)
        self.norm = nn.BatchNorm2d(out_dim)

    def forward(self, x):
        return self.norm(self.reduction(x))


class BasicLayer(nn.Module):
    def __init__(self, flags, dim, out_dim, depth, num_heads, ffn_dim, layerscale, layer_init_value):
        super().__init__()
        self.RoPE = RoPE(dim, num_heads)
        self.blocks = nn.ModuleList([Block(flags[i], dim, num_heads, ffn_dim, layerscale, layer_init_value)
                                     for i in range(depth)])
        self.downsample = PatchMerging(dim, out_dim) if out_dim is not None else None

    def forward(self, x):
        """Returns (pre-downsample features, input of the next stage)."""
        sin, cos = self.RoPE(x.shape[2], x.shape[3])
        for blk in self.blocks:
            x = blk(x, sin, cos)
        return x, (self.downsample(x) if self.downsample is not None else x)


class PatchEmbed(nn.Module):
    """Stem: 4 conv3x3 (+BN), GELU between, strides 2,1,1,2 (keys proj.{0,1,3,4,6,7,9,10})."""

    def __init__(self, in_chans, embed_dim):
        super().__init__()
        half = embed_dim // 2
        self.proj = nn.Sequential(
            nn.Conv2d(in_chans, half, 3, 2, 1), nn.BatchNorm2d(half), nn.GELU(),
            nn.Conv2d(half, half, 3, 1, 1), nn.BatchNorm2d(half), nn.GELU(),
            nn.Conv2d(half, half, 3, 1, 1), nn.BatchNorm2d(half), nn.GELU(),
            nn.Conv2d(half, embed_dim, 3, 2, 1), nn.BatchNorm2d(embed_dim))

    def forward(self, x):
        return self.proj(x)


def resolve_config(variant=None, embed_dims=None, depths=None, num_heads=None, mlp_ratios=None,
                   layerscales=None, layer_init_values=None):
    """Variant preset overridden by any explicit field."""
    cfg = dict(VARIANTS[variant.lower()]) if variant else {}
    explicit = dict(embed_dims=embed_dims, depths=depths, num_heads=num_heads, mlp_ratios=mlp_ratios,
                    layerscales=layerscales, layer_init_values=layer_init_values)
    cfg.update({k: v for k, v in explicit.items() if v is not None})
    # NALA.py's NALAFORMER constructor defaults (the C loader's too, core/config_sections.c): a
    # config without a variant and without these keys has no layerscale, init 1e-6.
    cfg.setdefault("layerscales", [False] * 4)
    cfg.setdefault("layer_init_values", [1e-6] * 4)
    missing = [k for k in ("embed_dims", "depths", "num_heads", "mlp_ratios") if k not in cfg]
    if missing:
        raise ValueError(f"backbone config: missing {missing} (give a variant or every field)")
    return cfg


class NaLaFormerBackbone(nn.Module):
    """Dense NaLaFormer: forward(x NCHW) -> tuple of out_i (NCHW) for i in out_indices,
    out_i = extra_norms[i](stage i output before its downsample), strides 4, 8, 16, 32.
    variant: "xt", "t", "s", "b", "l" (NALA.py configs) and/or explicit embed_dims, depths, num_heads,
    mlp_ratios, layerscales, layer_init_values; flags: see expand_flags."""

    def __init__(self, variant=None, flags=None, out_indices=(0, 1, 2, 3), in_chans=3, dtype=None, **overrides):
        super().__init__()
        cfg = resolve_config(variant, **overrides)
        dims, depths = cfg["embed_dims"], cfg["depths"]
        self.config = dict(cfg, variant=variant, flags=expand_flags(flags, depths))
        self.out_indices = tuple(out_indices)
        self.patch_embed = PatchEmbed(in_chans, dims[0])
        self.layers = nn.ModuleList()
        for i in range(len(depths)):
            self.layers.append(BasicLayer(
                self.config["flags"][i], dims[i], dims[i + 1] if i + 1 < len(depths) else None, depths[i],
                cfg["num_heads"][i], int(cfg["mlp_ratios"][i] * dims[i]),
                cfg["layerscales"][i], cfg["layer_init_values"][i]))
        self.extra_norms = nn.ModuleList([LayerNorm2d(d) for d in dims])
        if dtype is not None:  # torch.float64 for error analysis: same float32 weights, computed in double
            self.to(dtype)
        self.eval()

    def forward(self, x):
        x = self.patch_embed(x)
        outs = []
        for i, layer in enumerate(self.layers):
            stage_out, x = layer(x)
            if i in self.out_indices:
                outs.append(self.extra_norms[i](stage_out))
        return tuple(outs)


class DenseModel(nn.Module):
    """Holds the backbone under attribute `backbone`, so keys read backbone.* (mmdet/mmseg)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone(x)


def set_official_nan(model, enabled):
    """Switch every NaLa attention between the finite zero-query rule and NALA.py's NaN."""
    for m in model.modules():
        if isinstance(m, NormAwareLinearAttn):
            m.official_nan = enabled


def stage_sizes(h, w):
    """(H, W) of the stride 4, 8, 16, 32 maps: each stride-2 conv maps n to ceil(n/2)."""
    sizes = []
    for _ in range(2):
        h, w = (h + 1) // 2, (w + 1) // 2
    sizes.append((h, w))
    for _ in range(3):
        h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append((h, w))
    return sizes


def count_macs(cfg, flags, h, w):
    """Multiply-accumulates of one forward at h x w; see flops_formula() for what is counted."""
    dims, depths, heads = cfg["embed_dims"], cfg["depths"], cfg["num_heads"]
    flags = expand_flags(flags, depths)
    h1, w1 = (h + 1) // 2, (w + 1) // 2
    sizes = stage_sizes(h, w)
    half = dims[0] // 2
    n1 = h1 * w1
    n0 = sizes[0][0] * sizes[0][1]
    macs = n1 * 9 * (3 * half + 2 * half * half) + n0 * 9 * half * dims[0]  # stem convs
    for i, c in enumerate(dims):
        n = sizes[i][0] * sizes[i][1]
        d = c // heads[i]
        f = int(cfg["mlp_ratios"][i] * c)
        for flag in flags[i]:
            macs += n * (2 * 9 * c + 4 * c * c + 25 * c + c * c)  # cpe1, cpe2, qkvg, lepe, out_proj
            macs += n * (2 * c * f + 9 * f)  # fc1, fc2, ffn dwconv
            if flag == "l":
                macs += n * (4 * c * d + 2 * c)  # k^T v and q kv over 2d features; q . mean(k)
            else:
                macs += 2 * n * n * c  # q k^T and attn v
        if i + 1 < len(dims):
            n_next = sizes[i + 1][0] * sizes[i + 1][1]
            macs += n_next * 9 * c * dims[i + 1]  # PatchMerging conv
    return macs


def flops_formula():
    return ("MACs = stem [H1W1*9*(3*C0/2 + 2*(C0/2)^2) + H4W4*9*(C0/2)*C0] + per block at stage i "
            "(C, N tokens, d = C/heads, F = int(mlp_ratio*C)): N*(18C + 5C^2 + 25C) + N*(2CF + 9F) + "
            "('l': N*(4Cd + 2C) | 'v': 2*N^2*C) + PatchMerging N_next*9*C*C_next; H1 = ceil(H/2), "
            "H4 = ceil(H1/2). Counts conv/linear/matmul MACs incl. depthwise convs and the attention "
            "matmuls; excludes norms, activations, softmax exp, RoPE, powers and biases. GFLOP = 2*MACs/1e9.")


def build(variant=None, flags=None, out_indices=(0, 1, 2, 3), seed=None, dtype=torch.float32, **overrides):
    """DenseModel(NaLaFormerBackbone) in eval mode, seeded weights when seed is not None."""
    model = DenseModel(NaLaFormerBackbone(variant, flags, out_indices, **overrides))
    if seed is not None:
        from seeded_init import apply_seeded
        apply_seeded(model, seed)
    return model.to(dtype).eval()
