"""Training frames of the level map: the AASCE films kept downscaled once (an npz cache), and per sample a frame
around the true chain, perturbed as a detector's chain would be, with its label map (each vertebral body T1-L5
filled with its class)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from detector.levelmap.config import FrameConfig
from detector.levelmap.frame import chain_frame
from detector.levelmap.training.config import FrameAugmentConfig
from spine.geometry import AASCE_LEVELS, IL, IR, SL, SR

POLYGON = [SL, SR, IR, IL]  # the corners around the body

@dataclass(frozen=True, eq=False)
class Film:
    """pixels: (H, W) uint8, downscaled; corners: (17, 4, 2) T1-L5 in those pixels; patient: its key."""

    pixels: np.ndarray
    corners: np.ndarray
    patient: str
    name: str

    def boxes(self) -> np.ndarray:
        return np.concatenate([self.corners.min(axis=1), self.corners.max(axis=1)], axis=1)

def labelled_t1_l5(annotation) -> bool:
    """Whether a film's labels are the corners of exactly T1-L5 (what the map learns)."""
    vertebrae = annotation.spine.vertebrae
    return [v.level for v in vertebrae] == list(AASCE_LEVELS) and all(v.corners is not None for v in vertebrae)


def _read(annotation, height: int) -> Film:
    from spine.radiograph import read_radiograph

    pixels = read_radiograph(annotation.image).pixels
    scale = height / pixels.shape[0]
    small = cv2.resize(pixels, (max(1, round(pixels.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)
    corners = np.array([v.corners for v in annotation.spine.vertebrae], float) * scale
    if not labelled_t1_l5(annotation):
        raise ValueError(f"{annotation.image}: the level map trains on films labelled T1-L5")
    return Film(np.round(small * 255).astype(np.uint8), corners, annotation.patient, Path(annotation.image).name)

def cached_films(annotations: Sequence, folder: str | Path, height: int, progress: bool = False) -> list[Film]:
    """The films downscaled to ``height`` px, read once and kept under ``folder`` keyed by their names and labels."""
    from tqdm import tqdm

    key = json.dumps([height, [(a.image, np.round([v.corners for v in a.spine.vertebrae], 2).tolist()) for a in annotations]])
    path = Path(folder) / f"films_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            ends = np.cumsum(z["sizes"][:, 0] * z["sizes"][:, 1])
            flat = np.split(z["pixels"], ends[:-1])
            rows = zip(flat, z["sizes"], z["corners"], z["patient"], z["name"])
            return [Film(p.reshape(s), c, str(pt), str(n)) for p, s, c, pt, n in rows]
    films = [_read(a, height) for a in tqdm(annotations, desc="films", unit="film", disable=not progress)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, pixels=np.concatenate([f.pixels.ravel() for f in films]), sizes=np.array([f.pixels.shape for f in films]),
             corners=np.stack([f.corners for f in films]), patient=np.array([f.patient for f in films]),
             name=np.array([f.name for f in films]))
    tmp.replace(path)
    return films

def label_map(corners: np.ndarray, crop, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) int64: each body T1-L5 (``corners`` (17, 4, 2) image px) filled with its class in the crop's frame."""
    labels = np.zeros(shape, np.uint8)
    for c, quad in enumerate(np.asarray(corners, float), start=1):
        polygon = crop.to_crop(quad[POLYGON])
        cv2.fillPoly(labels, [np.round(polygon * 16).astype(np.int32)], c, lineType=cv2.LINE_8, shift=4)
    return labels.astype(np.int64)

def _cut_ends(frame: np.ndarray, labels: np.ndarray, centres_y: np.ndarray, p: float, rng: np.random.Generator):
    """The frame blacked out (and unlabelled) above the centre of one of the first four bodies, and below one of the
    last four, each with probability ``p``."""
    frame, labels = frame.copy(), labels.copy()
    if rng.random() < p:
        y = int(np.clip(round(centres_y[int(rng.integers(0, 4))]), 0, len(frame)))
        frame[:y], labels[:y] = 0, 0
    if rng.random() < p:
        y = int(np.clip(round(centres_y[-1 - int(rng.integers(0, 4))]), 0, len(frame)))
        frame[y:], labels[y:] = 0, 0
    return frame, labels


def sample_frame(film: Film, cfg: FrameConfig, aug: FrameAugmentConfig | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(frame (H, W) float32 in [0, 1], labels (H, W) int64) of one film: the inference frame without ``aug``, else
    one framed from a shortened true chain with jittered margins, zoomed out at times, mirrored and re-contrasted."""
    boxes = film.boxes()
    top, bottom, shift = cfg.margin, cfg.margin, 0.0
    if aug is not None:
        first = int(rng.integers(0, aug.drop_end + 1))
        last = len(boxes) - int(rng.integers(0, aug.drop_end + 1))
        boxes = boxes[first:last]
        top += rng.uniform(-aug.margin_jitter, aug.margin_jitter) + (rng.uniform(0, 8) if rng.random() < aug.zoom_out else 0.0)
        bottom += rng.uniform(-aug.margin_jitter, aug.margin_jitter)
        shift = rng.uniform(-aug.shift, aug.shift)
    crop = chain_frame(boxes, cfg, max(top, 0.5), max(bottom, 0.5), shift)
    frame = crop.extract(film.pixels.astype(np.float32) / 255.0)
    labels = label_map(film.corners, crop, frame.shape)
    if aug is not None:
        frame, labels = _cut_ends(frame, labels, crop.to_crop(film.corners.mean(axis=1))[:, 1], aug.cut, rng)
        if rng.random() < aug.hflip:
            frame, labels = frame[:, ::-1], labels[:, ::-1]
        if rng.random() < aug.intensity:
            gamma, gain, bias = np.exp(rng.normal(0, 0.25)), rng.uniform(0.8, 1.2), rng.uniform(-0.1, 0.1)
            frame = np.clip((frame ** gamma) * gain + bias + rng.normal(0, 0.02, frame.shape), 0, 1)
    return np.ascontiguousarray(frame, np.float32), np.ascontiguousarray(labels)
