"""Detector figures: box AP, recall and precision at IoU 0.5, and level naming, before and after the priors.

    python -m detector.training.evaluate --models runs/detector/model [--on val|challenge] [--out REPORT.json]

"Before the priors" takes the raw detections scoring at least ``conf`` in
top-to-bottom order and names them from the expected levels; "after" runs
the chain priors (named by the count); "after levels" names that chain with
the level identifier, when one is given. A film counts as all-levels-correct when every expected
level is found, named right, and overlaps its true box at IoU >= 0.5.
Roboflow reference boxes (loose) are shrunk to tight-box scale first.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np

from detector.priors import PriorsConfig, apply_priors, name_levels, snap_inferred
from detector.training.config import ROBOFLOW_BOX_SCALE
from spine.contracts import Detection
from spine.geometry import Box, Spine
from spine.radiograph import read_radiograph
from spine.research.datasets.annotation import Annotation
from spine.research.metrics import ap_50_95, average_precision, match_boxes
from spine.research.report import emit


def reference_spine(ann: Annotation, expected: Sequence[str]) -> Spine:
    """Truth boxes at tight-box scale; unnamed truth with exactly the expected count is named in order."""
    vertebrae = list(ann.spine.vertebrae)
    if not ann.boxes_tight:
        vertebrae = [v.with_(box=Box.from_cxcywh(*v.box.center, v.box.width / ROBOFLOW_BOX_SCALE[0],
                                                 v.box.height / ROBOFLOW_BOX_SCALE[1])) for v in vertebrae]
    if all(v.level is None for v in vertebrae) and len(vertebrae) == len(expected):
        vertebrae = [v.with_(level=name) for v, name in zip(sorted(vertebrae, key=lambda v: v.box.center[1]), expected)]
    return Spine(tuple(vertebrae), view=ann.spine.view)


def _boxes(spine: Spine) -> np.ndarray:
    return np.array([v.box.as_list() for v in spine.vertebrae]).reshape(-1, 4)


def naming_correct(found: Spine, truth: Spine, expected: Sequence[str], iou: float = 0.5) -> tuple[int, bool] | None:
    """(levels right, all expected levels right) of one film; None when the truth has no level names."""
    truth_by = truth.by_level()
    if not all(name in truth_by for name in expected):
        return None
    found_by = found.by_level()
    right = sum(1 for name in expected if name in found_by and found_by[name].box.iou(truth_by[name].box) >= iou)
    return right, right == len(expected)


def _before_priors(detections: list[Detection], cfg: PriorsConfig, conf: float) -> Spine:
    from spine.geometry import Vertebra

    kept = sorted((d for d in detections if d.score >= conf), key=lambda d: d.box.center[1])
    names, _ = name_levels([d.score for d in kept], cfg) if kept else ([], [])
    return Spine(tuple(Vertebra(n, d.box, score=d.score) for d, n in zip(kept, names)))


def _summary(rows: list[dict], key: str) -> dict:
    tp = sum(r[key]["tp"] for r in rows)
    n_pred = sum(r[key]["pred"] for r in rows)
    n_true = sum(r[key]["true"] for r in rows)
    named = [r[key]["named"] for r in rows if r[key]["named"] is not None]
    return {
        "recall@0.5": tp / max(n_true, 1), "precision@0.5": tp / max(n_pred, 1),
        "films_all_levels_correct": (sum(1 for n in named if n[1]) / len(named)) if named else None,
        "levels_correct": (sum(n[0] for n in named) / (len(named) * len(rows[0]["expected"]))) if named else None,
        "films_named": len(named),
    }


def _film_row(spine: Spine, truth: Spine, expected) -> dict:
    assigned, _ = match_boxes(_boxes(spine), _boxes(truth), 0.5)
    return {"tp": int((assigned >= 0).sum()), "pred": len(spine), "true": len(truth),
            "named": naming_correct(spine, truth, expected)}


def evaluate_detector(detector, annotations: Sequence[Annotation], priors: PriorsConfig, levels=None, conf: float = 0.25) -> dict:
    """Figures of ``detector`` on annotated films (see the module doc); ``levels``: a LevelIdentifier or None."""
    expected = priors.expected_levels
    preds, truths, rows = [], [], []
    for ann in annotations:
        truth = reference_spine(ann, expected)
        pixels = read_radiograph(ann.image).pixels
        detections = detector.detect(pixels, priors)
        preds.append((np.array([d.box.as_list() for d in detections]).reshape(-1, 4), np.array([d.score for d in detections])))
        truths.append(_boxes(truth))
        after, _ = apply_priors(detections, priors)
        rows.append({"expected": expected, "before": _film_row(_before_priors(detections, priors, conf), truth, expected),
                     "after": _film_row(snap_inferred(after, detections, priors.snap_iou), truth, expected)})
        if levels is not None:
            named = levels.name(pixels, after, expected)[0] if len(after) else after
            rows[-1]["levels"] = _film_row(snap_inferred(named, detections, priors.snap_iou), truth, expected)
    if not rows:
        return {"films": 0}
    figures = {"films": len(rows), "AP50": average_precision(preds, truths, 0.5), "AP50-95": ap_50_95(preds, truths),
               "conf_before_priors": conf, "before_priors": _summary(rows, "before"), "after_priors": _summary(rows, "after")}
    if levels is not None:
        figures["after_levels"] = _summary(rows, "levels")
    return figures


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    from detector.predict import Detector
    from detector.training.config import DetectorConfig
    from detector.training.data import detector_sets
    from spine import config as configlib
    from spine.research.datasets.sources import challenge_annotations

    parser = argparse.ArgumentParser(prog="python -m detector.training.evaluate", description="Detector figures on a validation set.")
    parser.add_argument("--models", required=True, help="detector model folder")
    parser.add_argument(
        "--on",
        default="val",
        choices=["val", "challenge"],
        help="AASCE patient-split validation films, or the 98 full-length challenge films",
    )
    parser.add_argument("--levels", help="a level identifier model folder: also score the chain it names")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a key of the model's config, e.g. priors.enabled=false"
    )
    parser.add_argument("--out", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    cfg = configlib.load(DetectorConfig, f"{args.models}/config.yaml", args.set)
    films = detector_sets(cfg)[1] if args.on == "val" else challenge_annotations(cfg.data)
    levels = None
    if args.levels:
        from detector.levels.predict import LevelIdentifier

        levels = LevelIdentifier.load(args.levels)
    figures = evaluate_detector(Detector.load(args.models).with_predict(cfg.predict), films, cfg.priors, levels)
    figures["on"] = args.on
    return emit(figures, args.out)


if __name__ == "__main__":
    sys.exit(main())
