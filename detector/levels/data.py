"""What the level identifier sees and learns from: chains found on films, their members' labels, context crops
and geometric features.

A *chain* is the detector's spine after the priors (cranial first, gaps filled). For training, each member is
paired with the true vertebra it overlaps; members beyond the annotated run are named by anatomy (above T1: C7,
C6, ...; below L5: S1), and members that pair with nothing inside the run are ``none`` (duplicates, noise).

Context crop: an axis-aligned window centred on the member's box, ``span`` chain pitches tall (the neighbours
above and below) and ``aspect`` times as wide (the ribs, iliac crests and sacrum), resampled to
(``height``, ``width``) px, grey uint8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.levels.config import CropConfig
from detector.levels.decode import CLASSES, NONE, standard_position
from spine.crop import Crop
from spine.geometry import STANDARD_LEVELS, Box, Spine, Vertebra
from spine.research.metrics import pair_by_overlap

FEATURES = ("log_rel_width", "log_rel_height", "score", "inferred", "extrapolated", "index_from_top", "index_from_bottom",
            "centre_y", "top_margin", "bottom_margin", "lateral_view", "log_rel_pitch", "age_sex_known", "age", "female")
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


def spine_boxes(spine: Spine) -> np.ndarray:
    return np.array([v.box.as_list() for v in spine.vertebrae], float).reshape(-1, 4)


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
