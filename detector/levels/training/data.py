"""What the level identifier learns from: chains found on training films and their members' labels.

Each member is paired with the true vertebra it overlaps; members beyond the annotated run are named by anatomy
(above T1: C7, C6, ...; below L5: S1), and members that pair with nothing inside the run are ``none`` (duplicates,
noise). Crops and features are the shipped ones (:mod:`detector.levels.chain`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.levels.chain import FEATURES, context_crops, extend_chain, member_features, spine_boxes, spine_features
from detector.levels.config import CropConfig
from detector.levels.decode import CLASSES, NONE, standard_position
from spine.geometry import STANDARD_LEVELS, Spine
from spine.research.metrics import pair_by_overlap

UNKNOWN = -1  # label of a member whose level cannot be told (ignored by the loss)


@dataclass(frozen=True, eq=False)
class ChainSample:
    """One film's chain. crops (n, H, W) uint8; features (n, len(FEATURES)) float32; labels (n,) class index into
    :data:`CLASSES` or UNKNOWN; boxes (n, 4) xyxy image px; height: the film's, px; film: its path;
    patient: the split key; source: the annotation's source."""

    crops: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    height: int
    film: str
    patient: str
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def refeature(features: np.ndarray, boxes: np.ndarray, height: int) -> np.ndarray:
    """Features recomputed for a sub-chain (members dropped), keeping each member's own score, flags, age, sex."""
    f = features
    known = bool(f[0, FEATURES.index("age_sex_known")]) if len(f) else False
    age = float(f[0, FEATURES.index("age")]) * 100 if known else None
    sex = ("F" if f[0, FEATURES.index("female")] else "M") if known else None
    return member_features(
        boxes,
        f[:, FEATURES.index("score")],
        f[:, FEATURES.index("inferred")],
        f[:, FEATURES.index("extrapolated")],
        height,
        bool(f[0, FEATURES.index("lateral_view")]) if len(f) else False,
        age,
        sex,
    )


def _by_anatomy(anchor_level: str, steps: int) -> int:
    """Class index of the vertebra ``steps`` standard levels below ``anchor_level`` (negative: above); ``none``
    beyond S1, UNKNOWN above C1."""
    base = (
        STANDARD_LEVELS.index(anchor_level)
        if anchor_level in STANDARD_LEVELS
        else STANDARD_LEVELS.index({"T13": "T12", "L6": "L5"}[anchor_level]) + (0 if steps > 0 else 1)
    )
    k = base + steps
    if k >= len(STANDARD_LEVELS):
        return NONE
    return CLASSES.index(STANDARD_LEVELS[k]) if k >= 0 else UNKNOWN


def member_labels(found: Spine, truth: Spine, iou: float = 0.3) -> np.ndarray:
    """(n,) class index per member of ``found`` (cranial first): the paired true vertebra's level; members beyond
    the paired run named by anatomy; unpaired members inside the run ``none`` unless the run's numbering leaves
    exactly their place free. All UNKNOWN when nothing pairs or the truth has no levels."""
    n = len(found)
    labels = np.full(n, UNKNOWN)
    truth_levels = [v.level for v in truth.vertebrae]
    if n == 0 or any(name is None for name in truth_levels):
        return labels
    pairs = pair_by_overlap(spine_boxes(truth), spine_boxes(found), iou)
    for t, f in pairs.items():
        labels[f] = CLASSES.index(truth_levels[t])
    paired = sorted(pairs.values())
    if not paired:
        return labels
    first, last = paired[0], paired[-1]
    for k in range(first):
        labels[k] = _by_anatomy(CLASSES[labels[first]], k - first)
    for k in range(last + 1, n):
        labels[k] = _by_anatomy(CLASSES[labels[last]], k - last)
    for a, b in zip(paired, paired[1:]):
        gap = standard_position(CLASSES[labels[b]]) - standard_position(CLASSES[labels[a]])
        for k in range(a + 1, b):
            labels[k] = _by_anatomy(CLASSES[labels[a]], k - a) if gap == b - a else NONE
    return labels


def chain_sample(
    pixels: np.ndarray,
    found: Spine,
    truth: Spine | None,
    cfg: CropConfig,
    film: str,
    patient: str,
    source: str,
    age: float | None = None,
    sex: str | None = None,
) -> ChainSample:
    """A film's chain, extended by ``cfg.extend`` candidates at each end, with its crops, features and (when
    ``truth`` is given) labels."""
    found, extrapolated = extend_chain(found, pixels.shape[0], cfg.extend)
    labels = member_labels(found, truth) if truth is not None else np.full(len(found), UNKNOWN)
    boxes = spine_boxes(found)
    return ChainSample(
        context_crops(pixels, boxes, cfg),
        spine_features(found, extrapolated, pixels.shape[0], age, sex),
        labels.astype(np.int64),
        boxes,
        int(pixels.shape[0]),
        film,
        patient,
        source,
    )


def film_age_sex(ann) -> tuple[float | None, str | None]:
    """Age and sex of an annotated film when its record holds them (phantoms: their truth JSON)."""
    import json
    from pathlib import Path

    record = Path(ann.image).with_suffix(".json")
    if ann.source != "phantom" or not record.exists():
        return None, None
    image = json.loads(record.read_text(encoding="utf-8")).get("image", {})
    return image.get("age"), image.get("sex")


def build_chains(annotations, find_spine, cfg: CropConfig, progress: bool = False) -> list[ChainSample]:
    """Chain samples of annotated films: ``find_spine(pixels, view) -> Spine`` (the detector and its priors)
    gives the chain, the annotation the labels. Where the detector finds no chain (an untrained detector, a film
    it cannot read), the true vertebrae stand in for it, so that every film teaches something."""
    from tqdm import tqdm

    from spine.radiograph import read_radiograph

    out = []
    for ann in tqdm(annotations, desc="chains", unit="film", disable=not progress):
        pixels = read_radiograph(ann.image).pixels
        view = "LAT" if ann.spine.view == "LAT" else "AP"
        found = find_spine(pixels, view)
        if len(found) == 0:
            found = ann.spine.with_(vertebrae=tuple(v.with_(level=None, corners=None, mask=None, score=1.0) for v in ann.spine.vertebrae))
        if len(found) == 0:
            continue
        age, sex = film_age_sex(ann)
        out.append(chain_sample(pixels, found, ann.spine, cfg, ann.image, ann.patient, ann.source, age, sex))
    return out
