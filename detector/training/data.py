"""Canonical annotations -> an ultralytics dataset (images, labels, data.yaml), generated, never kept by hand.

Films are stored as 8-bit grey PNGs with their long side at ``model.imgsz``
(the detector sees a downscaled film; boxes are normalised, so they need no
change). Box labels: tight boxes from corners or masks; Roboflow's loose
boxes shrunk to tight-box scale, kept raw, or dropped (``export.roboflow_boxes``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from detector.training.config import ROBOFLOW_BOX_SCALE, DetectorConfig
from spine.geometry import Box
from spine.radiograph import read_radiograph
from spine.research.datasets.annotation import Annotation
from spine.research.datasets.sources import aasce_annotations, aasce_split, phantom_annotations, roboflow_annotations, seed_annotations


def class_names(cfg: DetectorConfig) -> list[str]:
    return ["vertebra"] if cfg.model.classes == "single" else list(cfg.priors.expected_levels)


def label_lines(ann: Annotation, cfg: DetectorConfig) -> list[str] | None:
    """YOLO label lines ``class cx cy w h`` (normalised) of one film; None when the film cannot serve this config."""
    per_level = cfg.model.classes == "per_level"
    if not ann.boxes_tight and (cfg.export.roboflow_boxes == "drop" or per_level):
        return None
    names = class_names(cfg)
    lines = []
    for v in ann.spine.vertebrae:
        box = v.box
        if not ann.boxes_tight and cfg.export.roboflow_boxes == "shrink":
            box = Box.from_cxcywh(*box.center, box.width / ROBOFLOW_BOX_SCALE[0], box.height / ROBOFLOW_BOX_SCALE[1])
        if per_level and v.level not in names:
            continue
        cls = names.index(v.level) if per_level else 0
        cx, cy = box.center
        w, h = min(box.width, ann.width), min(box.height, ann.height)
        cx, cy = float(np.clip(cx, 0, ann.width)), float(np.clip(cy, 0, ann.height))
        lines.append(f"{cls} {cx / ann.width:.6f} {cy / ann.height:.6f} {w / ann.width:.6f} {h / ann.height:.6f}")
    return lines


def downscaled(path: str, long_side: int) -> np.ndarray:
    """The film as uint8 grey with its long side resized to ``long_side`` px (aspect kept)."""
    pixels = read_radiograph(path).pixels
    scale = long_side / max(pixels.shape)
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return np.round(np.clip(small, 0, 1) * 255).astype(np.uint8)


def _key(train: Sequence[Annotation], val: Sequence[Annotation], cfg: DetectorConfig) -> str:
    recipe = json.dumps([cfg.model.imgsz, cfg.model.classes, cfg.export.roboflow_boxes, list(cfg.priors.expected_levels),
                         [a.image for a in train], [a.image for a in val]])
    return hashlib.sha1(recipe.encode()).hexdigest()[:12]


def export_dataset(train: Sequence[Annotation], val: Sequence[Annotation], cfg: DetectorConfig, folder: Path | None = None) -> Path:
    """Write (or reuse) the dataset for these annotations; returns the path of its data.yaml."""
    root = (folder or cfg.data.repo_path(cfg.export.folder)) / _key(train, val, cfg)
    data_yaml = root / "data.yaml"
    if data_yaml.exists():
        return data_yaml
    counts = {}
    for split, anns in (("train", train), ("val", val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        counts[split] = 0
        for k, ann in enumerate(anns):
            lines = label_lines(ann, cfg)
            if not lines:
                continue
            stem = f"{k:05d}_{ann.source}"
            cv2.imwrite(str(root / "images" / split / f"{stem}.png"), downscaled(ann.image, cfg.model.imgsz))
            (root / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + "\n")
            counts[split] += 1
    names = class_names(cfg)
    text = (f"path: {root}\ntrain: images/train\nval: images/val\nchannels: 1\nnc: {len(names)}\n"
            f"names: {json.dumps(names)}\n")
    (root / "counts.json").write_text(json.dumps(counts))
    data_yaml.write_text(text)
    return data_yaml

def detector_sets(cfg: DetectorConfig) -> tuple[list[Annotation], list[Annotation], dict]:
    """(train, val, description): AASCE by the saved patient split, Roboflow (never a validation patient, never a
    challenge film), phantoms and seed-format films for training. Without real data, held-out phantoms validate."""
    aasce = aasce_annotations(cfg.data)
    split = aasce_split(cfg.data) if aasce else None
    a_train, a_val = split.apply(aasce) if split else ([], [])
    roboflow = [a for a in roboflow_annotations(cfg.data, split) if cfg.export.roboflow_boxes != "drop"]
    phantoms = phantom_annotations(cfg.data)
    train = a_train + roboflow + phantoms + seed_annotations(cfg.data)
    val = a_val or phantom_annotations(cfg.data, count=max(2, cfg.data.phantoms // 5), seed_offset=100_000)
    if cfg.train.max_train_images:
        train = train[:: max(1, len(train) // cfg.train.max_train_images)][: cfg.train.max_train_images]
    if cfg.train.max_val_images:
        val = val[: cfg.train.max_val_images]
    described = {"train": {"aasce": len(a_train), "roboflow": len(roboflow), "phantoms": len(phantoms), "total": len(train)},
                 "val": {"source": "aasce patient split" if a_val else "held-out phantoms", "films": len(val)},
                 "split_file": cfg.data.split_file, "label_policy": cfg.data.label_policy,
                 "roboflow_boxes": cfg.export.roboflow_boxes}
    return train, val, described
