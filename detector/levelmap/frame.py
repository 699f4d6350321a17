"""The level map's geometry: the frame around a chain, and reading the map back at chain members (pure numpy).

The map has one channel per :data:`MAP_CLASSES` (background, then T1-L5): per pixel, the probability that it lies
on that vertebra's body. A member's evidence is the mean probability over the central part of its box; the decode
reads it as a likelihood over :data:`detector.levels.decode.CLASSES` (levels outside T1-L5 and 'none' read the
background's).
"""

from __future__ import annotations

import cv2
import numpy as np

from detector.levelmap.config import FrameConfig
from detector.levels.decode import CLASSES
from spine.crop import Crop
from spine.geometry import AASCE_LEVELS, Box

MAP_CLASSES: tuple[str, ...] = ("background", *AASCE_LEVELS)
ANCHORS: tuple[str, ...] = ("T1", "T12", "L5")
FLOOR = 1e-4  # the least probability a member's evidence may have: one painted pixel less never costs infinity


def chain_pitch(boxes: np.ndarray) -> float:
    """The median distance between consecutive box centres (a lone box: its height)."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    if len(boxes) < 2:
        return float(max(boxes[0, 3] - boxes[0, 1], 1.0)) if len(boxes) else 1.0
    return float(max(np.median(np.linalg.norm(np.diff(centres, axis=0), axis=1)), 1.0))


def chain_frame(boxes: np.ndarray, cfg: FrameConfig, margin_top: float | None = None, margin_bottom: float | None = None,
                shift: float = 0.0) -> Crop:
    """The window from ``margin_top`` pitches above the chain's first box to ``margin_bottom`` below its last (both
    ``cfg.margin`` by default), ``cfg.width / cfg.height`` as wide, centred on the chain (moved sideways by
    ``shift`` of its width); it may reach past the film (the outside reads black)."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    pitch = chain_pitch(boxes)
    top = boxes[:, 1].min() - (cfg.margin if margin_top is None else margin_top) * pitch
    bottom = boxes[:, 3].max() + (cfg.margin if margin_bottom is None else margin_bottom) * pitch
    width = (bottom - top) * cfg.width / cfg.height
    cx = float(np.median((boxes[:, 0] + boxes[:, 2]) / 2)) + shift * width
    return Crop(Box(cx - width / 2, top, cx + width / 2, bottom), (cfg.width, cfg.height))


def member_evidence(probs: np.ndarray, crop: Crop, boxes: np.ndarray, keep: float = 0.5) -> np.ndarray:
    """(n, len(MAP_CLASSES)) log of the mean map probabilities over each box's central ``keep`` part (at least one
    map pixel); a box outside the frame reads uniform."""
    channels, height, width = probs.shape
    out = np.full((len(boxes), channels), -np.log(channels))
    for i, box in enumerate(np.asarray(boxes, float).reshape(-1, 4)):
        b = crop.box_to_crop(Box(*box))
        cx, cy = b.center
        hw, hh = max(b.width * keep / 2, 0.5), max(b.height * keep / 2, 0.5)
        x0, x1 = int(np.clip(np.floor(cx - hw), 0, width)), int(np.clip(np.ceil(cx + hw), 0, width))
        y0, y1 = int(np.clip(np.floor(cy - hh), 0, height)), int(np.clip(np.ceil(cy + hh), 0, height))
        if x1 > x0 and y1 > y0:
            out[i] = np.log(np.clip(probs[:, y0:y1, x0:x1].mean(axis=(1, 2)), FLOOR, 1.0))
    return out


def decode_evidence(log_map: np.ndarray, use: str = "all") -> np.ndarray:
    """(n, len(CLASSES)) log-likelihoods for the chain decode from (n, len(MAP_CLASSES)) member evidence. 'all': each
    level T1-L5 its own channel, every other class the background's; 'anchors': T1, T12 and L5 their own, every
    other class the probability of none of the three."""
    log_map = np.asarray(log_map, float)
    probs = np.exp(log_map)
    if use == "anchors":
        own = list(ANCHORS)
        rest = np.log(np.clip(1.0 - probs[:, [MAP_CLASSES.index(a) for a in ANCHORS]].sum(axis=1), FLOOR, 1.0))
    elif use == "all":
        own = list(AASCE_LEVELS)
        rest = log_map[:, 0]
    else:
        raise ValueError(f"use must be 'all' or 'anchors', got {use!r}")
    out = np.repeat(rest[:, None], len(CLASSES), axis=1)
    for level in own:
        out[:, CLASSES.index(level)] = log_map[:, MAP_CLASSES.index(level)]
    return out


def painted_boxes(probs: np.ndarray, crop: Crop, pitch: float, min_area: float) -> dict[str, Box]:
    """Level -> image box of the largest region the map paints with that level (argmax), for regions of at least
    ``min_area`` of a vertebral body's expected area (0.8 x 1.2 pitches, in map px)."""
    labels = probs.argmax(axis=0).astype(np.uint8)
    sx, sy = crop.scale
    expected = 0.8 * pitch * sy * 1.2 * pitch * sx
    out = {}
    for c, level in enumerate(MAP_CLASSES[1:], start=1):
        count, _, stats, _ = cv2.connectedComponentsWithStats((labels == c).astype(np.uint8), connectivity=8)
        if count < 2:
            continue
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        x, y, w, h, area = stats[k]
        if area >= min_area * expected:
            out[level] = crop.box_to_image(Box(x - 0.5, y - 0.5, x + w - 0.5, y + h - 0.5))
    return out
