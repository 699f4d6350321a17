"""The one geometry vocabulary every stage speaks.

Frames: all coordinates here are *original image pixels*, (x, y), x to the
right, y down, unless a name says otherwise. Crop coordinates only exist
inside :mod:`spine.crop`.

Corner order is declared once, in :data:`CORNERS`, and indexes every
``corners`` array of shape (4, 2): superior-left, superior-right,
inferior-left, inferior-right, where left/right are *image* left/right (the
AASCE order). On a lateral film, image left/right is anterior or posterior
depending on which way the patient faces; :func:`anterior_side` tells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

CORNERS: tuple[str, ...] = ("superior_left", "superior_right", "inferior_left", "inferior_right")
SL, SR, IL, IR = range(4)
# Horizontal mirror swaps left and right corners: index map for a flipped image.
FLIP_CORNERS: tuple[int, ...] = (SR, SL, IR, IL)

VIEWS: tuple[str, ...] = ("AP", "PA", "LAT")

# Cranial to caudal. T13 and L6 are transitional/extra levels: allowed, rare.
LEVELS: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 14)),
    *(f"L{i}" for i in range(1, 7)),
    "S1",
)
STANDARD_LEVELS: tuple[str, ...] = tuple(name for name in LEVELS if name not in ("T13", "L6"))
AASCE_LEVELS: tuple[str, ...] = STANDARD_LEVELS[STANDARD_LEVELS.index("T1") : STANDARD_LEVELS.index("L5") + 1]


def level_index(level: str) -> int:
    """Position of ``level`` in :data:`LEVELS` (cranial = small)."""
    try:
        return LEVELS.index(level)
    except ValueError:
        raise ValueError(f"unknown vertebral level {level!r}; expected one of {', '.join(LEVELS)}") from None


def level_range(first: str, last: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Standard levels from ``first`` to ``last`` inclusive, plus any of ``extra`` (T13, L6) in between."""
    lo, hi = level_index(first), level_index(last)
    keep = set(STANDARD_LEVELS) | set(extra)
    return tuple(name for name in LEVELS[lo : hi + 1] if name in keep)


