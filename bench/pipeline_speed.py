"""Benchmark (not a test): model load time, seconds per film for the whole pipeline and per step, peak memory.

    python bench/pipeline_speed.py [--models DIR] [--films N] [--real DIR] [--device cpu] [--out bench/results.json]
                                   [--arm runtime=onnx --arm runtime=onnx,flip=true ...]

Films: N synthetic AP phantoms at a realistic size (2400 px tall), or, with --real, the first N films of a folder.
Each film is measured by the product's own core (:func:`pipeline.core.measure_film`), its steps timed by a
:class:`spine.stopwatch.Stopwatch`. Arms compare inference settings in one run, the films taken in turn by every arm
(so drift of the machine's speed falls on all alike); an arm is a comma-separated list of :class:`Arm` keys, checked
like any config: ``runtime`` (torch, onnx or int8: the crop networks and the level identifier's CNN; int8 runs the
crop networks' int8 twins, the identifier on float ONNX), ``flip`` (the corner head's test-time flip), ``segflip``
(the segmenter's), ``reframe`` (outline or none), ``models`` (another model set, to compare two in one run). Keys left
out keep the set's own settings; without --arm the set runs as it is.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.core import measure_film  # noqa: E402
from pipeline.modelset import ModelSet  # noqa: E402
from spine import config as configlib  # noqa: E402
from spine.radiograph import Radiograph, read_radiograph  # noqa: E402
from spine.stopwatch import Stopwatch  # noqa: E402

STEPS = ("detect", "priors", "levels", "reframe", "segment", "corners", "measure")


@dataclass(frozen=True)
class Arm:
    """Inference settings of one arm; None keeps the model set's own."""

    runtime: Literal["torch", "onnx", "int8"] | None = None
    flip: bool | None = None
    segflip: bool | None = None
    reframe: Literal["outline", "none"] | None = None
    models: str | None = None


def parse_arm(text: str) -> Arm:
    """'runtime=onnx,flip=true' -> :class:`Arm` (unknown keys and values fail with a message)."""
    return configlib.build(Arm, configlib.parse_sets([item for item in text.split(",") if item.strip()]), f"--arm {text}")


def films(args) -> list[np.ndarray]:
    if args.real:
        paths = sorted(p for p in Path(args.real).iterdir() if p.suffix.lower() in (".jpg", ".png", ".dcm"))[: args.films]
        return [read_radiograph(p).pixels for p in paths]
    from spine.phantom import PhantomSpec, make_phantom

    return [make_phantom(PhantomSpec(seed=900 + k, height_px=2400)).image for k in range(args.films)]


def time_film(models: ModelSet, pixels: np.ndarray) -> dict:
    """Seconds per step and in all for one film measured by the product's core, and how many vertebrae it found."""
    clock = Stopwatch()
    start = time.perf_counter()
    result = measure_film(Radiograph(pixels, "bench.png"), models, "AP", clock=clock)
    return {**{step: clock.seconds.get(step, 0.0) for step in STEPS}, "total": time.perf_counter() - start,
            "vertebrae": len(result.spine)}


def arm_models(models: ModelSet, arm: Arm) -> ModelSet:
    """The model set with the inference settings of ``arm``."""
    from keypoints.config import PredictConfig as CornerPredict
    from segmenter.config import PredictConfig as SegmentPredict

    runtime = {"torch": "torch", "onnx": "onnx", "int8": "onnx-int8", None: None}[arm.runtime]
    corners, segmenter, levels = models.corners, models.segmenter, models.levels
    if runtime is not None or arm.flip is not None:
        flip = corners.flip if arm.flip is None else arm.flip
        corners = corners.with_predict(CornerPredict(flip=flip, runtime=runtime or corners.runtime))
    if runtime is not None or arm.segflip is not None:
        flip = getattr(segmenter, "flip", False) if arm.segflip is None else arm.segflip
        segmenter = segmenter.with_predict(SegmentPredict(flip=flip, runtime=runtime or segmenter.runtime))
    if runtime is not None and levels is not None:
        levels = replace(levels, runtime="onnx" if runtime == "onnx-int8" else runtime, embed=None)
    options = models.options if arm.reframe is None else replace(models.options, reframe=arm.reframe)
    return replace(models, corners=corners, segmenter=segmenter, levels=levels, options=options)


def summarise(rows: list[dict]) -> dict:
    keys = (*STEPS, "total")
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
    parser.add_argument("--arm", action="append", default=[], metavar="KEY=VALUE,...",
                        help="an arm's inference settings, e.g. runtime=onnx,flip=true (repeatable; Arm's keys)")
    args = parser.parse_args()
    start = time.perf_counter()
    models = ModelSet.load(args.models, args.device)
    load_s = time.perf_counter() - start
    arms = {} if args.arm else {"model set": models}
    for text in args.arm:
        try:
            arm = parse_arm(text)
        except configlib.ConfigError as exc:
            parser.error(str(exc))
        arms[text] = arm_models(ModelSet.load(arm.models, args.device) if arm.models else models, arm)
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
        **(summarise(rows["model set"]) if not args.arm else {"arms": {arm: summarise(r) for arm, r in rows.items()}}),
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
