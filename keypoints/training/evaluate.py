"""Keypoint figures in original image px: mean and median corner error, OR20 and OR40, and the AASCE Cobb
SMAPE and mean absolute error these corners give (T1-L5 films), on truth boxes or on the cascade's boxes.

    python -m keypoints.training.evaluate --models runs/keypoints/model [--box-sensitivity] [--out REPORT.json]

--box-sensitivity adds how far the corners follow their box when the true box is moved (0: the head reads the
corners off the image alone; 1: it reads them off the box's framing, so a detector's box error goes straight
into the corners).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from spine.geometry import AASCE_LEVELS
from spine.measures.aasce import aasce_cobb, cmae, smape, smape_per_film
from spine.radiograph import read_radiograph
from spine.research.datasets.annotation import Annotation
from spine.research.metrics import corner_errors, corner_summary, error_structure, frame_errors, landmark_summary, pair_by_overlap
from spine.research.report import emit


def organiser_angles(data_cfg) -> dict | None:
    """The organisers' angles.csv by film name, when the AASCE folder is there."""
    from spine.research.datasets.aasce import load_angles

    folder = data_cfg.root_path() / data_cfg.aasce
    return load_angles(folder) if folder.is_dir() else None


def reference_angles(ann: Annotation, height: int, organisers: dict | None) -> np.ndarray | None:
    """The organisers' angles for an AASCE film when known, else the protocol on the true corners."""
    if organisers is not None and ann.name in organisers:
        return np.asarray(organisers[ann.name], float)
    truth = ann.spine.by_level()
    if not all(level in truth and truth[level].corners is not None for level in AASCE_LEVELS):
        return None
    return np.asarray(aasce_cobb(np.stack([truth[l].corners for l in AASCE_LEVELS]), height)[0])


IOU_BINS = (0.0, 0.6, 0.7, 0.8, 0.9, 1.01)


def film_boxes(ann: Annotation, pixels: np.ndarray, find_spine) -> dict:
    """level -> the box each true vertebra gets: its own, or the cascade's box at the same place, whatever its level
    name (naming is scored by the detector)."""
    truth = [v for v in ann.spine.vertebrae if v.corners is not None and v.level]
    if find_spine is None:
        return {v.level: v.box for v in truth}
    found = find_spine(pixels).vertebrae
    pairs = pair_by_overlap(np.array([v.box.as_list() for v in truth]), np.array([v.box.as_list() for v in found]))
    return {v.level: found[pairs[k]].box for k, v in enumerate(truth) if k in pairs}


def film_corners(model, ann: Annotation, pixels: np.ndarray, find_spine, boxes: dict | None = None) -> dict:
    """level -> predicted corners (4, 2) image px, for the truth vertebrae the boxes cover."""
    boxes = film_boxes(ann, pixels, find_spine) if boxes is None else boxes
    levels = list(boxes)
    return dict(zip(levels, model.corners(pixels, [boxes[l] for l in levels])))


def by_iou(errors: list[np.ndarray], ious: list[float]) -> dict:
    """Mean corner error (px) of the vertebrae in each bin of box IoU with the truth, and how many fell there."""
    out = {}
    for lo, hi in zip(IOU_BINS, IOU_BINS[1:]):
        chosen = [e for e, iou in zip(errors, ious) if lo <= iou < hi]
        out[f"{lo:.1f}-{min(hi, 1.0):.1f}"] = {"vertebrae": len(chosen), "mean_px": float(np.mean(chosen)) if chosen else None}
    return out


def evaluate_keypoints(model, films: Sequence[Annotation], find_spine: Callable | None = None,
                       organisers: dict | None = None) -> dict:
    """Corner and Cobb figures; vertebrae the cascade missed count in ``vertebrae_missed`` (not in the errors).
    ``per_film``: by film name, its corners' mean error and count and, with all 17 found, its AASCE SMAPE share."""
    errors, cobb_pred, cobb_true, missed, ious, chains, per_film = [], [], [], 0, [], [], {}
    for ann in films:
        pixels = read_radiograph(ann.image).pixels
        boxes = film_boxes(ann, pixels, find_spine)
        predicted = film_corners(model, ann, pixels, find_spine, boxes)
        truth = {v.level: v.corners for v in ann.spine.vertebrae if v.corners is not None and v.level}
        true_boxes = {v.level: v.box for v in ann.spine.vertebrae}
        missed += len(set(truth) - set(predicted))
        film_errors = [corner_errors(predicted[l], truth[l]) for l in predicted]
        errors += film_errors
        per_film[ann.name] = {"mean_px": float(np.mean(film_errors)) if film_errors else None, "corners": 4 * len(film_errors)}
        ious += [boxes[l].iou(true_boxes[l]) for l in predicted]
        if truth and set(truth) <= set(predicted):  # films with every vertebra found, in chain order
            chains.append((np.stack([predicted[l] for l in truth]), np.stack(list(truth.values()))))
        reference = reference_angles(ann, pixels.shape[0], organisers)
        if reference is not None and all(l in predicted for l in AASCE_LEVELS):
            angles, _ = aasce_cobb(np.stack([predicted[l] for l in AASCE_LEVELS]), pixels.shape[0])
            cobb_pred.append(angles)
            cobb_true.append(reference)
            per_film[ann.name]["aasce_smape"] = float(smape_per_film(angles, reference)[0])
    out = {"films": len(films), "corners": corner_summary(np.array(errors)), "vertebrae_missed": missed,
           "by_box_iou": by_iou([float(e.mean()) for e in errors], ious), "error_structure": error_structure(chains), "per_film": per_film}
    if cobb_pred:
        out["cobb_aasce"] = {"films": len(cobb_pred), "smape": smape(cobb_pred, cobb_true), "mae_deg": cmae(cobb_pred, cobb_true)}
    return out


