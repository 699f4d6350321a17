"""Pixels of a phantom: soft tissue, lungs, vertebrae, and the bones that hide them (ribs, clavicles, pelvis).

Bone adds attenuation; the film shows 1 - exp(-attenuation), blurred, with
noise. Occluders are recorded as a mask so a segmenter's hidden-part
accuracy can be scored apart from the visible part.
"""

from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4  # cv2 sub-pixel bits


def _poly(canvas: np.ndarray, points: np.ndarray, value: float) -> None:
    layer = np.zeros(canvas.shape, np.uint8)
    cv2.fillPoly(layer, [np.round(points * (1 << _SHIFT)).astype(np.int32)], 1, cv2.LINE_AA, shift=_SHIFT)
    canvas += layer.astype(np.float32) * value


def _line(canvas: np.ndarray, points: np.ndarray, value: float, thickness: float) -> None:
    layer = np.zeros(canvas.shape, np.uint8)
    pts = np.round(points * (1 << _SHIFT)).astype(np.int32)
    cv2.polylines(layer, [pts], False, 1, max(1, int(round(thickness))), cv2.LINE_AA, shift=_SHIFT)
    canvas += layer.astype(np.float32) * value


def _ellipse_points(center, axes, angle_deg: float = 0.0, n: int = 64) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.stack([axes[0] * np.cos(t), axes[1] * np.sin(t)], axis=1)
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T + np.asarray(center)


