"""The measurement frame: physical units, y up, and a declared reference side.

Every measurement works on *canonical corners*: an (N, 4, 2) array in
physical units (mm when the spacing is known, else px), y pointing up, in the
order (superior-a, superior-b, inferior-a, inferior-b), where side "a" is
image left on AP/PA films and posterior on lateral films, and side "b" is
the other one. An endplate's angle is the angle of the vector a -> b, in
degrees, counter-clockwise positive; on AP that is "rising to image right",
on lateral "anterior end higher".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spine.geometry import IL, IR, SL, SR, Spine


@dataclass(frozen=True)
class Frame:
    """How image px map into the measurement frame.

    sx, sy: mm (or 1 px) per image px along x and y. mirror: True when side b
    is image left (lateral films whose anterior faces image left).
    units: 'mm' or 'px'.
    """

    sx: float = 1.0
    sy: float = 1.0
    mirror: bool = False
    units: str = "px"

    @classmethod
    def of(cls, spine: Spine) -> "Frame":
        sx, sy, units = 1.0, 1.0, "px"
        if spine.spacing_mm is not None:
            sy, sx = spine.spacing_mm
            units = "mm"
        mirror = spine.view == "LAT" and spine.anterior == "left"
        return cls(sx=sx, sy=sy, mirror=mirror, units=units)

    def points(self, image_points: np.ndarray) -> np.ndarray:
        """Image px (..., 2) -> frame (..., 2): scaled, y up, x mirrored when side b is image left."""
        pts = np.asarray(image_points, dtype=float)
        return np.stack([pts[..., 0] * self.sx * (-1.0 if self.mirror else 1.0), -pts[..., 1] * self.sy], axis=-1)

    def corners(self, image_corners: np.ndarray) -> np.ndarray:
        """Image-order corners (..., 4, 2) -> canonical corners (sup-a, sup-b, inf-a, inf-b) in the frame."""
        order = [SR, SL, IR, IL] if self.mirror else [SL, SR, IL, IR]
        return self.points(np.asarray(image_corners, dtype=float)[..., order, :])

    def to_image(self, frame_points: np.ndarray) -> np.ndarray:
        pts = np.asarray(frame_points, dtype=float)
        x = pts[..., 0] / self.sx * (-1.0 if self.mirror else 1.0)
        return np.stack([x, -pts[..., 1] / self.sy], axis=-1)


def angle_deg(vectors: np.ndarray) -> np.ndarray:
    """Counter-clockwise angle of vectors (..., 2) from +x, degrees in (-180, 180]."""
    v = np.asarray(vectors, dtype=float)
    return np.degrees(np.arctan2(v[..., 1], v[..., 0]))


def wrap_deg(angle: np.ndarray | float) -> np.ndarray | float:
    """Wrap an angle difference into (-180, 180]."""
    return -((-(np.asarray(angle) + 180.0)) % 360.0) + 180.0


def endplate_angles(canonical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(superior, inferior) endplate angles, degrees, each (N,), from canonical corners (N, 4, 2)."""
    c = np.asarray(canonical, dtype=float)
    return angle_deg(c[:, 1] - c[:, 0]), angle_deg(c[:, 3] - c[:, 2])


def corners_valid(image_corners: np.ndarray, min_size: float = 1e-6) -> bool:
    """Corners in the declared order: superior above inferior, left left of right, not degenerate."""
    c = np.asarray(image_corners, dtype=float)
    if c.shape != (4, 2) or not np.all(np.isfinite(c)):
        return False
    above = c[SL, 1] < c[IL, 1] and c[SR, 1] < c[IR, 1]
    ordered = c[SL, 0] < c[SR, 0] and c[IL, 0] < c[IR, 0]
    x, y = c[[SL, SR, IR, IL], 0], c[[SL, SR, IR, IL], 1]
    area = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2
    return bool(above and ordered and area > min_size)
