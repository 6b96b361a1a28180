"""Writes the detection runtime fixtures under tests/fixtures/det/ (about 0.5 MB, a few seconds).

    /usr/bin/python3 tools/reference/make_det_fixtures.py [--out DIR]

Each piece is restated here in torch from mmdet / mmcv semantics (our own code, written from
/work/shared/reference/mm-semantics.md and the mmdet functions it names), and cross-checked
against torchvision's independent kernels where torchvision has the op (nms, batched_nms,
roi_align, grid_sample through torch). The C tests read these files and print max-abs errors.

anchors.safetensors     mmdet AnchorGenerator (RetinaNet octave scales, RPN) base + grid anchors
decode.safetensors      DeltaXYWHBBoxCoder.decode with clamps and clipping
nms.safetensors         greedy NMS / mmcv batched_nms keep lists (ties, IoU == thr, 1000 boxes)
roi_align.safetensors   multi-level RoIAlign (aligned, sampling_ratio 0) 7x7 and 14x14, level mapping
mask_paste.safetensors  mmdet _do_paste_mask (CPU, skip_empty) probabilities and windows
rescale.safetensors     mmcv keep-ratio Resize scale factors and boxes back to original pixels
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import safetensors_io  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------- anchors (mmdet AnchorGenerator)
def base_anchors(base_size, ratios, scales):
    """gen_single_level_base_anchors: centre offset 0, scale_major (ratio-major, scale-minor)."""
    ratios = torch.tensor(ratios, dtype=torch.float32)
    scales = torch.tensor(scales, dtype=torch.float32)
    w = h = base_size
    h_ratios = torch.sqrt(ratios)
    w_ratios = 1 / h_ratios
    ws = (w * w_ratios[:, None] * scales[None, :]).view(-1)
    hs = (h * h_ratios[:, None] * scales[None, :]).view(-1)
    x_c = y_c = 0.0
    return torch.stack([x_c - 0.5 * ws, y_c - 0.5 * hs, x_c + 0.5 * ws, y_c + 0.5 * hs], dim=-1)


def grid_anchors(base, stride, feat_h, feat_w):
    """single_level_grid_priors: y outer, x inner, anchor fastest; float32 adds."""
    shift_x = torch.arange(0, feat_w).to(torch.float32) * stride
    shift_y = torch.arange(0, feat_h).to(torch.float32) * stride
    xx = shift_x.repeat(len(shift_y))
    yy = shift_y.view(-1, 1).repeat(1, len(shift_x)).view(-1)
    shifts = torch.stack([xx, yy, xx, yy], dim=-1)
    return (base[None, :, :] + shifts[:, None, :]).view(-1, 4)


def make_anchors():
    out = {}
    # RetinaNet: octave_base_scale 4, scales_per_octave 3 (scales computed in float64, then float32).
    octave = np.array([2 ** (i / 3) for i in range(3)]) * 4
    retina_sizes = [(19, 25), (10, 13), (5, 7), (3, 4), (2, 2)]  # a 150x200 input padded to 152x200
    for lvl, stride in enumerate([8, 16, 32, 64, 128]):
        base = base_anchors(stride, [0.5, 1.0, 2.0], octave.tolist())
        out[f"retina_base_{lvl}"] = base
        out[f"retina_grid_{lvl}"] = grid_anchors(base, stride, *retina_sizes[lvl])
    out["retina_scales"] = torch.tensor(octave, dtype=torch.float32)
    rpn_sizes = [(24, 33), (12, 17), (6, 9), (3, 5), (2, 3)]  # 96x132 input
    for lvl, stride in enumerate([4, 8, 16, 32, 64]):
        base = base_anchors(stride, [0.5, 1.0, 2.0], [8.0])
        out[f"rpn_base_{lvl}"] = base
        out[f"rpn_grid_{lvl}"] = grid_anchors(base, stride, *rpn_sizes[lvl])
    out["retina_sizes"] = torch.tensor(retina_sizes, dtype=torch.int64)
    out["rpn_sizes"] = torch.tensor(rpn_sizes, dtype=torch.int64)
    return out


# ---------------------------------------------------------------- DeltaXYWHBBoxCoder.decode
def delta2bbox(rois, deltas, means, stds, max_shape=None, wh_ratio_clip=16 / 1000):
    num_bboxes, num_classes = deltas.size(0), deltas.size(1) // 4
    deltas = deltas.reshape(-1, 4)
    denorm = deltas * deltas.new_tensor(stds).view(1, -1) + deltas.new_tensor(means).view(1, -1)
    dxy, dwh = denorm[:, :2], denorm[:, 2:]
    rois_ = rois.repeat(1, num_classes).reshape(-1, 4)
    pxy = (rois_[:, :2] + rois_[:, 2:]) * 0.5
    pwh = rois_[:, 2:] - rois_[:, :2]
    dxy_wh = pwh * dxy
    max_ratio = np.abs(np.log(wh_ratio_clip))
    dwh = dwh.clamp(min=-max_ratio, max=max_ratio)
    gxy = pxy + dxy_wh
    gwh = pwh * dwh.exp()
    bboxes = torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], dim=-1)
    if max_shape is not None:
        bboxes[..., 0::2].clamp_(min=0, max=max_shape[1])
        bboxes[..., 1::2].clamp_(min=0, max=max_shape[0])
    return bboxes.reshape(num_bboxes, -1)


def make_decode(g):
    n = 64
    xy = torch.rand(n, 2, generator=g) * 180 - 20
    wh = torch.rand(n, 2, generator=g) * 60 + 0.5
    rois = torch.cat([xy, xy + wh], 1)
    rois[0] = torch.tensor([10.0, 10.0, 10.0, 30.0])  # zero width
    d1 = torch.randn(n, 4, generator=g) * 1.5
    d1[:8, 2:] = torch.tensor([[9.0, -9.0], [-7.0, 6.0], [4.2, -4.2], [4.1, -4.1],
                               [30.0, 0.0], [0.0, -30.0], [4.135166, 4.1351666], [-4.1351666, 0.5]])
    d3 = torch.randn(n, 12, generator=g) * 3
    img_h, img_w = 120, 160
    return {
        "rois": rois, "deltas_k1": d1, "deltas_k3": d3,
        # RetinaNet / RPN: means 0, stds 1, clipped to the image.
        "out_k1_clip": delta2bbox(rois, d1, [0, 0, 0, 0], [1, 1, 1, 1], (img_h, img_w)),
        "out_k1_noclip": delta2bbox(rois, d1, [0, 0, 0, 0], [1, 1, 1, 1], None),
        # RCNN class-specific deltas: stds (.1, .1, .2, .2), with a non-zero mean to exercise the order.
        "out_k3_clip": delta2bbox(rois, d3, [0.0, 0.0, 0.0, 0.0], [0.1, 0.1, 0.2, 0.2], (img_h, img_w)),
        "out_k3_means": delta2bbox(rois, d3, [0.05, -0.02, 0.1, 0.0], [0.1, 0.1, 0.2, 0.2], (img_h, img_w)),
        "img_hw": torch.tensor([img_h, img_w], dtype=torch.int64),
    }


# ---------------------------------------------------------------- NMS
def greedy_nms(boxes, scores, thr):
    """torchvision/mmcv nms_cpu restated: stable descending order, IoU without +1, suppress iff >."""
    order = torch.sort(scores, descending=True, stable=True)[1]
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    sup = torch.zeros(len(scores), dtype=torch.bool)
    keep = []
    for ii in range(len(order)):
        i = order[ii]
        if sup[i]:
            continue
        keep.append(int(i))
        j = order[ii + 1:]
        w = (torch.minimum(x2[i], x2[j]) - torch.maximum(x1[i], x1[j])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[j]) - torch.maximum(y1[i], y1[j])).clamp(min=0)
        inter = w * h
        iou = inter / (area[i] + area[j] - inter)
        sup[j[iou > np.float32(thr)]] = True
    return torch.tensor(keep, dtype=torch.int64)


def mmcv_batched_nms(boxes, scores, idxs, thr, class_agnostic=False, split_thr=10000):
    """mmcv.ops.batched_nms decisions: offset boxes unless class_agnostic; one nms below split_thr,
    else a per-id loop over the (still offset) boxes and a re-sort by score."""
    if class_agnostic:
        bfn = boxes
    else:
        max_coordinate = boxes.max()
        offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
        bfn = boxes + offsets[:, None]
    if bfn.shape[0] < split_thr:
        return greedy_nms(bfn, scores, thr)
    total = torch.zeros(scores.size(), dtype=torch.bool)
    for cls in torch.unique(idxs):
        mask = (idxs == cls).nonzero(as_tuple=False).view(-1)
        keep = greedy_nms(bfn[mask], scores[mask], thr)
        total[mask[keep]] = True
    keep = total.nonzero(as_tuple=False).view(-1)
    inds = scores[keep].sort(descending=True, stable=True)[1]
    return keep[inds]


def random_boxes(g, n, extent, min_wh, max_wh, clusters=None):
    if clusters:
        centres = torch.rand(clusters, 2, generator=g) * extent
        c = centres[torch.randint(0, clusters, (n,), generator=g)] + torch.randn(n, 2, generator=g) * 6
    else:
        c = torch.rand(n, 2, generator=g) * extent
    wh = torch.rand(n, 2, generator=g) * (max_wh - min_wh) + min_wh
    return torch.cat([c - wh / 2, c + wh / 2], 1)


def lcg_case(n, n_ids):
    """Boxes, scores and ids the C test regenerates bit for bit (no need to store 10k boxes)."""
    state = 12345
    boxes = np.zeros((n, 4), np.float32)
    scores = np.zeros(n, np.float32)
    ids = np.zeros(n, np.int64)
    for i in range(n):
        vals = []
        for _ in range(6):
            state = (state * 1103515245 + 12345) % 2 ** 31
            vals.append(state >> 8)
        x = np.float32(vals[0] % 2000) / np.float32(4)
        y = np.float32(vals[1] % 1600) / np.float32(4)
        w = np.float32(vals[2] % 160 + 4) / np.float32(4)
        h = np.float32(vals[3] % 160 + 4) / np.float32(4)
        boxes[i] = [x, y, x + w, y + h]
        scores[i] = np.float32(vals[4] % 1000) / np.float32(1000)
        ids[i] = vals[5] % n_ids
    return torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(ids)


def make_nms(g):
    out = {}
    tv = torchvision.ops

    def add(name, boxes, scores, thr, ids=None, class_agnostic=False, store_inputs=True):
        if ids is None:
            keep = greedy_nms(boxes, scores, thr)
            tv_keep = tv.nms(boxes, scores, thr)
        else:
            keep = mmcv_batched_nms(boxes, scores, ids, thr, class_agnostic)
            tv_keep = tv.nms(boxes, scores, thr) if class_agnostic else tv.batched_nms(boxes, scores, ids, thr)
        # torchvision agrees everywhere torchvision's batched_nms takes mmcv's path (< 4000 boxes).
        same = torch.equal(keep, tv_keep)
        if store_inputs:
            out[f"{name}.boxes"] = boxes
            out[f"{name}.scores"] = scores
            if ids is not None:
                out[f"{name}.ids"] = ids
        out[f"{name}.keep"] = keep
        out[f"{name}.thr"] = torch.tensor([thr], dtype=torch.float32)
        print(f"nms {name}: n={len(scores)} kept={len(keep)} torchvision_same={same}")
        return same

    # Ties: integer scores, every other box duplicated; stable order keeps the lower index.
    b = random_boxes(g, 200, 100, 4, 40)
    b[1::2] = b[0::2]
    s = torch.randint(0, 4, (200,), generator=g).float()
    assert add("ties", b, s, 0.5)
    # IoU exactly at the threshold is kept (suppressed iff IoU > thr); just above is suppressed.
    b = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 5], [20, 0, 30, 10], [20, 0, 30, 5.0001],
                      [40, 0, 50, 10], [40, 0, 50, 7], [60, 0, 70, 10], [60, 0, 70, 7.0001],
                      [80, 0, 90, 10], [80, 0, 90, 10], [100, 0, 110, 10], [101, 1, 111, 11]], dtype=torch.float32)
    s = torch.tensor([.9, .8, .9, .8, .9, .8, .9, .8, .5, .5, .3, .3])
    assert add("iou_eq_thr_05", b, s, 0.5)
    assert add("iou_eq_thr_07", b, s, 0.7)
    # 1000 clustered boxes, continuous scores.
    b = random_boxes(g, 1000, 400, 8, 80, clusters=60)
    s = torch.rand(1000, generator=g)
    assert add("n1000_07", b, s, 0.7)
    assert add("n1000_05", b, s, 0.5)
    ids = torch.randint(0, 5, (1000,), generator=g)
    assert add("batched1000_05", b, s, 0.5, ids)
    assert add("agnostic1000_05", b, s, 0.5, ids, class_agnostic=True)
    # The offset trick lets boxes of different ids overlap when coordinates are negative: box 1
    # (id 1, x in [-11,-1]) lands on box 0 after the offset of max+1 = 11 and is suppressed.
    b = torch.tensor([[0, 0, 10, 10], [-11, 0, -1, 10], [2, 2, 8, 8]], dtype=torch.float32)
    s = torch.tensor([0.9, 0.8, 0.7])
    assert add("offset_quirk", b, s, 0.5, torch.tensor([0, 1, 1]))
    # >= split_thr boxes: mmcv loops per id (torchvision switches at 4000 boxes, on raw boxes).
    b, s, ids = lcg_case(10240, 7)
    # torchvision differs here by design (per class on raw boxes, unstable re-sort): not compared.
    add("split10240", b, s, 0.5, ids, store_inputs=False)
    return out


# ---------------------------------------------------------------- RoIAlign
def map_roi_levels(rois, num_levels, finest_scale=56):
    scale = torch.sqrt((rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1]))
    lvls = torch.floor(torch.log2(scale / finest_scale + 1e-6))
    return lvls.clamp(min=0, max=num_levels - 1).long()


def make_roi_align(g):
    img_h, img_w = 150, 200
    strides = [4, 8, 16, 32]
    C = 8
    feats = []
    out = {}
    for lvl, s in enumerate(strides):
        h, w = math.ceil(img_h / s), math.ceil(img_w / s)
        f = torch.randn(1, C, h, w, generator=g)
        feats.append(f)
        out[f"feat_{lvl}"] = f[0].permute(1, 2, 0).contiguous()  # NHWC [h][w][C]
    rois = random_boxes(g, 14, 200, 2, 160)
    extra = torch.tensor([
        [-10, -8, 30, 20],        # crosses the top-left border
        [180, 130, 215, 160],     # crosses the bottom-right border
        [50.3, 60.7, 51.1, 61.2],  # far smaller than one bin
        [100, 40, 100, 90],       # zero width
        [0, 0, 56, 56], [0, 0, 55.99, 56], [0, 0, 112, 112], [0, 0, 111.9, 112],
        [0, 0, 224, 224], [0, 0, 200, 150.5], [-50, -50, 450, 450], [30, 30, 30.5, 30.5],
    ], dtype=torch.float32)
    rois = torch.cat([rois, extra])
    lvls = map_roi_levels(rois, 4)
    out["rois"] = rois
    out["levels"] = lvls
    boundary = torch.tensor([[0, 0, 56, 56], [0, 0, 55.999, 56], [0, 0, 112, 112], [0, 0, 111.99, 112],
                             [0, 0, 224, 224], [0, 0, 223.99, 224], [0, 0, 448, 448], [0, 0, 447.9, 448],
                             [0, 0, 2000, 2000], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 28, 112]],
                            dtype=torch.float32)
    out["boundary_rois"] = boundary
    out["boundary_levels"] = map_roi_levels(boundary, 4)
    for size in (7, 14):
        res = torch.zeros(len(rois), C, size, size)
        for lvl, s in enumerate(strides):
            idx = (lvls == lvl).nonzero().view(-1)
            if len(idx) == 0:
                continue
            r5 = torch.cat([torch.zeros(len(idx), 1), rois[idx]], 1)
            res[idx] = torchvision.ops.roi_align(feats[lvl], r5, (size, size), spatial_scale=1.0 / s,
                                                 sampling_ratio=0, aligned=True)
        out[f"out_{size}"] = res
    print("roi_align levels", lvls.tolist(), "boundary", out["boundary_levels"].tolist())
    return out


# ---------------------------------------------------------------- mask paste (mmdet _do_paste_mask, CPU)
def do_paste_mask(masks, boxes, img_h, img_w):
    x0_int, y0_int = torch.clamp(boxes.min(dim=0).values.floor()[:2] - 1, min=0).to(dtype=torch.int32)
    x1_int = torch.clamp(boxes[:, 2].max().ceil() + 1, max=img_w).to(dtype=torch.int32)
    y1_int = torch.clamp(boxes[:, 3].max().ceil() + 1, max=img_h).to(dtype=torch.int32)
    x0, y0, x1, y1 = torch.split(boxes, 1, dim=1)
    N = masks.shape[0]
    img_y = torch.arange(y0_int, y1_int).to(torch.float32) + 0.5
    img_x = torch.arange(x0_int, x1_int).to(torch.float32) + 0.5
    img_y = (img_y - y0) / (y1 - y0) * 2 - 1
    img_x = (img_x - x0) / (x1 - x0) * 2 - 1
    if not torch.isfinite(img_x).all():
        img_x[~torch.isfinite(img_x)] = 0
    if not torch.isfinite(img_y).all():
        img_y[~torch.isfinite(img_y)] = 0
    gx = img_x[:, None, :].expand(N, img_y.size(1), img_x.size(1))
    gy = img_y[:, :, None].expand(N, img_y.size(1), img_x.size(1))
    grid = torch.stack([gx, gy], dim=3)
    img_masks = F.grid_sample(masks.to(dtype=torch.float32), grid, align_corners=False)
    return img_masks[:, 0], (int(y0_int), int(y1_int), int(x0_int), int(x1_int))


def make_mask_paste(g):
    img_h, img_w = 40, 56
    boxes = torch.tensor([
        [10.3, 8.6, 30.2, 25.9],   # inside
        [-3.5, -2.2, 12.7, 14.1],  # crosses top-left
        [40.2, 28.4, 56.0, 40.0],  # touches bottom-right
        [45.5, 30.1, 60.8, 44.4],  # crosses bottom-right
        [20.2, 20.7, 20.9, 21.1],  # smaller than a pixel
        [15.0, 5.0, 15.0, 18.0],   # zero width (non-finite grid -> 0)
        [0.0, 0.0, 56.0, 40.0],    # whole image
        [-8.0, 10.0, 0.4, 20.0],   # mostly left of the image: window x in [0, 2)
    ], dtype=torch.float32)
    # The last box gets a constant 0.5 mask: inside, the pasted value is 0.5 up to the rounding of
    # the bilinear weights, so `>= 0.5` (not `>`) and the exact float ops decide every pixel.
    boxes = torch.cat([boxes, torch.tensor([[5.2, 3.7, 25.1, 30.3]])])
    n = len(boxes)
    # Smooth random masks: many pixels near the threshold.
    base = torch.rand(n - 1, 1, 7, 7, generator=g)
    masks = F.interpolate(base, size=(28, 28), mode="bilinear", align_corners=False)
    masks = torch.cat([masks, torch.full((1, 1, 28, 28), 0.5)])
    probs = torch.zeros(n, img_h, img_w)
    windows = torch.zeros(n, 4, dtype=torch.int64)
    for i in range(n):
        p, (y0, y1, x0, x1) = do_paste_mask(masks[i:i + 1], boxes[i:i + 1], img_h, img_w)
        windows[i] = torch.tensor([y0, y1, x0, x1])
        if y1 > y0 and x1 > x0:
            probs[i, y0:y1, x0:x1] = p[0]
    return {"masks": masks[:, 0].contiguous(), "boxes": boxes, "probs": probs, "windows": windows,
            "img_hw": torch.tensor([img_h, img_w], dtype=torch.int64)}


# ---------------------------------------------------------------- rescale
def mmcv_rescale_meta(h, w, scale=(1333, 800)):
    max_long, max_short = max(scale), min(scale)
    sf = min(max_long / max(h, w), max_short / min(h, w))
    new_w, new_h = int(w * sf + 0.5), int(h * sf + 0.5)
    return new_h, new_w, new_w / w, new_h / h


def make_rescale(g):
    sizes = [(480, 640), (427, 640), (640, 427), (333, 500), (1080, 1920), (100, 77)]
    out = {}
    metas = []
    for k, (h, w) in enumerate(sizes):
        img_h, img_w, w_scale, h_scale = mmcv_rescale_meta(h, w)
        metas.append([h, w, img_h, img_w])
        xy = torch.rand(32, 2, generator=g) * torch.tensor([img_w, img_h])
        wh = torch.rand(32, 2, generator=g) * 200
        boxes = torch.cat([xy, xy + wh], 1)
        # mmdet 2.x heads and the 3.x mask head: boxes / new_tensor(scale_factor) (float32 divide).
        div = boxes / boxes.new_tensor([w_scale, h_scale, w_scale, h_scale])
        # mmdet 3.x bbox/dense heads: scale_boxes(boxes, [1 / s for s in scale_factor]) (float32 multiply).
        mul = boxes * boxes.new_tensor([1 / w_scale, 1 / h_scale, 1 / w_scale, 1 / h_scale])
        out[f"boxes_{k}"] = boxes
        out[f"div_{k}"] = div
        out[f"mul_{k}"] = mul
        out[f"scales_{k}"] = torch.tensor([w_scale, h_scale], dtype=torch.float64)
    out["metas"] = torch.tensor(metas, dtype=torch.int64)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "det"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    g = torch.Generator().manual_seed(20261201)
    meta = {"torch": torch.__version__, "torchvision": torchvision.__version__,
            "generator": "tools/reference/make_det_fixtures.py"}
    for name, fn in [("anchors", lambda: make_anchors()), ("decode", lambda: make_decode(g)),
                     ("nms", lambda: make_nms(g)), ("roi_align", lambda: make_roi_align(g)),
                     ("mask_paste", lambda: make_mask_paste(g)), ("rescale", lambda: make_rescale(g))]:
        tensors = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in fn().items()}
        path = os.path.join(args.out, f"{name}.safetensors")
        safetensors_io.save(path, tensors, metadata=meta)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
