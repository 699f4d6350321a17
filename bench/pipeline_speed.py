"""Benchmark (not a test): model load time, seconds per film for the whole pipeline and per stage, peak memory.

    python bench/pipeline_speed.py [--models DIR] [--films N] [--real DIR] [--device cpu] [--out bench/results.json]
                                   [--arms torch onnx onnx+flip ...]

Films: N synthetic AP phantoms at a realistic size (2400 px tall), or, with --real, the first N films of a folder.
Arms compare inference settings in one run, the films taken in turn by every arm (so drift of the machine's speed
falls on all alike): 'torch', 'onnx' or 'int8' (the runtime of the crop networks and of the level identifier's CNN;
'int8': the crop networks' int8 twins written by ``python -m pipeline.quantize``, the identifier on float ONNX), '+flip'
(test-time flip of the corners), '+segflip' (of the segmenter), '+noframe' (the found boxes not re-drawn),
'+outline' (the boxes re-drawn from the segmenter's outlines, kept as the masks);
'set': the model set's own settings (the default without --arms). 'ARM@DIR' runs ARM on the model set in DIR
instead of --models' (two sets compared in one run, e.g.
``--arms set set@/tmp/other_set``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.priors import apply_priors, snap_inferred  # noqa: E402
from pipeline.finder import reframe  # noqa: E402
from pipeline.modelset import ModelSet  # noqa: E402
from spine.measures import measure_spine  # noqa: E402
from spine.radiograph import read_radiograph  # noqa: E402


def films(args) -> list[np.ndarray]:
    if args.real:
        paths = sorted(p for p in Path(args.real).iterdir() if p.suffix.lower() in (".jpg", ".png", ".dcm"))[: args.films]
        return [read_radiograph(p).pixels for p in paths]
    from spine.phantom import PhantomSpec, make_phantom

    return [make_phantom(PhantomSpec(seed=900 + k, height_px=2400)).image for k in range(args.films)]


def time_film(models: ModelSet, pixels: np.ndarray) -> dict:
    t = {}
    start = time.perf_counter()
    detections = models.detector.detect(pixels, models.options.priors_ap)
    t["detect"] = time.perf_counter() - start
    start = time.perf_counter()
    spine, _ = apply_priors(detections, models.options.priors_ap, name_by_count=models.levels is None)
    t["priors"] = time.perf_counter() - start
    start = time.perf_counter()
    if models.levels is not None and len(spine):
        spine = models.levels.name(pixels, spine, models.options.priors_ap.expected_levels)[0]
    spine = snap_inferred(spine, detections, models.options.priors_ap.snap_iou)
    t["levels"] = time.perf_counter() - start
    start = time.perf_counter()
    redraw = models.finder.redraw
    if redraw is not None:
        spine = reframe(pixels, spine, redraw)
    t["reframe"] = time.perf_counter() - start
    boxes = [v.box for v in spine.vertebrae]
    start = time.perf_counter()
    if boxes:
        models.outlines(pixels, spine)
    t["segment"] = time.perf_counter() - start
    start = time.perf_counter()
    corners = models.corners.corners(pixels, boxes) if boxes else []
    t["corners"] = time.perf_counter() - start
    start = time.perf_counter()
    measure_spine(spine.with_(vertebrae=tuple(v.with_(corners=c) for v, c in zip(spine.vertebrae, corners))), pixels.shape[0])
    t["measure"] = time.perf_counter() - start
    t["total"] = sum(t.values())
    t["vertebrae"] = len(boxes)
    return t


def arm_models(models: ModelSet, arm: str) -> ModelSet:
    """The model set with the crop stages' inference settings of ``arm`` (e.g. 'onnx+flip')."""
    from dataclasses import replace

    from keypoints.config import PredictConfig as CornerPredict
    from segmenter.config import PredictConfig as SegmentPredict

    if arm == "set":
        return models
    tokens = set(arm.split("+"))
    unknown = tokens - {"torch", "onnx", "int8", "flip", "segflip", "noframe", "outline"}
    if unknown or len(tokens & {"torch", "onnx", "int8"}) != 1 or {"noframe", "outline"} <= tokens:
        raise SystemExit(f"arm {arm!r}: give one of torch/onnx/int8, then optionally +flip, +segflip, +noframe or +outline")
    runtime = {"torch": "torch", "onnx": "onnx", "int8": "onnx-int8"}[(tokens & {"torch", "onnx", "int8"}).pop()]
    corners = models.corners.with_predict(CornerPredict(flip="flip" in tokens, runtime=runtime)) \
        if hasattr(models.corners, "with_predict") else models.corners
    segmenter = models.segmenter.with_predict(SegmentPredict(flip="segflip" in tokens, runtime=runtime))
    levels_runtime = "onnx" if runtime == "onnx-int8" else runtime
    levels = replace(models.levels, runtime=levels_runtime, embed=None) if models.levels is not None else None
    framing = "none" if "noframe" in tokens else "outline" if "outline" in tokens else models.options.reframe
    return replace(models, corners=corners, segmenter=segmenter, levels=levels, options=replace(models.options, reframe=framing))


def summarise(rows: list[dict]) -> dict:
    keys = ("detect", "priors", "levels", "reframe", "segment", "corners", "measure", "total")
    return {
        "mean_s": {k: float(np.mean([r[k] for r in rows])) for k in keys},
        "ms_per_vertebra": {
            k: 1000 * float(np.sum([r[k] for r in rows]) / max(1, np.sum([r["vertebrae"] for r in rows]))) for k in ("segment", "corners")
        },
    }


def main() -> int:
    from spine.offline import configure

    configure()
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--models", help="model set (default: the shipped model)")
    parser.add_argument("--films", type=int, default=5, help="films to time (default 5)")
    parser.add_argument("--real", help="a folder of real films to time instead of phantoms")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--out", help="write the figures to this JSON file")
    parser.add_argument("--arms", nargs="+", help="inference settings to compare in one run, e.g. torch onnx onnx+flip")
    args = parser.parse_args()
    start = time.perf_counter()
    models = ModelSet.load(args.models, args.device)
    load_s = time.perf_counter() - start
    arms = {} if args.arms else {"model set": models}
    for arm in args.arms or []:
        settings, _, folder = arm.partition("@")  # 'ARM@DIR': the arm's settings on the set in DIR
        arms[arm] = arm_models(ModelSet.load(folder, args.device) if folder else models, settings)
    images = films(args)
    rows: dict[str, list[dict]] = {arm: [] for arm in arms}
    for arm_set in arms.values():
        time_film(arm_set, images[0])  # warm-up
    for img in images:
        for arm, arm_set in arms.items():
            rows[arm].append(time_film(arm_set, img))
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
        "device": args.device,
        "films": len(images),
        "source": args.real or "phantoms 2400 px tall",
        "models_load_s": load_s,
        **(summarise(rows["model set"]) if not args.arms else {"arms": {arm: summarise(r) for arm, r in rows.items()}}),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.device.startswith("cuda"):
        import torch

        report["gpu"] = torch.cuda.get_device_name()
        report["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
