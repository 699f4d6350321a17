"""Per-vertebra training crops, extracted once from canonical annotations and shared by segmenter and keypoints.

Each sample is a square crop around one vertebra's true box with more context
than the stages' own crop (``margin``, neighbours visible), resized so that
it has the stage's resolution: the film pixels, the target mask of the
centre vertebra only (amodal: hidden parts included), its corners and its
true box in bank px, and, for phantoms, the occluder mask so hidden-part
accuracy can be scored. The stage's crop is cut from it at training time,
around the true box or a box moved the way the detector's boxes are
(:mod:`spine.research.cropdata`). AASCE targets are the body polygon through the
four corners; phantom targets are the true amodal outlines.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from spine.crop import Crop
from spine.geometry import IL, IR, SL, SR, Polygon, Vertebra
from spine.radiograph import read_radiograph
from spine.research.datasets.annotation import Annotation


@dataclass(frozen=True, eq=False)
class CropBank:
    """images (N, S, S) uint8; masks (N, S, S) uint8 {0, 1}; corners (N, 4, 2) float32 bank px;
    occluders (N, S, S) uint8 {0, 1} (zeros where unknown); has_occluder (N,) bool; film (N,) int; level (N,) str;
    boxes (N, 4) float32 the true box, xyxy bank px."""

    images: np.ndarray
    masks: np.ndarray
    corners: np.ndarray
    occluders: np.ndarray
    has_occluder: np.ndarray
    film: np.ndarray
    level: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> "CropBank":
        return CropBank(*(getattr(self, f)[index] for f in FIELDS))


FIELDS = ("images", "masks", "corners", "occluders", "has_occluder", "film", "level", "boxes")


def bank_frame(size: int, margin: float, context: float) -> tuple[int, float]:
    """(side, margin) of bank crops holding ``context`` more margin than a stage crop (``size``, ``margin``) at the
    same resolution."""
    bank_margin = margin + context
    return int(round(size * (1 + 2 * bank_margin) / (1 + 2 * margin))), bank_margin


def target_outline(v: Vertebra) -> Polygon | None:
    """The amodal target outline: the vertebra's mask, else the quadrilateral through its corners."""
    if v.mask is not None:
        return v.mask
    if v.corners is not None:
        return Polygon(v.corners[[SL, SR, IR, IL]])
    return None


def _occluder(ann: Annotation) -> np.ndarray | None:
    path = Path(ann.image)
    candidate = path.with_name(f"{path.stem}_occluders.png")
    if ann.source != "phantom" or not candidate.exists():
        return None
    from PIL import Image

    return (np.asarray(Image.open(candidate)) > 0).astype(np.uint8)


def film_samples(ann: Annotation, size: int, margin: float, film_index: int) -> list[tuple]:
    """(image, mask, corners, occluder, has_occluder, film, level, box) for every vertebra with a target outline."""
    pixels = read_radiograph(ann.image).pixels
    occluder = _occluder(ann)
    out = []
    for v in ann.spine.vertebrae:
        outline = target_outline(v)
        if outline is None or v.corners is None:
            continue
        crop = Crop.around(v.box, margin, size)
        image = np.round(crop.extract(pixels) * 255).astype(np.uint8)
        mask = Polygon(crop.to_crop(outline.points)).rasterize((size, size)).astype(np.uint8)
        occ = crop.extract(occluder, nearest=True) if occluder is not None else np.zeros((size, size), np.uint8)
        box = np.array(crop.box_to_crop(v.box).as_list(), np.float32)
        out.append((image, mask, crop.to_crop(v.corners).astype(np.float32), occ, occluder is not None, film_index, v.level or "", box))
    return out


def build_bank(annotations: Sequence[Annotation], size: int, margin: float) -> CropBank:
    rows = [row for k, ann in enumerate(annotations) for row in film_samples(ann, size, margin, k)]
    if not rows:
        empty = np.zeros((0, size, size), np.uint8)
        return CropBank(empty, empty, np.zeros((0, 4, 2), np.float32), empty, np.zeros(0, bool), np.zeros(0, int), np.zeros(0, str),
                        np.zeros((0, 4), np.float32))
    cols = list(zip(*rows))
    return CropBank(np.stack(cols[0]), np.stack(cols[1]), np.stack(cols[2]), np.stack(cols[3]),
                    np.array(cols[4], bool), np.array(cols[5], int), np.array(cols[6]), np.stack(cols[7]))


def cached_bank(annotations: Sequence[Annotation], size: int, margin: float, folder: str | Path) -> CropBank:
    """:func:`build_bank`, saved under ``folder`` keyed by the films and crop settings, and reused."""
    key = hashlib.sha1(json.dumps(["bank/2", size, margin, [a.image for a in annotations],
                                   [len(a.spine) for a in annotations]]).encode()).hexdigest()[:16]
    path = Path(folder) / f"crops_{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            return CropBank(*(data[f] for f in FIELDS))
    bank = build_bank(annotations, size, margin)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **{f: getattr(bank, f) for f in FIELDS})
    tmp.replace(path)
    return bank