def region_of(level: str) -> str:
    """'cervical', 'thoracic', 'lumbar' or 'sacral'."""
    level_index(level)
    return {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}[level[0]]


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Box:
    """Axis-aligned box, xyxy, image px (x1 <= x2, y1 <= y2)."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if not (self.x2 >= self.x1 and self.y2 >= self.y1):
            raise ValueError(f"Box needs x1<=x2 and y1<=y2, got {self.as_list()}")

    @classmethod
    def from_points(cls, points: np.ndarray) -> "Box":
        """Tight box around points (N, 2)."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        (x1, y1), (x2, y2) = pts.min(axis=0), pts.max(axis=0)
        return cls(float(x1), float(y1), float(x2), float(y2))

    @classmethod
    def from_cxcywh(cls, cx: float, cy: float, w: float, h: float) -> "Box":
        return cls(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    def scaled(self, sx: float, sy: float | None = None) -> "Box":
        sy = sx if sy is None else sy
        return Box(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)

    def iou(self, other: "Box") -> float:
        return float(box_iou(np.array([self.as_list()]), np.array([other.as_list()]))[0, 0])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes a (N, 4) and b (M, 4) -> (N, M)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass(frozen=True, eq=False)
class Polygon:
    """A closed outline, points (K, 2) float64, image px, (x, y)."""

    points: np.ndarray

    def __post_init__(self) -> None:
        pts = _readonly(np.asarray(self.points, dtype=float).reshape(-1, 2))
        if len(pts) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(pts)}")
        object.__setattr__(self, "points", pts)

    @property
    def area(self) -> float:
        x, y = self.points[:, 0], self.points[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)

    def rasterize(self, shape: tuple[int, int], offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Boolean mask (H, W) of the polygon, pixel centres at integer coords, shifted by -offset."""
        import cv2

        canvas = np.zeros(shape, dtype=np.uint8)
        shift = 4  # sub-pixel precision bits for cv2
        pts = np.round((self.points - np.asarray(offset)) * (1 << shift)).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=shift)
        return canvas.astype(bool)


@dataclass(frozen=True, eq=False)
class Vertebra:
    """One vertebral body.

    level: name from :data:`LEVELS`, or None when unknown (a raw detection).
    box: tight box, image px. corners: (4, 2) float64 image px in :data:`CORNERS`
    order, or None. mask: amodal outline (hidden parts included) or None.
    score: confidence in [0, 1]. inferred: True when the count/ordering priors
    inserted it rather than a detector seeing it. level_p: the level identifier's
    most likely levels with their probabilities, best first (empty when named
    by count or by hand).
    """

    level: str | None
    box: Box
    corners: np.ndarray | None = None
    mask: Polygon | None = None
    score: float = 1.0
    inferred: bool = False
    level_p: tuple[tuple[str, float], ...] = ()
    edited: bool = False

    def __post_init__(self) -> None:
        if self.level is not None:
            level_index(self.level)
        if self.corners is not None:
            corners = np.asarray(self.corners, dtype=float)
            if corners.shape != (4, 2):
                raise ValueError(f"corners must be (4, 2) in order {CORNERS}, got shape {corners.shape}")
            object.__setattr__(self, "corners", _readonly(corners))

    @classmethod
    def from_corners(cls, level: str | None, corners: np.ndarray, **kwargs) -> "Vertebra":
        return cls(level=level, box=Box.from_points(corners), corners=corners, **kwargs)

    @property
    def center(self) -> tuple[float, float]:
        if self.corners is not None:
            cx, cy = self.corners.mean(axis=0)
            return float(cx), float(cy)
        return self.box.center

    def with_(self, **changes) -> "Vertebra":
        return replace(self, **changes)


@dataclass(frozen=True, eq=False)
class Spine:
    """Vertebrae ordered cranial -> caudal, with the film's view and spacing.

    spacing_mm: (row, col) = (y, x) mm per pixel, as DICOM PixelSpacing, or None.
    anterior: on a lateral film, the image side ('left' or 'right') the
    vertebral bodies' anterior faces point to; None when unknown or on AP.
    """

    vertebrae: tuple[Vertebra, ...]
    view: str = "AP"
    spacing_mm: tuple[float, float] | None = None
    anterior: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "vertebrae", tuple(self.vertebrae))
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}")
        if self.spacing_mm is not None:
            row, col = (float(v) for v in self.spacing_mm)
            if not (row > 0 and col > 0):
                raise ValueError(f"spacing_mm must be positive (row, col), got {self.spacing_mm}")
            object.__setattr__(self, "spacing_mm", (row, col))
        if self.anterior not in (None, "left", "right"):
            raise ValueError(f"anterior must be 'left', 'right' or None, got {self.anterior!r}")

    def __len__(self) -> int:
        return len(self.vertebrae)

    @property
    def levels(self) -> tuple[str | None, ...]:
        return tuple(v.level for v in self.vertebrae)

    def by_level(self) -> dict[str, Vertebra]:
        return {v.level: v for v in self.vertebrae if v.level is not None}

    def get(self, level: str) -> Vertebra | None:
        return self.by_level().get(level)

    def corners_array(self) -> np.ndarray:
        """(N, 4, 2) corners of all vertebrae; raises if one lacks corners."""
        missing = [v.level for v in self.vertebrae if v.corners is None]
        if missing:
            raise ValueError(f"vertebrae without corners: {missing}")
        return np.stack([v.corners for v in self.vertebrae]) if self.vertebrae else np.zeros((0, 4, 2))

    def with_(self, **changes) -> "Spine":
        return replace(self, **changes)


_LEVEL_RE = re.compile(r"^(C[1-7]|T(?:1[0-3]|[1-9])|L[1-6]|S1)$")


def is_level(name: str) -> bool:
    return bool(_LEVEL_RE.match(name))


def anatomical_key(v: Vertebra, by_level: bool) -> tuple:
    """Sort key, cranial first: the level (when ordering by level), then the centre (y down, then x), then the
    score, so that equal keys never depend on the order the vertebrae came in."""
    cx, cy = v.center
    return (level_index(v.level) if by_level else 0, cy, cx, -v.score)


def anatomical_order(spine: Spine) -> tuple[Spine, list[str]]:
    """The spine with its vertebrae cranial first (by level when every vertebra is named, else by position) and
    warnings: the input was out of order, or a level is named more than once (each copy is kept and measured)."""
    vertebrae = list(spine.vertebrae)
    by_level = all(v.level is not None for v in vertebrae)
    ordered = sorted(vertebrae, key=lambda v: anatomical_key(v, by_level))
    warnings = []
    if [id(v) for v in ordered] != [id(v) for v in vertebrae]:
        warnings.append("vertebrae were not in cranial-to-caudal order: ordered by " + ("level" if by_level else "position"))
    names = [v.level for v in ordered if v.level is not None]
    for name in sorted({n for n in names if names.count(n) > 1}, key=level_index):
        warnings.append(f"level {name} is named {names.count(name)} times: check the levels (each copy measured)")
    return spine.with_(vertebrae=tuple(ordered)), warnings


def as_spine(vertebrae: Sequence[Vertebra], **kwargs) -> Spine:
    """Spine from vertebrae in any order: sorted cranial -> caudal by level, else by centre y."""
    if all(v.level is not None for v in vertebrae):
        ordered = sorted(vertebrae, key=lambda v: level_index(v.level))
    else:
        ordered = sorted(vertebrae, key=lambda v: v.center[1])
    return Spine(tuple(ordered), **kwargs)
