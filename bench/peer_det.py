#!/usr/bin/python3
"""PyTorch side of bench/det.sh: the repository's mmdet restatements (tools/reference/mmdet_ref.py for
RetinaNet, tools/reference/mmdet_maskrcnn_ref.py for Mask R-CNN) with the same seeded weights as
`nala bench det` (seeded_init.py, seed 0: nala_weights_seeded is bit-identical), timed from the same
kind of input (a normalised, padded float32 [1,3,H,W] tensor; img_shape = H x W, no rescale) to the
final detections (and, for Mask R-CNN, masks pasted at H x W as mmdet's CPU path does).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/peer_det.py \
        --config merged.json --size 800x1088 --threads 1 --runs 5

--config is the merged config (`nala config show C > merged.json`: mmdet dict shapes). --make-weights
OUT writes the weights both sides then load with --weights (det.sh does this): seeded, with Mask
R-CNN's classifier scaled so that detections reach the mask head. Run each
configuration in a fresh process (peak RSS is the process's ru_maxrss). Per-stage times (mean over
the timed runs) use the stage names of nala_det_profile. Last line:
  median_ms=<x> peak_rss_mb=<z> dets=<n> stage_<name>_ms=<t> ...
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools", "reference"))


def retina_stages(model):
    import mmdet_ref as R

    def run(x, t):
        with torch.no_grad():
            t.tick()
            feats = model.backbone(x)
            t.stage("backbone")
            feats = model.neck(list(feats))
            t.stage("neck")
            cls, reg = model.bbox_head(feats)
            t.stage("dense head")
            (boxes, scores, labels), _ = R.predict_dense(model, cls, reg, tuple(x.shape[2:]))
            t.stage("postprocess")
        return boxes.shape[0]
    return run


def maskrcnn_cfg(m):
    """mmdet_maskrcnn_ref.MaskRCNN's flat dict from the merged config's model section."""
    bb, nk, rp, rh, tc = m["backbone"], m["neck"], m["rpn_head"], m["roi_head"], m["test_cfg"]
    ag = rp["anchor_generator"]
    return dict(variant=bb.get("variant", "t"), attn=bb.get("attn", "llvv"), fpn_ch=nk["out_channels"],
                rpn_feat=rp.get("feat_channels", rp["in_channels"]),
                fc=rh["bbox_head"].get("fc_out_channels", 1024),
                mask_ch=rh["mask_head"].get("conv_out_channels", 256),
                mask_convs=rh["mask_head"].get("num_convs", 4), n_cls=rh["bbox_head"]["num_classes"],
                strides=ag["strides"], ratios=ag["ratios"], scales=ag["scales"],
                rpn_nms_pre=tc["rpn"]["nms_pre"], rpn_max_per_img=tc["rpn"]["max_per_img"],
                rpn_iou=tc["rpn"]["nms"]["iou_threshold"], rpn_min_bbox_size=tc["rpn"].get("min_bbox_size", 0),
                rcnn_score_thr=tc["rcnn"]["score_thr"], rcnn_iou=tc["rcnn"]["nms"]["iou_threshold"],
                rcnn_max_per_img=tc["rcnn"]["max_per_img"], rcnn_mask_thr=tc["rcnn"]["mask_thr_binary"])


def maskrcnn_stages(model):
    """MaskRCNN.forward of mmdet_maskrcnn_ref, split at the stage boundaries."""
    import torch.nn.functional as F
    import mmdet_maskrcnn_ref as R
    c = model.cfg

    def run(x, t):
        img_shape = tuple(x.shape[2:])
        strides = c["strides"][:4]
        with torch.no_grad():
            t.tick()
            feats = model.backbone(x)
            t.stage("backbone")
            feats = model.neck(list(feats))
            t.stage("neck")
            cls, reg = model.rpn_head(feats)
            proposals, _ = model.rpn_proposals(cls, reg, img_shape)
            t.stage("rpn head")
            roi_feats = R.roi_extract(feats[:4], proposals, 7, strides)
            cls_score, bbox_pred = model.roi_head.bbox_head(roi_feats)
            scores = F.softmax(cls_score, dim=-1)
            boxes = R.delta2bbox(proposals, bbox_pred, [0, 0, 0, 0], [0.1, 0.1, 0.2, 0.2], img_shape)
            dets, _, labels = R.multiclass_nms(boxes, scores, c["rcnn_score_thr"], c["rcnn_iou"],
                                               c["rcnn_max_per_img"])
            t.stage("roi heads")
            mask_feats = R.roi_extract(feats[:4], dets, 14, strides)
            probs = model.roi_head.mask_head(mask_feats).sigmoid()[torch.arange(len(dets)), labels]
            t.stage("masks")
            masks = torch.zeros(len(dets), *img_shape, dtype=torch.bool)
            for i in range(len(dets)):  # mmdet's CPU path: one detection per chunk
                m, (y0, y1, x0, x1) = R.do_paste_mask(probs[i][None, None], dets[i][None], *img_shape)
                masks[i, y0:y1, x0:x1] = m[0] >= c["rcnn_mask_thr"]
            t.stage("paste")
        return len(dets)
    return run


class Timer:
    def __init__(self):
        self.sums, self.t0 = {}, 0.0

    def tick(self):
        self.t0 = time.perf_counter()

    def stage(self, name):
        now = time.perf_counter()
        self.sums[name] = self.sums.get(name, 0.0) + (now - self.t0) * 1e3
        self.t0 = now


def main():
    global torch
    p = argparse.ArgumentParser(description="PyTorch RetinaNet / Mask R-CNN latency (peer of nala bench det)")
    p.add_argument("--config", required=True, help="merged config JSON (nala config show C)")
    p.add_argument("--size", default="800x1088", help="HxW of the padded input (default 800x1088)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", help="safetensors state_dict (mmdet keys) instead of seeded weights")
    p.add_argument("--make-weights", metavar="OUT",
                   help="write the seeded weights, Mask R-CNN's classifier tuned (below), to OUT and exit")
    a = p.parse_args()
    h, w = (int(v) for v in a.size.lower().split("x"))
    import torch
    from seeded_init import apply_seeded
    torch.set_num_threads(a.threads)
    if a.threads > 1 and "OMP_WAIT_POLICY" not in os.environ:
        print("note: on a shared machine set OMP_WAIT_POLICY=PASSIVE", file=sys.stderr)
    with open(a.config) as f:
        m = json.load(f)["model"]
    if m["type"] == "RetinaNet":
        import mmdet_ref as R
        model = apply_seeded(R.RetinaNet(m), a.seed)
        run = retina_stages(model)
    elif m["type"] == "MaskRCNN":
        import mmdet_maskrcnn_ref as R
        model = apply_seeded(R.MaskRCNN(maskrcnn_cfg(m)), a.seed)
        run = maskrcnn_stages(model)
    else:
        sys.exit(f"peer_det.py: model.type {m['type']!r}: expected RetinaNet or MaskRCNN")
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
    import safetensors_io
    if a.make_weights:
        # Seeded weights give Mask R-CNN's softmax over K+1 classes ~1/(K+1) < score_thr everywhere: no
        # detection would reach the mask head. fc_cls x16 with a zero bias (make_maskrcnn_fixtures.py's
        # tuning) lets up to max_per_img through, as a trained model does. RetinaNet's seeded logits
        # already pass score_thr (sigmoid ~0.5), so its weights stay as seeded.
        sd = model.state_dict()
        with torch.no_grad():
            if m["type"] == "MaskRCNN":
                sd["roi_head.bbox_head.fc_cls.weight"].mul_(16)
                sd["roi_head.bbox_head.fc_cls.bias"].zero_()
        safetensors_io.save(a.make_weights, {k: v.numpy() for k, v in sd.items()
                                             if not k.endswith(".num_batches_tracked")})
        print(f"wrote {a.make_weights}")
        return
    if a.weights:
        stored = safetensors_io.load(a.weights)
        model.load_state_dict({k: torch.from_numpy(v.astype("float32")) for k, v in stored.items()}, strict=True)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    for _ in range(a.warmup):
        run(x, Timer())
    totals, timer, n = [], Timer(), 0
    for _ in range(a.runs):
        before = sum(timer.sums.values())
        n = run(x, timer)
        totals.append(sum(timer.sums.values()) - before)
    med = statistics.median(totals)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch {torch.__version__}  {m['type']}  size {h}x{w}  threads {a.threads}  runs {a.runs}  dets {n}")
    for k, v in timer.sums.items():
        print(f"  {k:<14} {v / a.runs:9.2f} ms")
    stages = " ".join(f"stage_{k.replace(' ', '_')}_ms={v / a.runs:.2f}" for k, v in timer.sums.items())
    print(f"median_ms={med:.3f} peak_rss_mb={rss:.1f} dets={n} {stages}")


if __name__ == "__main__":
    main()
