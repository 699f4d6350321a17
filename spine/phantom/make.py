"""Build a phantom film with its exact ground truth: geometry, amodal masks, occluders and designed measurements."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from spine.geometry import Box, Polygon, Spine, Vertebra, level_index, level_range
from spine.measures import coronal
from spine.measures.sagittal import sagittal_measures
from spine.phantom import render
from spine.phantom.anatomy import SpineDesign, design_spine
from spine.phantom.spec import PhantomSpec, coronal_control, draw_age_sex, sagittal_control, size_scale


@dataclass(frozen=True, eq=False)
class Phantom:
    """image: (H, W) float32 [0, 1]; spine: ground truth (corners, amodal outlines, levels) in image px;
    labels: (H, W) uint16, vertebra k (cranial = 1) painted amodally; occluder: (H, W) bool;
    truth: designed measurements (mm, deg)."""

    spec: PhantomSpec
    image: np.ndarray
    spine: Spine
    labels: np.ndarray
    occluder: np.ndarray
    truth: dict
    age: float
    sex: str


def _frame(spec: PhantomSpec, design: SpineDesign) -> tuple[tuple[int, int], tuple[float, float], callable]:
    """Image shape, (row, col) spacing and the mm -> px mapping that fits the spine in the film."""
    pts = np.concatenate([v.corners for v in design.vertebrae])
    (xmin, ymin), (xmax, ymax) = pts.min(axis=0), pts.max(axis=0)
    fill = 0.86 if spec.field == "spine" else 0.55
    h = spec.height_px
    aspect = spec.aspect or (0.42 if spec.field == "spine" else 0.36)
    if spec.view == "LAT":
        aspect = spec.aspect or 0.5
    w = int(round(h * aspect))
    row = (ymax - ymin) / (fill * h)
    col = row * spec.anisotropy
    top = (0.07 if spec.field == "spine" else 0.2) * h
    mirror = -1.0 if (spec.view == "LAT" and spec.anterior == "left") else 1.0
    cx = (xmin + xmax) / 2

    def to_px(mm: np.ndarray) -> np.ndarray:
        mm = np.asarray(mm, float)
        return np.stack([w / 2 + mirror * (mm[..., 0] - cx) / col, top + (ymax - mm[..., 1]) / row], axis=-1)

    return (h, w), (float(row), float(col)), to_px


def _image_corners(corners_mm: np.ndarray, to_px, mirrored: bool) -> np.ndarray:
    """Design corners (sup-a, sup-b, inf-a, inf-b) -> image order (SL, SR, IL, IR) px."""
    px = to_px(corners_mm)
    return px[[1, 0, 3, 2]] if mirrored else px


def _truth(design: SpineDesign, spec: PhantomSpec) -> dict:
    """Designed measurements: endplate angles and heights straight from the recipe, not from pixels."""
    vs = design.vertebrae
    sup = np.array([v.superior_deg for v in vs])
    inf = np.array([v.inferior_deg for v in vs])
    per_vertebra = {
        v.level: {"height_a": v.height_a, "height_b": v.height_b, "height_middle": (v.height_a + v.height_b) / 2,
                  "wedge_deg": 2 * v.delta_deg, "tilt_deg": v.phi_deg, "height_loss": design.losses.get(v.level, 0.0)}
        for v in vs
    }
    truth: dict = {"units": "mm", "per_vertebra": per_vertebra, "slip_percent": dict(design.slips)}
    if spec.view == "AP":
        centers = np.array([v.center for v in vs])
        curves = coronal.find_curves(sup, inf, centers)
        truth["cobb"] = [{"angle_deg": abs(c.angle_deg), "upper": vs[c.upper].level, "lower": vs[c.lower].level} for c in curves]
    else:
        sag, _ = sagittal_measures({v.level: (s, f) for v, s, f in zip(vs, sup, inf)})
        truth.update(sag)
    return truth


def make_phantom(spec: PhantomSpec = PhantomSpec()) -> Phantom:
    """A synthetic radiograph and its exact ground truth, deterministic by ``spec.seed``."""
    rng = np.random.default_rng(spec.seed)
    age, sex = draw_age_sex(spec, rng)
    labelled = spec.resolved_levels()
    levels = drawn_levels(spec)
    control = coronal_control(spec, rng, levels) if spec.view == "AP" else sagittal_control(spec, rng)
    design = design_spine(levels, spec.view, control, size_scale(age, sex), spec.wedges, spec.slips)
    shape, spacing, to_px = _frame(spec, design)
    mirrored = spec.view == "LAT" and spec.anterior == "left"
    canvas = render.Canvas(shape, to_px, 1.0 / spacing[0], rng)
    corners_px = [_image_corners(v.corners, to_px, mirrored) for v in design.vertebrae]
    render.draw_tissue(canvas, shape, spec.view == "LAT", np.concatenate(corners_px))
    anterior_sign = -1.0 if mirrored else 1.0
    labels = np.zeros(shape, np.uint16)
    vertebrae = []
    for v, corners in zip(design.vertebrae, corners_px):
        canvas.body(v.outline, float(rng.uniform(0.3, 0.38)))
        render.posterior_elements(canvas, corners, spec.view == "LAT", anterior_sign)
        if v.level not in labelled:
            continue
        outline = to_px(v.outline)
        vertebrae.append(Vertebra(v.level, Box.from_points(outline), corners, Polygon(outline)))
        cv2.fillPoly(labels, [np.round(outline * 16).astype(np.int32)], len(vertebrae), cv2.LINE_8, shift=4)
    if spec.view == "AP":
        render.draw_ap_occluders(canvas, corners_px, levels, spec.ribs, spec.pelvis)
    else:
        render.draw_lat_occluders(canvas, corners_px, levels, spec.ribs, spec.pelvis, anterior_sign)
    if spec.field == "full":
        render.draw_full_field(canvas, corners_px, spec.view == "LAT")
    image = render.finish(canvas, spec.noise)
    anterior = spec.anterior if spec.view == "LAT" else None
    spine = Spine(tuple(sorted(vertebrae, key=lambda v: level_index(v.level))), spec.view, spacing, anterior)
    truth = _truth(SpineDesign(tuple(v for v in design.vertebrae if v.level in labelled), design.slips, design.losses), spec)
    return Phantom(spec, image, spine, labels, canvas.occluder > 0.5, truth, age, sex)


def drawn_levels(spec: PhantomSpec) -> tuple[str, ...]:
    """Levels drawn: the labelled ones plus, on a full-length film, the cervical spine above them."""
    labelled = spec.resolved_levels()
    if spec.field != "full":
        return labelled
    first = "C3" if level_index(labelled[0]) > level_index("C3") else labelled[0]
    return level_range(first, labelled[-1], extra=[n for n in labelled if n in ("T13", "L6")])