def _bezier(p0, p1, p2, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t ** 2 * np.asarray(p2)


class Canvas:
    """Attenuation layers in image px; ``to_px`` maps design mm (x to side b, y up) to image (x, y) px."""

    def __init__(self, shape: tuple[int, int], to_px, px_per_mm: float, rng: np.random.Generator):
        self.bone = np.zeros(shape, np.float32)
        self.tissue = np.zeros(shape, np.float32)
        self.occluder = np.zeros(shape, np.float32)
        self.to_px, self.px_per_mm, self.rng = to_px, px_per_mm, rng

    def body(self, outline_mm: np.ndarray, strength: float) -> None:
        pts = self.to_px(outline_mm)
        _poly(self.bone, pts, strength)
        _line(self.bone, np.vstack([pts, pts[:1]]), strength * 0.9, 1.6 * self.px_per_mm)

    def occluding_poly(self, pts_px: np.ndarray, strength: float) -> None:
        _poly(self.bone, pts_px, strength)
        _poly(self.occluder, pts_px, 1.0)

    def occluding_band(self, pts_px: np.ndarray, strength: float, thickness_px: float) -> None:
        _line(self.bone, pts_px, strength, thickness_px)
        _line(self.bone, pts_px, strength * 0.6, thickness_px * 0.45)
        _line(self.occluder, pts_px, 1.0, thickness_px)


def draw_tissue(canvas: Canvas, shape: tuple[int, int], lateral: bool, spine_px: np.ndarray) -> None:
    """Torso soft tissue and, where the thorax is, darker lungs."""
    h, w = shape
    x0 = float(np.median(spine_px[:, 0]))
    torso = _ellipse_points((x0, h / 2), (w * (0.42 if not lateral else 0.45), h * 0.62))
    _poly(canvas.tissue, torso, 0.55)
    top, bottom = spine_px[:, 1].min(), spine_px[:, 1].max()
    thorax = top + 0.62 * (bottom - top)
    if lateral:
        return
    for side in (-1, 1):
        lung = _ellipse_points((x0 + side * w * 0.22, (top + thorax) / 2), (w * 0.15, (thorax - top) * 0.55))
        _poly(canvas.tissue, lung, -0.35)


def draw_ap_occluders(canvas: Canvas, vertebrae_px: list[np.ndarray], levels: tuple[str, ...], ribs: bool, pelvis: bool) -> None:
    """Rib heads over the thoracic bodies' sides, clavicles over T1-T3, iliac wings over L5."""
    rng = canvas.rng
    for corners, level in zip(vertebrae_px, levels):
        c = corners.mean(axis=0)
        width = np.linalg.norm(corners[1] - corners[0])
        height = np.linalg.norm(corners[2] - corners[0])
        if ribs and level.startswith("T"):
            for side in (-1, 1):
                start = c + np.array([side * width * rng.uniform(0.25, 0.42), -height * 0.2])
                mid = start + np.array([side * width * 1.4, -height * rng.uniform(0.4, 1.0)])
                end = start + np.array([side * width * 2.8, height * rng.uniform(1.5, 3.0)])
                canvas.occluding_band(_bezier(start, mid, end), 0.22, height * 0.45)
        if ribs and level == "T2":
            for side in (-1, 1):
                a = c + np.array([side * width * 0.2, -height * 0.8])
                b = c + np.array([side * width * 3.0, -height * 1.6])
                canvas.occluding_band(np.array([a, (a + b) / 2 + [0, height * 0.3], b]), 0.3, height * 0.7)
        if pelvis and level == "L5":
            for side in (-1, 1):
                wing = _ellipse_points(c + np.array([side * width * 1.05, height * 1.3]), (width * 0.75, height * 2.0), side * 20)
                canvas.occluding_poly(wing, 0.25)


def draw_lat_occluders(
    canvas: Canvas, vertebrae_px: list[np.ndarray], levels: tuple[str, ...], ribs: bool, pelvis: bool, anterior_sign: float
) -> None:
    """Ribs crossing the thoracic bodies obliquely; the iliac crest over L5/S1."""
    rng = canvas.rng
    for corners, level in zip(vertebrae_px, levels):
        c = corners.mean(axis=0)
        depth = np.linalg.norm(corners[1] - corners[0])
        height = np.linalg.norm(corners[2] - corners[0])
        if ribs and level.startswith("T") and rng.random() < 0.7:
            a = c + np.array([-anterior_sign * depth * 1.5, -height * 0.8])
            b = c + np.array([anterior_sign * depth * 2.5, height * rng.uniform(0.5, 2.0)])
            canvas.occluding_band(_bezier(a, (a + b) / 2 + [0, -height * 0.5], b), 0.16, height * 0.35)
        if pelvis and level == "L5":
            crest = _ellipse_points(c + np.array([-anterior_sign * depth * 0.2, height * 2.2]), (depth * 1.6, height * 1.9), 10)
            canvas.occluding_poly(crest, 0.2)


def posterior_elements(canvas: Canvas, corners_px: np.ndarray, lateral: bool, anterior_sign: float) -> None:
    """Pedicles and spinous process (AP) or pedicle and spinous process behind the body (lateral); not in the body mask."""
    c = corners_px.mean(axis=0)
    width = np.linalg.norm(corners_px[1] - corners_px[0])
    height = np.linalg.norm(corners_px[2] - corners_px[0])
    if not lateral:
        for side in (-1, 1):
            ring = _ellipse_points(c + np.array([side * width * 0.3, -height * 0.15]), (width * 0.09, height * 0.2))
            _line(canvas.bone, np.vstack([ring, ring[:1]]), 0.12, max(1.0, width * 0.03))
        _poly(canvas.bone, _ellipse_points(c + np.array([0, height * 0.25]), (width * 0.06, height * 0.3)), 0.08)
        return
    back = c - np.array([anterior_sign * width * 0.5, 0])
    arch = np.array(
        [
            back + [0, -height * 0.35],
            back - [anterior_sign * width * 0.6, height * 0.1],
            back - [anterior_sign * width * 1.2, -height * 0.6],
            back + [0, height * 0.1],
        ]
    )
    _poly(canvas.bone, arch, 0.14)


def draw_full_field(canvas: Canvas, vertebrae_px: list[np.ndarray], lateral: bool) -> None:
    """What an uncropped film adds: the skull above the cervical spine, femoral heads and pelvis below."""
    h, w = canvas.bone.shape
    top, bottom = vertebrae_px[0], vertebrae_px[-1]
    width = np.linalg.norm(bottom[1] - bottom[0])
    c_top, c_bottom = top.mean(axis=0), bottom.mean(axis=0)
    skull = _ellipse_points(c_top + np.array([0, -h * 0.12]), (w * 0.32, h * 0.1))
    render_ring = np.vstack([skull, skull[:1]])
    _line(canvas.bone, render_ring, 0.3, max(2.0, h * 0.008))
    _poly(canvas.bone, skull, 0.1)
    if lateral:
        return
    for side in (-1, 1):
        head = _ellipse_points(c_bottom + np.array([side * width * 1.9, width * 2.6]), (width * 0.45, width * 0.45))
        _poly(canvas.bone, head, 0.3)
        shaft = np.array([c_bottom + [side * width * 1.9, width * 2.6], c_bottom + [side * width * 2.3, h]])
        _line(canvas.bone, shaft, 0.3, width * 0.6)


def finish(canvas: Canvas, noise: float) -> np.ndarray:
    """Attenuation -> film intensity in [0, 1], with blur, a smooth exposure gradient and noise."""
    h, w = canvas.bone.shape
    attenuation = canvas.tissue + canvas.bone + 0.15
    blur = max(0.6, canvas.px_per_mm * 0.35)
    attenuation = cv2.GaussianBlur(attenuation, (0, 0), blur)
    texture = cv2.GaussianBlur(canvas.rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 3 * blur)
    attenuation = attenuation + 0.04 * texture * (canvas.bone > 0)
    yy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    image = (1 - np.exp(-2.2 * attenuation)) * (1 + 0.06 * yy)
    image = image + canvas.rng.normal(0, noise, (h, w)).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)
