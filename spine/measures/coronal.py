"""Clinical Cobb angles on a frontal film, from endplate lines.

Each curve runs from an upper end vertebra U to a lower end vertebra L; its
angle is the signed difference of U's superior endplate angle and L's
inferior endplate angle (no acute/obtuse ambiguity, correct past 90 deg).
The largest such difference over the spine is the major curve; the curves
above and below it share its end vertebrae and bend the other way, found in
turn the same way until what is left is smaller than ``min_deg``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spine.geometry import level_index
from spine.measures.frame import wrap_deg

# Apex level -> SRS curve region. Apex at or above T5: proximal thoracic; T6-T11: main thoracic; below: TL/L.
_REGION_BOUNDS = (("T5", "proximal_thoracic"), ("T11", "main_thoracic"))


@dataclass(frozen=True)
class Curve:
    """One curve. upper/lower/apex: vertebra indices (cranial = 0). angle_deg > 0 means convex to side b (image right)."""

    upper: int
    lower: int
    apex: int
    angle_deg: float


def _best_pair(sup: np.ndarray, inf: np.ndarray, uppers: range, lowers: range, sign: float) -> tuple[float, int, int]:
    """max over u in uppers, l in lowers, u < l, of sign * (sup[u] - inf[l]); (value, u, l); (-inf, -1, -1) if none."""
    best = (-np.inf, -1, -1)
    for u in uppers:
        for low in lowers:
            if low > u:
                value = sign * float(wrap_deg(sup[u] - inf[low]))
                if value > best[0]:
                    best = (value, u, low)
    return best


def _apex(centers: np.ndarray, upper: int, lower: int) -> int:
    """The vertebra between the ends farthest from the chord joining their centres."""
    if lower - upper < 2:
        return upper if lower == upper else (upper + lower) // 2
    a, b = centers[upper], centers[lower]
    chord = (b - a) / max(np.linalg.norm(b - a), 1e-12)
    rel = centers[upper : lower + 1] - a
    distance = np.abs(rel[:, 0] * chord[1] - rel[:, 1] * chord[0])
    return upper + int(np.argmax(distance))


def find_curves(sup: np.ndarray, inf: np.ndarray, centers: np.ndarray, min_deg: float = 5.0) -> list[Curve]:
    """All curves, major first. sup, inf: (N,) endplate angles, deg; centers: (N, 2) in the measurement frame."""
    n = len(sup)
    if n < 2:
        return []
    major = max((_best_pair(sup, inf, range(n), range(n), s) + (s,) for s in (1.0, -1.0)), key=lambda t: t[0])
    value, u, low, sign = major
    curves = [Curve(u, low, _apex(centers, u, low), sign * value)]
    top, s = u, -sign
    while top > 0:
        value, uu, _ = _best_pair(sup, inf, range(0, top), range(top, top + 1), s)
        if value < min_deg:
            break
        curves.append(Curve(uu, top, _apex(centers, uu, top), s * value))
        top, s = uu, -s
    bottom, s = low, -sign
    while bottom < n - 1:
        value, _, ll = _best_pair(sup, inf, range(bottom, bottom + 1), range(bottom + 1, n), s)
        if value < min_deg:
            break
        curves.append(Curve(bottom, ll, _apex(centers, bottom, ll), s * value))
        bottom, s = ll, -s
    return sorted(curves, key=lambda c: -abs(c.angle_deg))


def region(apex_level: str | None) -> str | None:
    """SRS region of a curve from its apex level: proximal_thoracic, main_thoracic or thoracolumbar_lumbar."""
    if apex_level is None:
        return None
    index = level_index(apex_level)
    for bound, name in _REGION_BOUNDS:
        if index <= level_index(bound):
            return "cervicothoracic" if apex_level.startswith("C") else name
    return "thoracolumbar_lumbar"


def direction(angle_deg: float, view: str) -> dict:
    """Convex side in image terms and, under the radiological display convention, the patient's side.

    AP films are displayed with the patient's right on image left; PA films with the patient's right on image right.
    """
    image_side = "right" if angle_deg > 0 else "left"
    if view == "AP":
        patient = "left" if image_side == "right" else "right"
    elif view == "PA":
        patient = image_side
    else:
        patient = None
    return {"direction": image_side, "convex_patient_side": patient}
