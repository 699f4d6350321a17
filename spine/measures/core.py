"""All measurements of one spine geometry, as the ``measurements`` block of a ``spine-geometry/1`` result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spine.geometry import AASCE_LEVELS, LEVELS, Spine, Vertebra, anatomical_order, level_index
from spine.measures import coronal, morphometry, sagittal
from spine.measures.aasce import aasce_cobb
from spine.measures.frame import Frame, corners_valid, endplate_angles


@dataclass(frozen=True)
class MeasureOptions:
    """min_curve_deg: smallest secondary Cobb curve reported; min_slip_percent: below it, Meyerding grade 0."""

    min_curve_deg: float = 5.0
    min_slip_percent: float = 5.0


def usable_vertebrae(spine: Spine) -> tuple[list[Vertebra], list[str]]:
    """Vertebrae whose corners can be measured, and a warning for each one that cannot."""
    keep, warnings = [], []
    for i, v in enumerate(spine.vertebrae):
        name = v.level or f"#{i + 1}"
        if v.corners is None:
            warnings.append(f"{name}: no corners, left out of the measurements")
        elif not corners_valid(v.corners):
            warnings.append(f"{name}: corners out of order or degenerate (expected {', '.join(('SL', 'SR', 'IL', 'IR'))}), left out")
        else:
            keep.append(v)
    return keep, warnings


def implausible_inferred(vertebrae: list[Vertebra]) -> list[str]:
    """A warning for each inferred vertebra (placed where the detector saw none) whose shape its neighbours do not
    bear out: under half or over 1.8 times their height, or overlapping one of them by more than a third of its own
    height (``vertebrae`` in anatomical order)."""
    warnings = []
    for k, v in enumerate(vertebrae):
        neighbours = vertebrae[max(0, k - 1) : k] + vertebrae[k + 1 : k + 2]
        if not v.inferred or not neighbours:
            continue
        height, around = v.box.height, float(np.median([n.box.height for n in neighbours]))
        overlaps = [n for n in neighbours if min(v.box.y2, n.box.y2) - max(v.box.y1, n.box.y1) > height / 3]
        name = v.level or f"#{k + 1}"
        if height < 0.5 * around or height > 1.8 * around:
            warnings.append(f"{name} (inferred): {height / around:.1f} times its neighbours' height; check it")
        elif overlaps:
            warnings.append(f"{name} (inferred): overlaps {overlaps[0].level or 'its neighbour'}; check it")
    return warnings


def adjacent(upper: str | None, lower: str | None) -> bool:
    """True when no level lies between ``upper`` and ``lower`` (an absent T13 or L6 does not count); unlabelled: True."""
    if upper is None or lower is None:
        return True
    between = LEVELS[level_index(upper) + 1 : level_index(lower)]
    return level_index(lower) > level_index(upper) and all(name in ("T13", "L6") for name in between)


def _aasce(vertebrae: list[Vertebra], image_height: float | None) -> tuple[list[float] | None, list[str]]:
    run = [v for v in vertebrae if v.level in AASCE_LEVELS]
    if len(run) < 2 or image_height is None:
        return None, []
    warnings = [] if len(run) == len(AASCE_LEVELS) else [f"AASCE Cobb computed on {len(run)} vertebrae (the protocol expects T1-L5, 17)"]
    angles, _ = aasce_cobb(np.stack([v.corners for v in run]), image_height)
    return angles, warnings


def _curves(spine: Spine, vertebrae: list[Vertebra], canonical: np.ndarray, opts: MeasureOptions) -> list[dict]:
    sup, inf = endplate_angles(canonical)
    centers = canonical.mean(axis=1)
    out = []
    for curve in coronal.find_curves(sup, inf, centers, opts.min_curve_deg):
        upper, lower, apex = (vertebrae[i].level for i in (curve.upper, curve.lower, curve.apex))
        out.append({
            "angle_deg": abs(curve.angle_deg), "upper": upper, "lower": lower, "apex": apex,
            "region": coronal.region(apex), **coronal.direction(curve.angle_deg, spine.view),
            "upper_index": spine.vertebrae.index(vertebrae[curve.upper]),
            "lower_index": spine.vertebrae.index(vertebrae[curve.lower]),
        })
    return out


def _outline(v: Vertebra, frame: Frame) -> np.ndarray | None:
    return None if v.mask is None else frame.points(v.mask.points)


def _unique(name: str, taken: dict) -> str:
    """``name``, or 'name (2)', 'name (3)' ... when a level is named more than once."""
    k, out = 1, name
    while out in taken:
        k += 1
        out = f"{name} ({k})"
    return out


def _per_vertebra(vertebrae: list[Vertebra], canonical: np.ndarray, frame: Frame, lateral: bool) -> dict:
    heights = [morphometry.vertebra_heights(c, _outline(v, frame)) for v, c in zip(vertebrae, canonical)]
    out = {}
    for i, (v, c, h) in enumerate(zip(vertebrae, canonical, heights)):
        wedge, tilt = morphometry.wedge_and_tilt(c)
        loss = morphometry.height_loss(heights, i)
        out[_unique(v.level or f"#{i + 1}", out)] = {
            "height_anterior": h["b"] if lateral else None,
            "height_middle": h["middle"],
            "height_posterior": h["a"] if lateral else None,
            "height_left": None if lateral else h["a"],
            "height_right": None if lateral else h["b"],
            "height_ratio": h["b"] / h["a"] if h["a"] > 0 else None,
            "wedge_deg": wedge,
            "tilt_deg": tilt,
            "height_loss": loss,
            "genant_grade": morphometry.genant_grade(loss) if lateral else None,
        }
    return out


MAX_SLIP_PERCENT = 100.0  # beyond it the upper body has slid off the lower one (spondyloptosis): rare, and on an
# automatic chain far more often two vertebrae that are not neighbours


def _per_disc(vertebrae: list[Vertebra], canonical: np.ndarray, lateral: bool, opts: MeasureOptions) -> tuple[dict, list[str]]:
    """Per disc between neighbouring levels: heights, angle, slip; the Meyerding grade on lateral films only. A slip
    over :data:`MAX_SLIP_PERCENT` is reported only where a reader placed one of the two vertebrae (``edited``);
    on the automatic chain it is left out with a warning."""
    out, warnings = {}, []
    for i in range(len(vertebrae) - 1):
        if not adjacent(vertebrae[i].level, vertebrae[i + 1].level):
            continue
        d = morphometry.disc(canonical[i], canonical[i + 1], lateral, opts.min_slip_percent)
        name = f"{vertebrae[i].level or f'#{i + 1}'}-{vertebrae[i + 1].level or f'#{i + 2}'}"
        slip, grade = d["slip_percent"], d["meyerding_grade"] if lateral else None
        if abs(slip) > MAX_SLIP_PERCENT and not (vertebrae[i].edited or vertebrae[i + 1].edited):
            warnings.append(f"{name}: a slip of {abs(slip):.0f} % (the upper body off the lower one) is not plausible on "
                            "the automatic chain: not reported; check the two vertebrae")
            slip, grade = None, None
        moved = slip is not None and abs(slip) >= opts.min_slip_percent
        sides = ("antero", "retro") if lateral else ("lateral-right", "lateral-left")
        out[name] = {
            "height_anterior": d["height_b"] if lateral else None,
            "height_posterior": d["height_a"] if lateral else None,
            "height_left": None if lateral else d["height_a"],
            "height_right": None if lateral else d["height_b"],
            "angle_deg": d["angle_deg"],
            "slip_percent": slip,
            "slip_direction": (sides[0] if slip > 0 else sides[1]) if moved else None,
            "meyerding_grade": grade,
        }
    return out, warnings


def measure_spine(spine: Spine, image_height: float | None = None, opts: MeasureOptions = MeasureOptions()) -> tuple[dict, list[str]]:
    """Every measurement that applies to ``spine``; returns (measurements, warnings).

    The vertebrae are taken in anatomical order whatever order they come in (:func:`anatomical_order`; curve
    indices refer to that order). image_height (px) is needed only for the AASCE protocol's S-curve rule.
    Lengths are in mm when the spine has a spacing, else in px (with a warning).
    """
    spine, warnings = anatomical_order(spine)
    vertebrae, unusable = usable_vertebrae(spine)
    warnings += unusable + implausible_inferred(list(spine.vertebrae))
    lateral = spine.view == "LAT"
    if lateral and spine.anterior is None:
        side, evidence = sagittal.infer_anterior(spine)
        spine = spine.with_(anterior=side or "left")
        warnings.append(f"anterior side not given: assumed image {spine.anterior} ({evidence})")
    frame = Frame.of(spine)
    if frame.units == "px":
        warnings.append("no pixel spacing: lengths are in pixels")
    out: dict = {"units": frame.units, "view": spine.view, "anterior": spine.anterior if lateral else None}
    if len(vertebrae) == 0:
        warnings.append("no measurable vertebra")
        return out, warnings
    canonical = frame.corners(np.stack([v.corners for v in vertebrae]))
    if not lateral:
        out["cobb"] = _curves(spine, vertebrae, canonical, opts) if len(vertebrae) >= 2 else []
        out["aasce_cobb_deg"], more = _aasce(vertebrae, image_height)
        warnings += more
    else:
        sup, inf = endplate_angles(canonical)
        angles = {v.level: (s, f) for v, s, f in zip(vertebrae, sup, inf) if v.level}
        sag, more = sagittal.sagittal_measures(angles)
        out.update(sag)
        warnings += more
    out["per_vertebra"] = _per_vertebra(vertebrae, canonical, frame, lateral)
    out["per_disc"], more = _per_disc(vertebrae, canonical, lateral, opts)
    warnings += more
    if len(vertebrae) == 1:
        warnings.append("one vertebra only: no curve, disc or slip measurements")
    return out, warnings
