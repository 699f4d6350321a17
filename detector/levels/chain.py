"""What the level identifier reads of a chain: context crops, geometric features and candidates beyond the ends.

A *chain* is the detector's spine after the priors (cranial first, gaps filled). Context crop: an axis-aligned window
centred on the member's box, ``span`` chain pitches tall (the neighbours above and below) and ``width / height``
times as wide (the ribs, iliac crests and sacrum), resampled to (``height``, ``width``) px, grey uint8.
"""

from __future__ import annotations

import numpy as np

from detector.levels.config import CropConfig
from spine.crop import Crop
from spine.geometry import Box, Spine, Vertebra

FEATURES = ("log_rel_width", "log_rel_height", "score", "inferred", "extrapolated", "index_from_top", "index_from_bottom",
            "centre_y", "top_margin", "bottom_margin", "lateral_view", "log_rel_pitch", "age_sex_known", "age", "female")


def chain_pitch(boxes: np.ndarray) -> np.ndarray:
    """(n,) local centre-to-centre distance along the chain, image px: a running median of the neighbouring links
    (the box height x 1.3 for a chain of one)."""
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    if len(boxes) < 2:
        return (boxes[:, 3] - boxes[:, 1]) * 1.3
    links = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    per_member = np.concatenate([[links[0]], (links[:-1] + links[1:]) / 2, [links[-1]]]) if len(links) > 1 else np.repeat(links, 2)
    return np.array([np.median(per_member[max(0, k - 2) : k + 3]) for k in range(len(boxes))])


def context_crops(pixels: np.ndarray, boxes: np.ndarray, cfg: CropConfig) -> np.ndarray:
    """(n, height, width) uint8 context crops of film ``pixels`` (H, W) in [0, 1] around ``boxes`` (n, 4)."""
    pitch = chain_pitch(boxes)
    out = np.zeros((len(boxes), cfg.height, cfg.width), np.uint8)
    for k, (box, p) in enumerate(zip(boxes, pitch)):
        h = max(cfg.span * p, 4.0)
        window = Box.from_cxcywh((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, h * cfg.width / cfg.height, h)
        out[k] = np.round(np.clip(Crop(window, (cfg.width, cfg.height)).extract(pixels), 0, 1) * 255)
    return out


def member_features(boxes: np.ndarray, scores: np.ndarray, inferred: np.ndarray, extrapolated: np.ndarray, height: int,
                    lateral: bool, age: float | None = None, sex: str | None = None) -> np.ndarray:
    """(n, len(FEATURES)) float32 geometric features of a chain's members (see :data:`FEATURES`): boxes (n, 4)
    xyxy image px, cranial first; inferred: filled into a gap by the priors; extrapolated: a candidate beyond an
    end of the chain (:func:`extend_chain`); height: the film's, px."""
    n = len(boxes)
    if n == 0:
        return np.zeros((0, len(FEATURES)), np.float32)
    w, h = np.maximum(boxes[:, 2] - boxes[:, 0], 1), np.maximum(boxes[:, 3] - boxes[:, 1], 1)
    pitch = np.maximum(chain_pitch(boxes), 1.0)
    k = np.arange(n)
    known = age is not None and sex in ("F", "M")
    columns = [
        np.log(w / np.median(w)), np.log(h / np.median(h)), np.asarray(scores, float), np.asarray(inferred, float),
        np.asarray(extrapolated, float), k / 24.0, (n - 1 - k) / 24.0, (boxes[:, 1] + boxes[:, 3]) / 2 / height,
        np.full(n, min(boxes[0, 1] / pitch[0], 20.0) / 10.0), np.full(n, min((height - boxes[-1, 3]) / pitch[-1], 20.0) / 10.0),
        np.full(n, float(lateral)), np.log(pitch / np.median(pitch)),
        np.full(n, float(known)), np.full(n, (age or 0.0) / 100.0 if known else 0.0), np.full(n, float(known and sex == "F")),
    ]
    return np.stack(columns, axis=1).astype(np.float32)


def spine_features(spine: Spine, extrapolated: np.ndarray, height: int, age: float | None = None,
                   sex: str | None = None) -> np.ndarray:
    """:func:`member_features` of a chain given as a :class:`Spine` (``extrapolated``: (n,) bool)."""
    return member_features(spine_boxes(spine), np.array([v.score for v in spine.vertebrae]),
                           np.array([v.inferred for v in spine.vertebrae]), extrapolated, height, spine.view == "LAT", age, sex)


def extend_chain(chain: Spine, height: int, steps: int) -> tuple[Spine, np.ndarray]:
    """The chain with up to ``steps`` candidates beyond each end (their centres continue the mean of the last two
    links, their size the end member's; kept while the centre lies inside the film), and (n,) True where a member
    is such a candidate. Candidates have no level, score 0 and ``inferred`` set. Chains under 3 stay as they are."""
    n = len(chain)
    if n < 3 or steps <= 0:
        return chain, np.zeros(n, bool)
    boxes = spine_boxes(chain)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2

    def beyond(end: int, step: np.ndarray) -> list[Vertebra]:
        box = chain.vertebrae[end].box
        out = []
        for k in range(1, steps + 1):
            cx, cy = centres[end] + k * step
            if not 0 <= cy < height:
                break
            out.append(Vertebra(None, Box.from_cxcywh(cx, cy, box.width, box.height), score=0.0, inferred=True))
        return out

    above = beyond(0, (centres[0] - centres[2]) / 2)[::-1]
    below = beyond(n - 1, (centres[-1] - centres[-3]) / 2)
    flags = np.array([True] * len(above) + [False] * n + [True] * len(below))
    return chain.with_(vertebrae=tuple(above) + chain.vertebrae + tuple(below)), flags


def spine_boxes(spine: Spine) -> np.ndarray:
    return np.array([v.box.as_list() for v in spine.vertebrae], float).reshape(-1, 4)
