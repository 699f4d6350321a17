"""The picture a doctor looks at: the film with every vertebra's outline, corners and level name, the Cobb
curves' end-vertebra endplate lines with their angles, the sagittal angles, and the warnings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np

from pipeline.files import atomic_write_png
from pipeline.geometry import IL, IR, SL, SR
from pipeline.radiograph import Radiograph
from pipeline.result import SpineResult, levels_uncertain

MAX_SIDE = 2400
CORNER_COLOURS = {SL: (255, 80, 80), SR: (80, 160, 255), IL: (255, 200, 0), IR: (160, 80, 255)}
SEEN, INFERRED, CURVE, UNSURE = (60, 220, 90), (255, 150, 0), (255, 60, 200), (255, 70, 70)


def _text(img: np.ndarray, text: str, org, scale: float, colour, thick: int) -> None:
    """Text on a dark box, so it reads on bright bone and dark background alike."""
    org = (int(org[0]), int(org[1]))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.rectangle(img, (org[0] - 2, org[1] - h - 2), (org[0] + w + 2, org[1] + base), (0, 0, 0), -1)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)


def _line_through(img: np.ndarray, a: np.ndarray, b: np.ndarray, extend: float, colour, thick: int) -> None:
    d = (b - a) / max(np.linalg.norm(b - a), 1e-9)
    p, q = a - d * extend, b + d * extend
    cv2.line(img, tuple(np.round(p).astype(int)), tuple(np.round(q).astype(int)), colour, thick, cv2.LINE_AA)


def _draw_vertebrae(img, result: SpineResult, s: float, unit: int) -> None:
    unsure = levels_uncertain(result.warnings)
    for v in result.spine.vertebrae:
        colour = INFERRED if v.inferred else SEEN
        if v.mask is not None:
            cv2.polylines(img, [np.round(v.mask.points * s).astype(np.int32)], True, colour, max(1, unit // 2), cv2.LINE_AA)
        else:
            cv2.rectangle(img, tuple(int(c * s) for c in (v.box.x1, v.box.y1)), tuple(int(c * s) for c in (v.box.x2, v.box.y2)), colour, 1)
        if v.corners is not None:
            for k, point in enumerate(v.corners):
                cv2.circle(img, tuple(np.round(point * s).astype(int)), max(2, unit), CORNER_COLOURS[k], -1, cv2.LINE_AA)
        if v.level:
            _text(img, v.level + ("?" if v.inferred or unsure else ""), (v.box.x2 * s + 3 * unit, v.box.center[1] * s + 2 * unit),
                  0.35 * unit, UNSURE if unsure else colour, max(1, unit // 2))


def _draw_curves(img, result: SpineResult, s: float, unit: int) -> None:
    vertebrae = result.spine.vertebrae
    for rank, curve in enumerate(result.measurements.get("cobb") or []):
        upper, lower = vertebrae[curve["upper_index"]], vertebrae[curve["lower_index"]]
        if upper.corners is None or lower.corners is None:
            continue
        extend = 0.6 * upper.box.width * s
        thick = max(1, unit if rank == 0 else unit // 2)
        _line_through(img, upper.corners[SL] * s, upper.corners[SR] * s, extend, CURVE, thick)
        _line_through(img, lower.corners[IL] * s, lower.corners[IR] * s, extend, CURVE, thick)
        y = (upper.box.center[1] + lower.box.center[1]) / 2 * s
        x = min(upper.box.x1, lower.box.x1) * s - 14 * unit
        _text(img, f"{curve['angle_deg']:.1f}", (max(x, 2), y), 0.45 * unit, CURVE, max(1, unit // 2 + 1))
        _text(img, f"{curve['upper']}-{curve['lower']}", (max(x, 2), y + 11 * unit), 0.3 * unit, CURVE, max(1, unit // 2))


def _legend(img, result: SpineResult, unit: int) -> None:
    m, lines = result.measurements, []
    if m.get("aasce_cobb_deg"):
        lines.append("AASCE Cobb: " + ", ".join(f"{a:.1f}" for a in m["aasce_cobb_deg"]))
    for key, label in (("lumbar_lordosis_deg", "LL"), ("thoracic_kyphosis_deg", "TK"), ("sacral_slope_deg", "SS"), ("cervical_lordosis_deg", "CL")):
        if m.get(key) is not None:
            lines.append(f"{label} {m[key]:.1f} deg")
    scale, thick = 0.28 * unit, max(1, unit // 2)
    char_w = cv2.getTextSize("x" * 20, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] / 20
    width = max(20, int((img.shape[1] - 10 * unit) / char_w))
    lines = [(line, (255, 255, 255)) for line in lines]
    if levels_uncertain(result.warnings):
        lines.insert(0, ("LEVEL NAMES UNCERTAIN: check them", UNSURE))
    for warning in result.warnings[:6]:  # wrapped to the picture's width, two lines at most each
        wrapped = textwrap.wrap(f"! {warning}", width, subsequent_indent="  ", max_lines=2, placeholder=" ...")
        lines += [(line, (255, 210, 0)) for line in wrapped]
    for k, (line, colour) in enumerate(lines):
        _text(img, line, (4 * unit, (8 + 11 * k) * unit), scale, colour, thick)


def render_overlay(film: Radiograph, result: SpineResult) -> np.ndarray:
    """RGB uint8 picture, the film downscaled so its long side is at most MAX_SIDE px."""
    s = min(1.0, MAX_SIDE / max(film.pixels.shape))
    grey = cv2.resize(film.pixels, (max(1, round(film.width * s)), max(1, round(film.height * s))), interpolation=cv2.INTER_AREA)
    img = cv2.cvtColor(np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    unit = max(2, int(round(max(img.shape[:2]) / 400)))
    _draw_vertebrae(img, result, s, unit)
    _draw_curves(img, result, s, unit)
    _legend(img, result, unit)
    return img


def write_overlay(film: Radiograph, result: SpineResult, path: str | Path) -> Path:
    return atomic_write_png(path, render_overlay(film, result))
