"""Self-test of the Python reference tools (not part of ctest: Python is never needed to build or test
the C library). Run before regenerating fixtures:

    /usr/bin/python3 tools/reference/selftest.py

Checks the reference attention against an independent per-token float64 implementation written from
the formulas, the seeded generator against a scalar splitmix64, safetensors round trips, the
converter's rules and exit codes, shapes/MACs/parameter counts, and that the committed fixtures are
reproduced (within float32 noise: BLAS changes the last bits).
"""
import io
import math
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import convert_checkpoint  # noqa: E402
import nalaformer_ref as R  # noqa: E402
import safetensors_io as S  # noqa: E402
import seeded_init as SI  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "fixtures")


def naive_tables(h, w, d):
    """RoPE sin/cos built element by element from the spec: column j < d/2 uses the row index with
    angle[j], j >= d/2 the column index with angle[j - d/2]; angle pairs repeat."""
    base = [1.0 / (10000 ** (i / (d // 4 - 1))) if d // 4 > 1 else 1.0 for i in range(d // 4)]
    angle = [a for a in base for _ in range(2)]
    sin = np.zeros((h * w, d))
    cos = np.zeros((h * w, d))
    for y in range(h):
        for x in range(w):
            for j in range(d):
                pos, a = (y, angle[j]) if j < d // 2 else (x, angle[j - d // 2])
                sin[y * w + x, j] = math.sin(pos * a)
                cos[y * w + x, j] = math.cos(pos * a)
    return sin, cos


def naive_rope(vec, s, c):
    out = np.empty_like(vec)
    for i in range(0, len(vec), 2):
        out[i] = vec[i] * c[i] - vec[i + 1] * s[i]
        out[i + 1] = vec[i + 1] * c[i + 1] + vec[i] * s[i + 1]
    return out


def naive_nala(q, k, v, sin, cos):
    n, d = q.shape
    k3 = k ** 3
    kf = [np.concatenate([np.maximum(r, 0), np.maximum(-r, 0)]) for r in k3]
    kr = [np.concatenate([naive_rope(np.maximum(r, 0), sin[t], cos[t]), naive_rope(np.maximum(-r, 0), sin[t], cos[t])])
          for t, r in enumerate(k3)]
    k_mean = sum(kf) / n
    kv = sum(np.outer(kr[t], v[t]) for t in range(n)) / n
    out = np.zeros((n, d))
    for t in range(n):
        norm = np.linalg.norm(q[t])
        p = 3 * (0.5 + math.tanh(norm))
        if norm == 0:
            continue  # documented finite rule: zero query row -> 0
        qp, qn = np.maximum(q[t], 0) / norm, np.maximum(-q[t], 0) / norm
        qp, qn = qp ** p, qn ** p
        z = 1 / (np.concatenate([qp, qn]) @ k_mean + 1e-6)
        qr = np.concatenate([naive_rope(qp, sin[t], cos[t]), naive_rope(qn, sin[t], cos[t])])
        out[t] = (qr @ kv) * z
    return out


def naive_softmax(q, k, v, sin, cos):
    n, d = q.shape
    qr = np.stack([naive_rope(q[t], sin[t], cos[t]) for t in range(n)])
    kr = np.stack([naive_rope(k[t], sin[t], cos[t]) for t in range(n)])
    s = qr @ kr.T / math.sqrt(d)
    s = np.exp(s - s.max(axis=1, keepdims=True))
    return (s / s.sum(axis=1, keepdims=True)) @ v


class AttentionMath(unittest.TestCase):
    def setUp(self):
        g = torch.Generator().manual_seed(5)
        self.h, self.w, self.d = 3, 4, 8
        n = self.h * self.w
        self.q, self.k, self.v = (torch.randn(1, 1, n, self.d, generator=g, dtype=torch.float64) for _ in range(3))
        self.q[0, 0, 5] = 0
        self.sin, self.cos = R.RoPE(self.d, 1).double()(self.h, self.w)

    def test_rope_tables_match_spec(self):
        sin, cos = naive_tables(self.h, self.w, self.d)
        np.testing.assert_allclose(self.sin.numpy(), sin, atol=1e-7)  # angle is float32 as in NALA.py
        np.testing.assert_allclose(self.cos.numpy(), cos, atol=1e-7)

    def test_nala_matches_naive(self):
        got = R.nala_attention(self.q, self.k, self.v, self.sin, self.cos)[0, 0].numpy()
        want = naive_nala(*(t[0, 0].numpy() for t in (self.q, self.k, self.v)), self.sin.numpy(), self.cos.numpy())
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        self.assertTrue(np.all(got[5] == 0))

    def test_official_nan_only_on_zero_row(self):
        off = R.nala_attention(self.q, self.k, self.v, self.sin, self.cos, official_nan=True)[0, 0]
        self.assertTrue(torch.isnan(off[5]).all())
        self.assertEqual(int(torch.isnan(off).any(dim=1).sum()), 1)

    def test_softmax_matches_naive(self):
        got = R.softmax_attention(self.q, self.k, self.v, self.sin, self.cos)[0, 0].numpy()
        want = naive_softmax(*(t[0, 0].numpy() for t in (self.q, self.k, self.v)), self.sin.numpy(), self.cos.numpy())
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


class ModelShapes(unittest.TestCase):
    def test_odd_sizes(self):
        self.assertEqual(R.stage_sizes(200, 328), [(50, 82), (25, 41), (13, 21), (7, 11)])
        model = R.build("xt", flags="lvlv", out_indices=(1, 3), seed=0)
        with torch.inference_mode():
            outs = model(torch.zeros(1, 3, 45, 61))
        self.assertEqual([tuple(o.shape) for o in outs], [(1, 64, 6, 8), (1, 384, 2, 2)])

    def test_macs_and_params(self):
        cfg = R.resolve_config("t")
        self.assertAlmostEqual(R.count_macs(cfg, None, 512, 512) / 1e9, 17.50, places=2)
        xt = R.build("xt").backbone
        n = sum(p.numel() for n_, p in xt.named_parameters() if not n_.startswith("extra_norms"))
        classifier = 384 * 1024 + 1024 + 2 * 1024 + 1024 * 1000 + 1000
        self.assertAlmostEqual((n + classifier) / 1e6, 6.14, places=2)

    def test_bad_flags(self):
        with self.assertRaises(ValueError):
            R.build("xt", flags="llv")
        with self.assertRaises(ValueError):
            R.build("xt", flags=["ll", "ll", "lx", "vv"])


class Seeded(unittest.TestCase):
    def scalar(self, key, shape, seed):
        lo, hi = SI.value_range(key, shape)
        state, out = (seed ^ SI.fnv1a64(key)) & SI.MASK64, []
        for _ in range(int(np.prod(shape))):
            state = (state + SI.GOLDEN) & SI.MASK64
            z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & SI.MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & SI.MASK64
            out.append(np.float32(lo + (hi - lo) * ((z ^ (z >> 31)) >> 40) * 2.0 ** -24))
        return np.array(out, np.float32).reshape(shape)

    def test_vectorised_equals_scalar(self):
        for key, shape, seed in [("a.b.weight", (4, 3, 3, 3), 0), ("x.running_mean", (9,), 2 ** 64 - 1),
                                 ("y.gamma_2", (1, 5, 1, 1), 77)]:
            np.testing.assert_array_equal(SI.generate(key, shape, seed).view(np.uint32),
                                          self.scalar(key, shape, seed).view(np.uint32))

    def test_known_hash_and_rules(self):
        self.assertEqual(SI.fnv1a64(b""), 0xCBF29CE484222325)
        self.assertEqual(SI.fnv1a64(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(SI.value_range("n.weight", (7,)), (0.5, 1.5))
        self.assertEqual(SI.value_range("n.bias", (7, 2)), (-0.1, 0.1))
        self.assertIsNone(SI.value_range("layers.0.RoPE.angle", (8,)))
        with self.assertRaises(KeyError):
            SI.generate("layers.0.blocks.0.mystery", (3,))

    def test_sample_fixture(self):
        tensors, meta, _ = S.load(os.path.join(FIXTURES, "seeded", "sample.safetensors"), want_metadata=True)
        import json
        seeds = json.loads(meta["seeds"])
        for key, seed in seeds.items():
            np.testing.assert_array_equal(tensors[key], SI.generate(key, tensors[key].shape, int(seed)))


class Safetensors(unittest.TestCase):
    def test_round_trip_and_alignment(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "a.safetensors")
            x = np.array([[1.5, -2.25, 3e-3]], np.float32)
            S.save(path, {"f32": x, "f16": x, "bf16": x, "f64": x.astype(np.float64), "i64": np.arange(3)},
                   {"k": "v"}, {"f16": "F16", "bf16": "BF16"})
            self.assertEqual(os.listdir(tmp), ["a.safetensors"])
            with open(path, "rb") as f:
                self.assertEqual((8 + int.from_bytes(f.read(8), "little")) % 8, 0)
            t, meta, dt = S.load(path, want_metadata=True)
            self.assertEqual(meta, {"k": "v"})
            self.assertEqual(dt, {"f32": "F32", "f16": "F16", "bf16": "BF16", "f64": "F64", "i64": "I64"})
            np.testing.assert_array_equal(t["bf16"], torch.from_numpy(x).bfloat16().float().numpy())
            np.testing.assert_array_equal(t["f16"], x.astype(np.float16))
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) - 1)
            with self.assertRaises(S.SafetensorsError):
                S.load(path)

    def test_overflow_refused(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaises(S.SafetensorsError):
            S.save(os.path.join(tmp, "b.safetensors"), {"w": np.array([1e5], np.float32)}, dtypes={"w": "F16"})


class Converter(unittest.TestCase):
    def run_main(self, argv):
        err = io.StringIO()
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            try:
                code = convert_checkpoint.main(argv)
            except SystemExit as e:
                code = e.code
        return code, err.getvalue()

    def test_rules(self):
        model = R.build(None, seed=1, embed_dims=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 2],
                        mlp_ratios=[2] * 4)
        bare = {k[len("backbone."):]: v for k, v in model.state_dict().items()}
        cls = {k: v for k, v in bare.items() if not k.startswith("extra_norms")}
        cls.update({"head.weight": torch.zeros(10, 64, 1, 1), "head.bias": torch.zeros(10)})
        with tempfile.TemporaryDirectory() as tmp:
            pth, out = os.path.join(tmp, "c.pth"), os.path.join(tmp, "o.safetensors")
            torch.save({"model": cls}, pth)
            code, msg = self.run_main([pth, out])
            self.assertEqual(code, 1)
            self.assertIn("extra_norms", msg)
            self.assertFalse(os.path.exists(out))
            code, msg = self.run_main([pth, out, "--init-extra-norms", "--dtype", "bf16"])
            self.assertEqual(code, 0, msg)
            self.assertIn("dropped 2 classifier keys", msg)
            t, _, dt = S.load(out, want_metadata=True)
            self.assertTrue(all(k.startswith("backbone.") for k in t))
            self.assertFalse(any(k.endswith("num_batches_tracked") for k in t))
            self.assertEqual(dt["backbone.layers.0.RoPE.angle"], "F32")
            np.testing.assert_array_equal(t["backbone.extra_norms.2.norm.weight"], np.ones(24, np.float32))
            code, msg = self.run_main([pth, out, "--init-extra-norms", "--variant", "xt"])
            self.assertEqual(code, 1)
            self.assertIn("wrong shape", msg)
            self.assertEqual(self.run_main([pth])[0], 2)
            self.assertEqual(self.run_main([pth, out, "--dtype", "f8"])[0], 2)


    def test_mmseg_checkpoint(self):
        """An mmseg UperNet checkpoint as mmseg saves it goes through unchanged but for the
        auxiliary head (one notice) and num_batches_tracked; --config names every bad key."""
        import mmseg_ref
        config = os.path.join(FIXTURES, "seg", "aux_tiny.json")
        model = mmseg_ref.build_segmentor(mmseg_ref.load_config(config)["model"], seed=7)
        state = model.state_dict()
        self.assertTrue(any(k.startswith("auxiliary_head.") for k in state))
        self.assertTrue(any(k.endswith("num_batches_tracked") for k in state))
        with tempfile.TemporaryDirectory() as tmp:
            pth, out = os.path.join(tmp, "upernet.pth"), os.path.join(tmp, "o.safetensors")
            torch.save({"meta": {"mmseg_version": "1.2.2"}, "state_dict": state}, pth)
            code, msg = self.run_main([pth, out, "--config", config])
            self.assertEqual(code, 0, msg)
            self.assertEqual(msg.count("auxiliary_head"), 1, msg)
            self.assertIn("dropped 8 auxiliary_head.* keys", msg)
            t = S.load(out)
            kept = {k: v for k, v in state.items()
                    if not k.startswith("auxiliary_head.") and not k.endswith("num_batches_tracked")}
            self.assertEqual(list(t), list(kept))
            # the C test's checkpoint fixture (same seed) holds exactly these values
            ref = S.load(os.path.join(FIXTURES, "seg", "aux_tiny_ckpt.safetensors"))
            for k, v in t.items():
                np.testing.assert_array_equal(v, ref[k])
            bad = dict(state)
            del bad["decode_head.conv_seg.bias"]
            bad["decode_head.extra.weight"] = torch.zeros(3)
            bad["neck.lateral_convs.0.conv.weight"] = torch.zeros(1)
            bad["decode_head.fpn_bottleneck.conv.weight"] = torch.zeros(16, 63, 3, 3)
            torch.save({"state_dict": bad}, pth)
            os.unlink(out)
            code, msg = self.run_main([pth, out, "--config", config])
            self.assertEqual(code, 1, msg)
            for want in ("1 missing, 2 unexpected, 1 wrong shape", "missing: decode_head.conv_seg.bias",
                         "unexpected: decode_head.extra.weight", "unexpected: neck.lateral_convs.0.conv.weight",
                         "wrong shape: decode_head.fpn_bottleneck.conv.weight"):
                self.assertIn(want, msg)
            self.assertFalse(os.path.exists(out))


class Fixtures(unittest.TestCase):
    def test_xt_case_reproduces(self):
        path = os.path.join(FIXTURES, "backbone", "xt_200x328_llll.safetensors")
        t, meta, _ = S.load(path, want_metadata=True)
        import json
        model = R.build(meta["variant"], flags=json.loads(meta["flags"]), seed=int(meta["seed"]))
        with torch.inference_mode():
            outs = model(torch.from_numpy(t["input"]))
        for i, o in enumerate(outs):
            ref = torch.from_numpy(t[f"out{i}"])
            self.assertLess(float((o - ref).norm() / ref.norm()), 1e-5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
