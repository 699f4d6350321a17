"""Pure evaluation metrics on arrays: box matching, average precision, Dice/IoU, corner errors and their structure.

Layered as in nnU-Net: these functions know nothing of files or models.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from spine.geometry import IL, IR, SL, SR, box_iou


def match_boxes(pred: np.ndarray, truth: np.ndarray, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one matching of predictions (in the given order, best first) to truth boxes.

    pred (N, 4), truth (M, 4) xyxy. Returns (matched truth index per prediction or -1, matched flag per truth).
    """
    pred, truth = np.asarray(pred, float).reshape(-1, 4), np.asarray(truth, float).reshape(-1, 4)
    assigned = np.full(len(pred), -1)
    used = np.zeros(len(truth), bool)
    if len(pred) == 0 or len(truth) == 0:
        return assigned, used
    overlaps = box_iou(pred, truth)
    for i in range(len(pred)):
        candidates = np.where(~used & (overlaps[i] >= iou))[0]
        if len(candidates):
            j = candidates[np.argmax(overlaps[i, candidates])]
            assigned[i], used[j] = j, True
    return assigned, used


def pair_by_overlap(truth: np.ndarray, found: np.ndarray, iou: float = 0.3) -> dict[int, int]:
    """truth index -> found index, one-to-one, best-overlapping pairs first, IoU >= ``iou``; boxes (N, 4) xyxy.

    Pairs a cascade's vertebrae with the true ones by where they are, not by the level names the priors gave them,
    so a stage scored on the cascade's boxes is not charged for naming (which the detector figures report apart).
    """
    truth, found = np.asarray(truth, float).reshape(-1, 4), np.asarray(found, float).reshape(-1, 4)
    if len(truth) == 0 or len(found) == 0:
        return {}
    overlaps = box_iou(truth, found)
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for flat in np.argsort(-overlaps, axis=None):
        t, f = np.unravel_index(flat, overlaps.shape)
        if overlaps[t, f] < iou:
            break
        if t not in pairs and f not in used:
            pairs[int(t)] = int(f)
            used.add(int(f))
    return pairs


def average_precision(preds: Sequence[tuple[np.ndarray, np.ndarray]], truths: Sequence[np.ndarray], iou: float) -> float:
    """COCO-style AP (101-point interpolation) at one IoU threshold.

    preds: per image (boxes (N, 4), scores (N,)); truths: per image boxes (M, 4).
    """
    records, total = [], sum(len(t) for t in truths)
    if total == 0:
        return float("nan")
    for (boxes, scores), truth in zip(preds, truths):
        order = np.argsort(-np.asarray(scores))
        assigned, _ = match_boxes(np.asarray(boxes)[order], truth, iou)
        records += list(zip(np.asarray(scores)[order], assigned >= 0))
    if not records:
        return 0.0
    records.sort(key=lambda r: -r[0])
    tp = np.cumsum([r[1] for r in records])
    fp = np.cumsum([not r[1] for r in records])
    recall, precision = tp / total, tp / np.maximum(tp + fp, 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    grid = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, grid, side="left")
    return float(np.mean([precision[i] if i < len(precision) else 0.0 for i in idx]))


def ap_50_95(preds, truths) -> float:
    return float(np.mean([average_precision(preds, truths, t) for t in np.arange(0.5, 0.96, 0.05)]))