def landmark_figures(model, films: Sequence[Annotation], find_spine: Callable) -> dict:
    """The cascade's corners against the truth in a 704-px-high frame (OR20, OR40, NMSE; a missing vertebra is four
    corners off), the found vertebrae paired with the true ones by position (overlap, whatever their names) and by
    level name (the vertebra named T7 against the true T7): the second is what a reader of per-level figures gets."""
    errors = {"by_position": ([], []), "by_name": ([], [])}
    for ann in films:
        pixels = read_radiograph(ann.image).pixels
        truth = {v.level: v.corners for v in ann.spine.vertebrae if v.corners is not None and v.level}
        named = {v.level: v.box for v in find_spine(pixels).vertebrae if v.level in truth}
        paired = film_boxes(ann, pixels, find_spine)
        unique = list(dict.fromkeys([*paired.values(), *named.values()]))  # mostly the same boxes: read each once
        read = film_corners(model, ann, pixels, find_spine, dict(zip(unique, unique)))
        for key, boxes in (("by_position", paired), ("by_name", named)):
            predicted = {level: read[box] for level, box in boxes.items()}
            e, s = frame_errors(predicted, truth, pixels.shape[1], pixels.shape[0])
            errors[key][0].append(e)
            errors[key][1].append(s)
    return {key: landmark_summary(np.concatenate(e or [np.zeros(0)]), np.concatenate(s or [np.zeros(0)]))
            for key, (e, s) in errors.items()}


SHIFT, SCALE = 0.1, 1.15  # the moves: a tenth of the box's width or height; 15 % larger
BOX_MOVES = {"shift_x": (SHIFT, 0.0, 0.0, 0.0), "shift_y": (0.0, SHIFT, 0.0, 0.0), "scale": (0.0, 0.0, np.log(SCALE), np.log(SCALE))}


def _follows(move: str, before: np.ndarray, after: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Per vertebra, the share of the box's move that the corners (n, 4, 2) made."""
    if move == "scale":
        def spread(c):
            return np.stack([c[:, [1, 3], 0].mean(1) - c[:, [0, 2], 0].mean(1), c[:, [2, 3], 1].mean(1) - c[:, [0, 1], 1].mean(1)], 1)
        return (spread(after) / spread(before) - 1).mean(1) / (SCALE - 1)
    axis, side = (0, boxes[:, 2] - boxes[:, 0]) if move == "shift_x" else (1, boxes[:, 3] - boxes[:, 1])
    return (after - before)[..., axis].mean(1) / (SHIFT * side)


def box_sensitivity(model, films: Sequence[Annotation]) -> dict:
    """How far the corners follow a moved true box (shift by a tenth of its width or height, scale by 1.15) and the
    corner error on the true and on each moved box (mean px)."""
    from spine.geometry import Box
    from spine.research.boxjitter import apply_error

    follows = {m: [] for m in BOX_MOVES}
    errors = {m: [] for m in ("true_box", *BOX_MOVES)}
    for ann in films:
        pixels = read_radiograph(ann.image).pixels
        vertebrae = [v for v in ann.spine.vertebrae if v.corners is not None]
        boxes = np.array([v.box.as_list() for v in vertebrae])
        truth = np.stack([v.corners for v in vertebrae])
        before = np.stack(model.corners(pixels, [v.box for v in vertebrae]))
        errors["true_box"].append(np.linalg.norm(before - truth, axis=-1).mean(1))
        for move, error in BOX_MOVES.items():
            moved = apply_error(boxes, np.tile(error, (len(boxes), 1)))
            after = np.stack(model.corners(pixels, [Box(*b) for b in moved]))
            follows[move].append(_follows(move, before, after, boxes))
            errors[move].append(np.linalg.norm(after - truth, axis=-1).mean(1))
    return {"follows": {m: float(np.mean(np.concatenate(v))) for m, v in follows.items()},
            "corner_error_px": {m: float(np.mean(np.concatenate(v))) for m, v in errors.items()}}


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    from keypoints.predict import CornerModel
    from keypoints.training.config import KeypointsConfig
    from spine import config as configlib
    from spine.research.datasets.sources import crop_stage_sets

    parser = argparse.ArgumentParser(
        prog="python -m keypoints.training.evaluate", description="Keypoint figures on the validation films (truth boxes)."
    )
    parser.add_argument("--models", required=True, help="keypoints model folder")
    parser.add_argument("--box-sensitivity", action="store_true", help="also: how far the corners follow a moved box")
    parser.add_argument("--out", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    cfg = configlib.load(KeypointsConfig, Path(args.models) / "config.yaml")
    films = crop_stage_sets(cfg.data, max_val=cfg.train.max_val_films)[1]
    model = CornerModel.load(args.models)
    figures = evaluate_keypoints(model, films, organisers=organiser_angles(cfg.data))
    if args.box_sensitivity:
        figures["box_sensitivity"] = box_sensitivity(model, films)
    return emit(figures, args.out)


if __name__ == "__main__":
    sys.exit(main())
