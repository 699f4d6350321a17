"""The picture a doctor looks at: the film with every vertebra's outline, corners and level name and the Cobb
curves' end-vertebra endplate lines with their angles, drawn to the vertebrae's scale; beside it, in a margin that
never covers the anatomy, the legend (curves, AASCE angles, sagittal angles) and every warning in full."""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np

from spine.files import atomic_write_png
from spine.geometry import IL, IR, SL, SR
from spine.radiograph import Radiograph
from spine.result import SpineResult, levels_disputed, levels_uncertain

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


def _legend_lines(result: SpineResult) -> list[tuple[str, tuple[int, int, int]]]:
    m, white, lines = result.measurements, (235, 235, 235), []
    if levels_uncertain(result.warnings):
        lines.append(("LEVEL NAMES UNCERTAIN: check them", UNSURE))
    elif levels_disputed(result.warnings):
        lines.append(("Level names differ from the count: check them", UNSURE))
    for rank, curve in enumerate(m.get("cobb") or []):
        lines.append((f"{'Major ' if rank == 0 else ''}Cobb {curve['angle_deg']:.1f} deg {curve['upper']}-{curve['lower']} "
                      f"(apex {curve['apex']}, {curve['region']})", CURVE if rank == 0 else white))
    if m.get("aasce_cobb_deg"):
        lines.append(("AASCE Cobb: " + ", ".join(f"{a:.1f}" for a in m["aasce_cobb_deg"]), white))
    for key, label in (("lumbar_lordosis_deg", "Lumbar lordosis"), ("thoracic_kyphosis_deg", "Thoracic kyphosis"),
                       ("sacral_slope_deg", "Sacral slope"), ("cervical_lordosis_deg", "Cervical lordosis")):
        if m.get(key) is not None:
            lines.append((f"{label} {m[key]:.1f} deg", white))
    lines.append((f"{len(result.spine)} vertebrae; units {m.get('units', 'px')}", white))
    return lines + [(f"! {w}", (255, 210, 0)) for w in result.warnings]


def _panel(height: int, width: int, result: SpineResult) -> np.ndarray:
    """The margin beside the film: legend and every warning in full, wrapped to the panel (taller if needed)."""
    scale = max(0.45, height / 1400)
    thick = max(1, int(round(scale * 1.5)))
    char_w = cv2.getTextSize("x" * 20, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] / 20
    step = int(30 * scale)
    wrapped = []
    for text, colour in _legend_lines(result):
        wrapped += [(line, colour) for line in textwrap.wrap(text, max(10, int((width - 2 * step) / char_w)), subsequent_indent="  ")]
        wrapped.append(("", colour))
    panel = np.full((max(height, (len(wrapped) + 2) * step), width, 3), 24, np.uint8)
    for k, (line, colour) in enumerate(wrapped):
        cv2.putText(panel, line, (step // 2, (k + 2) * step), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    return panel


def _unit(result: SpineResult, s: float, shape) -> int:
    """Line and text unit (px) from the vertebrae's size on the picture, so names fit beside their vertebra."""
    heights = [v.box.height * s for v in result.spine.vertebrae]
    size = float(np.median(heights)) if heights else max(shape) / 40
    return max(1, min(int(round(size / 8)), int(round(max(shape) / 300))))


def render_overlay(film: Radiograph, result: SpineResult) -> np.ndarray:
    """RGB uint8 picture: the film (downscaled so its long side is at most MAX_SIDE px) with the geometry drawn on
    it, and a margin to its right holding the legend and every warning, so nothing covers the anatomy."""
    s = min(1.0, MAX_SIDE / max(film.pixels.shape))
    grey = cv2.resize(film.pixels, (max(1, round(film.width * s)), max(1, round(film.height * s))), interpolation=cv2.INTER_AREA)
    img = cv2.cvtColor(np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    unit = _unit(result, s, img.shape[:2])
    _draw_vertebrae(img, result, s, unit)
    _draw_curves(img, result, s, unit)
    panel = _panel(img.shape[0], max(img.shape[0] // 2, img.shape[1] // 2, 320), result)
    canvas = np.full((panel.shape[0], img.shape[1] + panel.shape[1], 3), 24, np.uint8)
    canvas[: img.shape[0], : img.shape[1]] = img
    canvas[:, img.shape[1]:] = panel
    return canvas


def write_overlay(film: Radiograph, result: SpineResult, path: str | Path) -> Path:
    return atomic_write_png(path, render_overlay(film, result))