def dice_iou(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Dice and IoU of two boolean masks; both empty counts as perfect."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    inter, total = np.logical_and(pred, truth).sum(), pred.sum() + truth.sum()
    union = total - inter
    if total == 0:
        return 1.0, 1.0
    return float(2 * inter / total), float(inter / union)


def corner_errors(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Euclidean distance per corner, px: pred and truth (..., 4, 2) -> (..., 4)."""
    return np.linalg.norm(np.asarray(pred, float) - np.asarray(truth, float), axis=-1)


def corner_summary(errors: np.ndarray) -> dict:
    """mean, median, OR20 and OR40 (share of corners more than 20 / 40 px off) of corner errors."""
    e = np.asarray(errors, float).ravel()
    if e.size == 0:
        return {"mean_px": None, "median_px": None, "or20": None, "or40": None, "corners": 0}
    return {"mean_px": float(e.mean()), "median_px": float(np.median(e)), "or20": float((e > 20).mean()),
            "or40": float((e > 40).mean()), "corners": int(e.size)}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def error_structure(chains: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict:
    """How corner errors split into a part each film shares along its chain and the rest.

    chains: per film, (predicted, true) corners (n, 4, 2) of the same vertebrae in chain order. A film's *offset*
    is each corner type's mean error over its chain (a per-film bias of the reader or convention of the annotator);
    its parts: shift (all four corners one way), widening (right corners minus left, x) and heightening (inferior
    minus superior, y). *Roughness*: std of the second difference along the chain (c[i] - (c[i-1] + c[i+1]) / 2, px,
    x and y), for the truth and the prediction, over films with 3 or more vertebrae; a reader as smooth as the truth
    would show the same; noise found on one vertebra only raises it by 1.5 times its variance."""
    chains = [(np.asarray(p, float), np.asarray(t, float)) for p, t in chains if len(t) >= 2]
    if not chains:
        return {"films": 0}
    errors = [p - t for p, t in chains]
    offsets = np.stack([e.mean(0) for e in errors])  # (films, 4, 2)
    rest = np.concatenate([e - e.mean(0) for e in errors])
    widening = offsets[:, [SR, IR], 0].mean(1) - offsets[:, [SL, IL], 0].mean(1)  # image right minus left, x
    heightening = offsets[:, [IL, IR], 1].mean(1) - offsets[:, [SL, SR], 1].mean(1)

    def second(c):
        return c[1:-1] - (c[:-2] + c[2:]) / 2

    long = [(p, t) for p, t in chains if len(t) >= 3]
    rough = {name: [float(np.concatenate([second(c[k]) for c in long])[..., axis].std()) if long else None for axis in (0, 1)]
             for k, name in ((1, "truth"), (0, "predicted"))}
    return {"films": len(chains), "mean_px": float(np.linalg.norm(np.concatenate(errors), axis=-1).mean()),
            "mean_px_without_film_offsets": float(np.linalg.norm(rest, axis=-1).mean()),
            "film_offset_rms_px": {"shift_x": _rms(offsets[..., 0].mean(1)), "shift_y": _rms(offsets[..., 1].mean(1)),
                                   "widening": _rms(widening), "heightening": _rms(heightening)},
            "film_offset_mean_px": {"widening": float(widening.mean()), "heightening": float(heightening.mean())},
            "roughness_px_xy": rough}


def paired_difference(before: np.ndarray, after: np.ndarray, weights_before: np.ndarray | None = None,
                      weights_after: np.ndarray | None = None, resamples: int = 9999, seed: int = 0) -> dict:
    """How ``after`` differs from ``before`` on the same films, and how much of that the choice of films could make.

    before, after: one figure per film, in the same film order (e.g. a film's SMAPE share, its clinical Cobb error,
    its mean corner error); ``weights_*``: per film, how much it counts on that side (e.g. its corners found, so that
    each mean is the mean over corners, as reported), 1 each when None. Returns the weighted means, their difference
    (after - before) and its 95 % interval with the films resampled in pairs (BCa, ``scipy.stats.bootstrap``).
    """
    from scipy import stats

    b, a = np.asarray(before, float), np.asarray(after, float)
    wb = np.ones_like(b) if weights_before is None else np.asarray(weights_before, float)
    wa = np.ones_like(a) if weights_after is None else np.asarray(weights_after, float)
    if b.ndim != 1 or not (b.shape == a.shape == wb.shape == wa.shape):
        raise ValueError(f"one figure per film in each: before {b.shape}, after {a.shape}, weights {wb.shape}, {wa.shape}")
    if not len(b):
        return {"films": 0, "before": None, "after": None, "difference": None, "ci95": None}
    out = {"films": int(len(b)), "before": float(np.average(b, weights=wb)), "after": float(np.average(a, weights=wa))}
    out["difference"] = out["after"] - out["before"]
    if len(b) < 3:
        return {**out, "ci95": None}

    def mean_difference(sb, nb, sa, na, axis=-1):
        return sa.sum(axis=axis) / na.sum(axis=axis) - sb.sum(axis=axis) / nb.sum(axis=axis)

    if np.allclose(a - b, a[0] - b[0]) and np.allclose(wa, wb):
        return {**out, "ci95": [out["difference"]] * 2}  # every film moved alike: no spread to resample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        ci = stats.bootstrap((b * wb, wb, a * wa, wa), mean_difference, paired=True, vectorized=True, n_resamples=resamples,
                             method="BCa", random_state=np.random.default_rng(seed)).confidence_interval
    return {**out, "ci95": [float(ci.low), float(ci.high)]}


def paired_shares(before: np.ndarray, after: np.ndarray) -> dict:
    """A yes/no figure per film (e.g. all levels named right) on the same films, before and after: the films that
    changed each way and the exact two-sided McNemar p (binomial on the changed films; ``scipy.stats.binomtest``).
    A bootstrap interval is too narrow when only a few films change; this is the test for such counts."""
    from scipy import stats

    b, a = np.asarray(before, bool), np.asarray(after, bool)
    gained, lost = int((a & ~b).sum()), int((b & ~a).sum())
    p = stats.binomtest(gained, gained + lost, 0.5).pvalue if gained + lost else 1.0
    return {"films_better": gained, "films_worse": lost, "p_mcnemar": float(p)}


def frame_errors(pred: dict, truth: dict, width: int, height: int, frame_height: float = 704.0) -> tuple[np.ndarray, np.ndarray]:
    """Per true corner of a film (levels of ``truth``, (4, 2) image px each): the error in a frame resized to
    ``frame_height`` px high (inf where ``pred`` has no such level: a missing vertebra is four corners off), and the
    squared distance in coordinates normalised by the film's width and height (nan where missing)."""
    scale = frame_height / height
    errors, squared = [], []
    for level, true in truth.items():
        if level not in pred:
            errors += [np.inf] * 4
            squared += [np.nan] * 4
            continue
        d = np.asarray(pred[level], float) - np.asarray(true, float)
        errors += list(np.linalg.norm(d, axis=-1) * scale)
        squared += list(((d / (width, height)) ** 2).sum(axis=-1))
    return np.array(errors, float), np.array(squared, float)


def landmark_summary(errors: np.ndarray, squared: np.ndarray) -> dict:
    """OR20 and OR40 (share of corners more than 20 / 40 px off in the 704-px frame, missing ones included), NMSE
    (mean normalised squared distance of the placed corners) and how many corners were missing."""
    e, s = np.asarray(errors, float).ravel(), np.asarray(squared, float).ravel()
    if e.size == 0:
        return {"corners": 0, "or20": None, "or40": None, "nmse": None, "missing": 0}
    placed = s[np.isfinite(s)]
    return {"corners": int(e.size), "or20": float((e > 20).mean()), "or40": float((e > 40).mean()),
            "nmse": float(placed.mean()) if placed.size else None, "missing": int((~np.isfinite(e)).sum())}
