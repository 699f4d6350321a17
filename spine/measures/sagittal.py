"""Sagittal alignment on a lateral film: lordosis, kyphosis, sacral slope.

Angles are in the measurement frame (:mod:`spine.measures.frame`): side b
is anterior, y up, so an endplate angle is positive when its anterior end is
higher. Normal lordosis and kyphosis come out positive.
"""

from __future__ import annotations

import numpy as np

from spine.geometry import Spine


def infer_anterior(spine: Spine) -> tuple[str | None, str]:
    """Guess which image side is anterior on a lateral film from the curve's shape.

    The lumbar curve is convex anteriorly and the thoracic curve convex
    posteriorly, so the side to which L1-L5 (else T4-T12) bulge from their
    chord tells. Returns (side or None, evidence).
    """
    levels = spine.by_level()
    for names, sign, label in ((("L1", "L2", "L3", "L4", "L5"), 1, "lumbar"), (("T4", "T6", "T8", "T10", "T12"), -1, "thoracic")):
        present = [levels[name] for name in names if name in levels]
        if len(present) >= 3:
            centers = np.array([v.center for v in present])
            a, b = centers[0], centers[-1]
            mid = centers[1:-1].mean(axis=0)
            t = np.dot(mid - a, b - a) / max(np.dot(b - a, b - a), 1e-12)
            bulge = (mid - (a + t * (b - a)))[0] * sign
            if abs(bulge) > 1e-6:
                return ("right" if bulge > 0 else "left"), f"{label} curve bulges to image {'right' if bulge * sign > 0 else 'left'}"
    return None, "no lumbar or thoracic run of three labelled vertebrae"


def _angle(angles: dict, level: str, which: str) -> float | None:
    pair = angles.get(level)
    return None if pair is None else pair[0 if which == "sup" else 1]


def sagittal_measures(angles: dict[str, tuple[float, float]]) -> tuple[dict, list[str]]:
    """angles: level -> (superior, inferior) endplate angle, deg. Returns (measurements, warnings)."""
    out: dict = {}
    warnings: list[str] = []
    l1_sup, s1_sup = _angle(angles, "L1", "sup"), _angle(angles, "S1", "sup")
    if l1_sup is not None and s1_sup is not None:
        out["lumbar_lordosis_deg"] = l1_sup - s1_sup
        out["lumbar_lordosis_levels"] = "L1-S1"
    elif l1_sup is not None and _angle(angles, "L5", "inf") is not None:
        out["lumbar_lordosis_deg"] = l1_sup - _angle(angles, "L5", "inf")
        out["lumbar_lordosis_levels"] = "L1-L5"
        warnings.append("S1 not in view: lumbar lordosis measured from L1 superior to L5 inferior endplate")
    else:
        out["lumbar_lordosis_deg"] = None
    t4, t12 = _angle(angles, "T4", "sup"), _angle(angles, "T12", "inf")
    out["thoracic_kyphosis_deg"] = None if t4 is None or t12 is None else t12 - t4
    out["sacral_slope_deg"] = None if s1_sup is None else -s1_sup
    c2, c7 = _angle(angles, "C2", "inf"), _angle(angles, "C7", "inf")
    out["cervical_lordosis_deg"] = None if c2 is None or c7 is None else c2 - c7
    return out, warnings
