"""The picture a doctor looks at: the film with every vertebra's outline and corners and the Cobb curves'
end-vertebra endplate lines, drawn to the vertebrae's scale. Nothing else is written on the anatomy: the level
names and the curves' angles stand in a gutter left of the film, laid out so they never overlap, each joined to its
vertebra (or curve) by a thin leader line; the legend (curves, AASCE angles, sagittal angles) and every warning stand
in full in a margin to the right."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
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


def _line_through(img: np.ndarray, a: np.ndarray, b: np.ndarray, extend: float, colour, thick: int) -> None:
    d = (b - a) / max(np.linalg.norm(b - a), 1e-9)
    p, q = a - d * extend, b + d * extend
    cv2.line(img, tuple(np.round(p).astype(int)), tuple(np.round(q).astype(int)), colour, thick, cv2.LINE_AA)


def _draw_vertebrae(img, result: SpineResult, s: float, unit: int) -> None:
    for v in result.spine.vertebrae:
        colour = INFERRED if v.inferred else SEEN
        if v.mask is not None:
            cv2.polylines(img, [np.round(v.mask.points * s).astype(np.int32)], True, colour, max(1, unit // 2), cv2.LINE_AA)
        else:
            cv2.rectangle(img, tuple(int(c * s) for c in (v.box.x1, v.box.y1)), tuple(int(c * s) for c in (v.box.x2, v.box.y2)), colour, 1)
        if v.corners is not None:
            for k, point in enumerate(v.corners):
                cv2.circle(img, tuple(np.round(point * s).astype(int)), max(2, unit), CORNER_COLOURS[k], -1, cv2.LINE_AA)


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


@dataclass(frozen=True)
class Label:
    """A text in the gutter: its box (x1, y1, x2, y2) in gutter px; ``anchor``: the film point (film px of the
    picture) a leader line joins it to (a vertebra's level), or ``span``: the rows a bracket beside it covers (a
    curve's end vertebrae)."""

    text: str
    box: tuple[int, int, int, int]
    colour: tuple[int, int, int]
    scale: float
    anchor: tuple[int, int] | None = None
    span: tuple[int, int] | None = None
    lane: int = 0  # brackets of several curves stand side by side


def _spread(wanted: list[float], height: float, top: float, bottom: float) -> list[float]:
    """Top edges for boxes of ``height`` as near ``wanted`` (sorted) as they can be without overlapping, within
    [top, bottom - height]: pushed down past each other, then back up from the bottom."""
    out, floor = [], top
    for y in wanted:
        out.append(max(y, floor))
        floor = out[-1] + height
    ceiling = bottom - height
    for k in range(len(out) - 1, -1, -1):
        out[k] = min(out[k], ceiling)
        ceiling = out[k] - height
    return out


def gutter_labels(result: SpineResult, s: float, unit: int, picture_height: int) -> tuple[list[Label], int]:
    """The level names (one column) and the curves' angles (a column left of them) for the gutter, and its width.
    Boxes are in gutter px (x from the gutter's left edge); anchors in film px of the drawn picture."""
    unsure = levels_uncertain(result.warnings)
    named = sorted((v for v in result.spine.vertebrae if v.level), key=lambda v: v.box.center[1])
    scale, thick = _label_scale(named, s, unit)
    (w, h), base = cv2.getTextSize("T12?", cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pitch = h + base + max(2, unit // 2)
    curves = [(rank, c) for rank, c in enumerate(result.measurements.get("cobb") or [])]
    texts = [f"{c['angle_deg']:.1f} {c['upper']}-{c['lower']}" for _, c in curves]
    angle_w = max([cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] for t in texts] or [0])
    pad = 4 * unit
    level_x = (angle_w + 2 * pad + len(curves) * max(3, unit)) if curves else pad
    labels = []
    tops = _spread([v.box.center[1] * s - pitch / 2 for v in named], pitch, 0, picture_height)
    for v, top in zip(named, tops):
        text = v.level + ("?" if v.inferred or unsure else "")
        colour = UNSURE if unsure else INFERRED if v.inferred else SEEN
        labels.append(Label(text, (level_x, int(top), level_x + w, int(top + pitch)), colour, scale,
                            anchor=(int(v.box.x1 * s), int(v.box.center[1] * s))))
    vertebrae = result.spine.vertebrae
    middles = [(vertebrae[c["upper_index"]].box.center[1] + vertebrae[c["lower_index"]].box.center[1]) / 2 * s for _, c in curves]
    order = np.argsort(middles)
    tops = _spread([middles[k] - pitch / 2 for k in order], pitch, 0, picture_height)
    for k, top in zip(order, tops):
        rank, c = curves[k]
        ends = (vertebrae[c["upper_index"]].box.center[1] * s, vertebrae[c["lower_index"]].box.center[1] * s)
        labels.append(Label(texts[k], (pad, int(top), pad + angle_w, int(top + pitch)), CURVE if rank == 0 else (235, 235, 235),
                            scale, span=(int(min(ends)), int(max(ends))), lane=rank))
    return labels, level_x + w + pad


def _label_scale(named: list, s: float, unit: int) -> tuple[float, int]:
    """Text scale and thickness for the gutter: a label as tall as the vertebrae's spacing on the picture allows
    (so that the names stand beside their vertebrae), at most 0.4 unit."""
    centres = np.array([v.box.center[1] * s for v in named])
    spacing = float(np.median(np.diff(centres))) if len(centres) > 1 else 8.0 * unit
    scale, thick = 0.4 * unit, max(1, unit // 2)
    (_, h), base = cv2.getTextSize("T12?", cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    fitted = scale * min(1.0, 0.9 * spacing / max(h + base + max(2, unit // 2), 1))
    return max(0.3, fitted), max(1, int(round(thick * fitted / scale)))


def _draw_gutter(canvas: np.ndarray, labels: list[Label], gutter: int, unit: int) -> None:
    """Each label in the gutter: a level with a thin leader line to its vertebra, a curve's angle with a bracket over
    its end vertebrae's rows."""
    for label in labels:
        x1, y1, x2, y2 = label.box
        middle = (y1 + y2) // 2
        if label.anchor is not None:
            cv2.line(canvas, (x2 + 2, middle), (gutter + label.anchor[0], label.anchor[1]), label.colour, 1, cv2.LINE_AA)
        if label.span is not None:
            x = x2 + (1 + label.lane) * max(3, unit)
            top, bottom = label.span
            bracket = np.array([[x - unit, top], [x, top], [x, bottom], [x - unit, bottom]], np.int32)
            cv2.polylines(canvas, [bracket], False, label.colour, 1, cv2.LINE_AA)
            cv2.line(canvas, (x2 + 1, middle), (x, middle), label.colour, 1, cv2.LINE_AA)
        cv2.putText(canvas, label.text, (x1, y2 - max(2, unit // 2)), cv2.FONT_HERSHEY_SIMPLEX, label.scale, label.colour,
                    max(1, unit // 2), cv2.LINE_AA)


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
    """RGB uint8 picture: a gutter with the level names and curve angles (:func:`gutter_labels`), the film
    (downscaled so its long side is at most MAX_SIDE px) with the geometry drawn on it, and a margin to its right
    holding the legend and every warning, so no text covers the anatomy."""
    s = min(1.0, MAX_SIDE / max(film.pixels.shape))
    grey = cv2.resize(film.pixels, (max(1, round(film.width * s)), max(1, round(film.height * s))), interpolation=cv2.INTER_AREA)
    img = cv2.cvtColor(np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    unit = _unit(result, s, img.shape[:2])
    _draw_vertebrae(img, result, s, unit)
    _draw_curves(img, result, s, unit)
    labels, gutter = gutter_labels(result, s, unit, img.shape[0])
    panel = _panel(img.shape[0], max(img.shape[0] // 2, img.shape[1] // 2, 320), result)
    canvas = np.full((panel.shape[0], gutter + img.shape[1] + panel.shape[1], 3), 24, np.uint8)
    canvas[: img.shape[0], gutter : gutter + img.shape[1]] = img
    canvas[:, gutter + img.shape[1]:] = panel
    _draw_gutter(canvas, labels, gutter, unit)
    return canvas


def write_overlay(film: Radiograph, result: SpineResult, path: str | Path) -> Path:
    return atomic_write_png(path, render_overlay(film, result))
