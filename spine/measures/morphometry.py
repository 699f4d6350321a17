"""Per-vertebra and per-disc morphometry: heights, wedging, Genant grade, disc heights, slips.

Inputs are canonical corners (N, 4, 2) in the measurement frame (side a =
image left on AP, posterior on lateral; side b = image right / anterior).
"""

from __future__ import annotations

import numpy as np

from spine.measures.frame import angle_deg, endplate_angles, wrap_deg

GENANT_THRESHOLDS = (0.20, 0.25, 0.40)  # height loss -> grades 1, 2, 3
MEYERDING_STEP = 25.0  # percent of the lower endplate per grade


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt((np.asarray(v, float) ** 2).sum(axis=-1))


def ray_extent(outline: np.ndarray, center: np.ndarray, direction: np.ndarray) -> float | None:
    """Length of the chord of a closed outline (K, 2) along the line through ``center`` with ``direction``.

    The chord is the part of the line between the nearest crossings on either side of the centre.
    """
    u = direction / max(np.linalg.norm(direction), 1e-12)
    p, q = outline, np.roll(outline, -1, axis=0)
    edge = q - p
    denom = u[0] * edge[:, 1] - u[1] * edge[:, 0]
    ok = np.abs(denom) > 1e-12
    rel = p - center
    t = np.where(ok, (rel[:, 0] * edge[:, 1] - rel[:, 1] * edge[:, 0]) / np.where(ok, denom, 1), np.nan)
    s = np.where(ok, (rel[:, 0] * u[1] - rel[:, 1] * u[0]) / np.where(ok, denom, 1), np.nan)
    hit = ok & (s >= 0) & (s <= 1)
    ahead, behind = t[hit & (t > 0)], t[hit & (t < 0)]
    if len(ahead) == 0 or len(behind) == 0:
        return None
    return float(ahead.min() - behind.max())


def vertebra_heights(c: np.ndarray, outline: np.ndarray | None = None) -> dict:
    """Heights of one vertebra from canonical corners c (4, 2): side a, middle, side b.

    The middle height runs through the body's centre perpendicular to its mean
    endplate; from the outline (frame units, (K, 2)) when given, else between
    the endplate midpoints.
    """
    h_a, h_b = float(_norm(c[2] - c[0])), float(_norm(c[3] - c[1]))
    sup_mid, inf_mid = (c[0] + c[1]) / 2, (c[2] + c[3]) / 2
    middle = float(_norm(sup_mid - inf_mid))
    if outline is not None:
        endplate = (c[1] - c[0]) + (c[3] - c[2])
        axis = np.array([-endplate[1], endplate[0]])
        from_mask = ray_extent(outline, c.mean(axis=0), axis)
        middle = from_mask if from_mask is not None else middle
    return {"a": h_a, "middle": middle, "b": h_b}


def genant_grade(loss: float) -> int:
    """Semi-quantitative grade from fractional height loss: <20 % 0, 20-25 % 1, 25-40 % 2, >=40 % 3."""
    return int(sum(loss >= t for t in GENANT_THRESHOLDS))


def height_loss(heights: list[dict], i: int) -> float:
    """Fractional loss of vertebra i: its smallest height against the larger of its own tallest
    height and the mean tallest height of its neighbours."""
    own = heights[i]
    neighbours = [max(heights[j].values()) for j in (i - 1, i + 1) if 0 <= j < len(heights)]
    reference = max([max(own.values())] + ([float(np.mean(neighbours))] if neighbours else []))
    return float(1.0 - min(own.values()) / reference) if reference > 0 else 0.0


def disc(upper: np.ndarray, lower: np.ndarray, lateral: bool, min_slip_percent: float) -> dict:
    """Disc between two canonical vertebrae (4, 2): heights at sides a and b, angle, slip.

    Slip: offset of the upper vertebra along the lower one's superior endplate
    (side a -> b), as % of that endplate's length; measured at the posterior
    corners on lateral films, at the endplate midpoints on frontal films.
    Positive = toward side b (anterior on lateral).
    """
    h_a, h_b = float(_norm(lower[0] - upper[2])), float(_norm(lower[1] - upper[3]))
    upper_inf = angle_deg(upper[3] - upper[2])
    lower_sup = angle_deg(lower[1] - lower[0])
    endplate = lower[1] - lower[0]
    length = float(_norm(endplate))
    e = endplate / max(length, 1e-12)
    if lateral:
        offset = upper[2] - lower[0]
    else:
        offset = (upper[2] + upper[3]) / 2 - (lower[0] + lower[1]) / 2
    slip = float(np.dot(offset, e) / max(length, 1e-12) * 100)
    return {
        "height_a": h_a,
        "height_b": h_b,
        "angle_deg": float(wrap_deg(upper_inf - lower_sup)),
        "slip_percent": slip,
        "meyerding_grade": meyerding(slip, min_slip_percent),
    }


def meyerding(slip_percent: float, min_slip_percent: float = 5.0) -> int:
    """Meyerding grade 0 (below ``min_slip_percent``), I-V as 1-5: 0-25, 25-50, 50-75, 75-100, >100 %."""
    s = abs(slip_percent)
    if s < min_slip_percent:
        return 0
    return int(min(5, np.ceil(s / MEYERDING_STEP))) if s <= 100 else 5


def wedge_and_tilt(c: np.ndarray) -> tuple[float, float]:
    """(wedge, tilt) of one canonical vertebra, deg: wedge = inferior - superior endplate angle
    (positive = narrower on side b); tilt = the mean endplate angle."""
    sup, inf = endplate_angles(c[None])
    return float(wrap_deg(inf[0] - sup[0])), float((sup[0] + inf[0]) / 2)
