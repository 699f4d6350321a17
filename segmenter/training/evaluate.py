"""Segmenter figures: Dice and IoU per vertebra, on ground-truth boxes or on the detector's; on phantoms also
Dice on the visible and on the hidden (occluded) part separately.

    python -m segmenter.training.evaluate --models runs/segmenter/model [--phantoms N | --detector DIR] [--out REPORT.json]

``--detector`` scores on the boxes that detector and its priors find (misses count as Dice 0), as
``python -m pipeline.evaluate`` does for a whole model set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from spine.contracts import outlines_to_fill
from spine.geometry import Box, Polygon, Vertebra
from spine.radiograph import read_radiograph
from spine.research.cropbank import target_outline
from spine.research.datasets.annotation import Annotation
from spine.research.metrics import dice_iou, pair_by_overlap
from spine.research.report import emit


def _window(a: Polygon, b: Polygon | None) -> tuple[int, int, int, int]:
    pts = a.points if b is None else np.vstack([a.points, b.points])
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
    return int(x0), int(y0), int(x1), int(y1)


def vertebra_scores(pred: Polygon | None, truth: Polygon, occluder: np.ndarray | None) -> dict:
    """Dice/IoU of one vertebra in image px; with an occluder map, Dice on the visible and on the hidden part."""
    x0, y0, x1, y1 = _window(truth, pred)
    shape, offset = (y1 - y0, x1 - x0), (x0, y0)
    t = truth.rasterize(shape, offset)
    p = pred.rasterize(shape, offset) if pred is not None else np.zeros(shape, bool)
    dice, iou = dice_iou(p, t)
    row = {"dice": dice, "iou": iou}
    if occluder is not None:
        occ = np.zeros(shape, bool)
        H, W = occluder.shape
        ys, xs = slice(max(y0, 0), min(y1, H)), slice(max(x0, 0), min(x1, W))
        occ[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = occluder[ys, xs] > 0
        if (t & occ).sum() > 0:
            row["dice_hidden"] = dice_iou(p & occ, t & occ)[0]
        row["dice_visible"] = dice_iou(p & ~occ, t & ~occ)[0]
    return row


def _occluder(ann: Annotation) -> np.ndarray | None:
    path = Path(ann.image).with_name(f"{Path(ann.image).stem}_occluders.png")
    if ann.source != "phantom" or not path.exists():
        return None
    from PIL import Image

    return np.asarray(Image.open(path)) > 0


def _pairs(ann: Annotation, found: Sequence[Vertebra] | None) -> list[tuple[Vertebra, Box, Polygon | None]]:
    """(truth vertebra, box to segment from, the outline the pipeline already drew there or None): the truth box,
    or the cascade's box at the same place (whatever level name the priors gave it: naming is scored by the
    detector figures), with the mask the cascade's vertebra carries (drawn when its box was re-drawn from it)."""
    truth = [v for v in ann.spine.vertebrae if target_outline(v) is not None]
    if found is None:
        return [(v, v.box, None) for v in truth]
    pairs = pair_by_overlap(np.array([v.box.as_list() for v in truth]), np.array([v.box.as_list() for v in found]))
    return [(v, found[pairs[k]].box, found[pairs[k]].mask) for k, v in enumerate(truth) if k in pairs]


def _summary(rows: list[dict], total: int) -> dict:
    out = {"vertebrae": len(rows), "vertebrae_total": total}
    for key in ("dice", "iou", "dice_visible", "dice_hidden"):
        values = [r[key] for r in rows if key in r]
        if values:
            out[f"{key}_mean"] = float(np.mean(values))
            out[f"{key}_median"] = float(np.median(values))
    return out


def evaluate_segmenter(segmenter, films: Sequence[Annotation], find_spine=None) -> dict:
    """Dice/IoU over every truth vertebra; ``find_spine(pixels) -> Spine`` supplies detector boxes (else truth boxes).
    With detector boxes, a vertebra the detector missed or misnamed scores Dice 0."""
    rows, total, per_film = [], 0, {}
    for ann in films:
        pixels = read_radiograph(ann.image).pixels
        found = find_spine(pixels).vertebrae if find_spine is not None else None
        pairs = _pairs(ann, found)
        expected = sum(1 for v in ann.spine.vertebrae if target_outline(v) is not None)
        outlines = outlines_to_fill(segmenter, pixels, [box for _, box, _ in pairs], [drawn for _, _, drawn in pairs])
        occluder = _occluder(ann)
        film = [vertebra_scores(pred, target_outline(v), occluder) for (v, _, _), pred in zip(pairs, outlines)]
        film += [{"dice": 0.0, "iou": 0.0}] * (expected - len(film))
        per_film[ann.name] = {"dice_mean": float(np.mean([r["dice"] for r in film])) if film else None, "vertebrae": expected}
        rows += film
        total += expected
    return {**_summary(rows, total), "per_film": per_film}


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    from segmenter.predict import load_segmenter
    from segmenter.training.config import SegmenterConfig
    from spine import config as configlib
    from spine.research.datasets.sources import crop_stage_sets

    parser = argparse.ArgumentParser(prog="python -m segmenter.training.evaluate", description="Segmenter figures on the validation films.")
    parser.add_argument("--models", required=True, help="segmenter model folder")
    parser.add_argument("--phantoms", type=int, default=0, help="score on this many held-out phantoms instead (visible/hidden Dice)")
    parser.add_argument("--out", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    cfg = configlib.load(SegmenterConfig, f"{args.models}/config.yaml")
    if args.phantoms:
        from spine.research.datasets.sources import phantom_annotations

        films = phantom_annotations(cfg.data, count=args.phantoms, seed_offset=200_000)
    else:
        films = crop_stage_sets(cfg.data, max_val=cfg.train.max_val_films)[1]
    figures = evaluate_segmenter(load_segmenter(args.models), films)  # on a detector's boxes: pipeline.ablate --rescore
    figures["boxes"] = "truth"
    return emit(figures, args.out)


if __name__ == "__main__":
    sys.exit(main())
