"""Designed spine geometry of a phantom, in millimetres, before any pixels.

Frame: x toward side b (image right on AP; anterior on lateral), y up, mm.
The spine is built by walking along its centre line: each vertebra's axis is
tilted by the profile angle phi at its arc position (phi = the angle of its
endplates, positive = side b higher), its two side heights set its wedge,
and discs separate neighbours. Every number that a measurement should
recover is kept here as a designed value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spine.geometry import LEVELS, level_index

# Adult size anchors by level: (level, body height, frontal width, sagittal depth, disc below), mm.
_SIZE_ANCHORS = (
    ("C2", 15, 16, 15, 4), ("C7", 14, 22, 17, 5), ("T1", 15, 27, 18, 4), ("T6", 18, 30, 25, 4.5),
    ("T12", 23, 40, 31, 6), ("L3", 26, 48, 35, 10), ("L5", 26, 52, 35, 11), ("S1", 24, 50, 42, 0),
)


def _size_at(level: str) -> np.ndarray:
    x = [level_index(name) for name, *_ in _SIZE_ANCHORS]
    table = np.array([values for _, *values in _SIZE_ANCHORS], dtype=float)
    i = level_index(level)
    return np.array([np.interp(i, x, table[:, k]) for k in range(4)])


@dataclass(frozen=True)
class DesignedVertebra:
    """One vertebra as designed. corners: (4, 2) mm, order (sup-a, sup-b, inf-a, inf-b); outline (K, 2) mm."""

    level: str
    center: np.ndarray
    phi_deg: float
    width: float
    height_a: float
    height_b: float
    corners: np.ndarray
    outline: np.ndarray

    @property
    def delta_deg(self) -> float:
        """Half the wedge: the superior endplate is at phi - delta, the inferior at phi + delta."""
        return float(np.degrees(np.arctan((self.height_a - self.height_b) / (2 * self.width))))

    @property
    def superior_deg(self) -> float:
        return self.phi_deg - self.delta_deg

    @property
    def inferior_deg(self) -> float:
        return self.phi_deg + self.delta_deg


def profile(control: tuple[tuple[float, float], ...]):
    """Smooth angle profile phi(t), t in [0, 1] along the spine, through (t, degrees) control points."""
    from scipy.interpolate import PchipInterpolator

    ts, values = zip(*sorted(control))
    if len(ts) == 1:
        return lambda t: np.full_like(np.asarray(t, float), values[0])
    return PchipInterpolator(np.asarray(ts), np.asarray(values), extrapolate=True)


def _axes(phi_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(e, up): unit endplate direction a -> b and the vertebra's cranial axis."""
    phi = np.radians(phi_deg)
    e = np.array([np.cos(phi), np.sin(phi)])
    return e, np.array([-e[1], e[0]])


def body_outline(corners: np.ndarray, rounding: float = 0.12, waist: float = 0.04, samples: int = 12) -> np.ndarray:
    """Outline of a vertebral body through its corner region: rounded corners, slightly concave sides.

    corners: (4, 2) (sup-a, sup-b, inf-a, inf-b). Returns (K, 2) points, counter-clockwise in y-up frame.
    """
    ring = corners[[0, 2, 3, 1]]  # sup-a -> inf-a -> inf-b -> sup-b
    points = []
    for k in range(4):
        p, q = ring[k], ring[(k + 1) % 4]
        edge = q - p
        side = k in (0, 2)  # a-side and b-side edges get the waist
        inward = (ring.mean(axis=0) - (p + q) / 2)
        inward /= max(np.linalg.norm(inward), 1e-9)
        for t in np.linspace(rounding, 1 - rounding, samples, endpoint=False)[1:]:
            bulge = waist * np.linalg.norm(edge) * np.sin(np.pi * t) if side else 0.0
            points.append(p + t * edge + bulge * inward)
        nxt = ring[(k + 2) % 4]
        corner = q
        a, b = q - rounding * edge, q + rounding * (nxt - q)
        for t in np.linspace(0, 1, 5)[1:-1]:  # quadratic Bezier through the corner's neighbourhood
            points.append((1 - t) ** 2 * a + 2 * (1 - t) * t * corner + t ** 2 * b)
    return np.asarray(points)


def vertebra(level: str, center: np.ndarray, phi_deg: float, width: float, height_a: float, height_b: float) -> DesignedVertebra:
    e, up = _axes(phi_deg)
    corners = np.array([
        center - e * width / 2 + up * height_a / 2,
        center + e * width / 2 + up * height_b / 2,
        center - e * width / 2 - up * height_a / 2,
        center + e * width / 2 - up * height_b / 2,
    ])
    return DesignedVertebra(level, center, phi_deg, width, height_a, height_b, corners, body_outline(corners))


@dataclass(frozen=True)
class SpineDesign:
    vertebrae: tuple[DesignedVertebra, ...]
    slips: dict  # "L4-L5" -> designed slip, % of the lower endplate, positive toward side b
    losses: dict  # level -> designed height loss fraction


def design_spine(
    levels: tuple[str, ...],
    view: str,
    angle_control: tuple[tuple[str, float], ...],
    scale: float = 1.0,
    wedges: dict | None = None,
    slips: dict | None = None,
) -> SpineDesign:
    """Walk the centre line and place each level.

    angle_control: (level, phi degrees) control points of the tilt profile; levels outside
    ``levels`` are placed by extrapolating the arc spacing.
    wedges: level -> height loss fraction on side b (anterior wedge fracture on lateral, lateral wedge on AP).
    slips: upper level -> slip % of the lower vertebra's endplate, toward side b; the upper vertebra
    and everything above it move.
    """
    wedges, slips = dict(wedges or {}), dict(slips or {})
    sizes = [_size_at(level) * scale for level in levels]
    width_index = 1 if view != "LAT" else 2
    arcs = np.cumsum([0.0] + [sizes[i][0] / 2 + sizes[i][3] + sizes[i + 1][0] / 2 for i in range(len(levels) - 1)])
    total = arcs[-1] if arcs[-1] > 0 else 1.0
    phi = profile(tuple((_arc_fraction(name, levels, arcs), value) for name, value in angle_control))
    grid = np.linspace(0, total, 2000)
    down = np.radians(phi(grid / total))
    step = np.diff(grid, prepend=0.0)
    path = np.cumsum(np.stack([np.sin(down) * step, -np.cos(down) * step], axis=1), axis=0)
    out = []
    for level, size, s in zip(levels, sizes, arcs):
        center = np.array([np.interp(s, grid, path[:, 0]), np.interp(s, grid, path[:, 1])])
        height, width = size[0], size[width_index]
        loss = wedges.get(level, 0.0)
        out.append(vertebra(level, center, float(phi(s / total)), width, height, height * (1 - loss)))
    out = _apply_slips(out, slips)
    names = {f"{a}-{b}": pct for a, pct in slips.items() for b in levels if level_index(b) > level_index(a)
             and all(n in ("T13", "L6") for n in LEVELS[level_index(a) + 1 : level_index(b)])}
    return SpineDesign(tuple(out), names, {k: v for k, v in wedges.items() if k in levels})


def _arc_fraction(level: str, levels: tuple[str, ...], arcs: np.ndarray) -> float:
    """Where ``level``'s centre lies along the spine, as a fraction of its length (outside [0, 1] beyond the ends)."""
    index = np.array([level_index(name) for name in levels], dtype=float)
    i, total = level_index(level), (arcs[-1] if arcs[-1] > 0 else 1.0)
    per_level = total / max(len(levels) - 1, 1)
    if i < index[0]:
        s = arcs[0] - (index[0] - i) * per_level
    elif i > index[-1]:
        s = arcs[-1] + (i - index[-1]) * per_level
    else:
        s = float(np.interp(i, index, arcs))
    return s / total


def _apply_slips(vertebrae: list[DesignedVertebra], slips: dict) -> list[DesignedVertebra]:
    for i, v in enumerate(vertebrae[:-1]):
        pct = slips.get(v.level)
        if not pct:
            continue
        lower = vertebrae[i + 1]
        e, _ = _axes(lower.superior_deg)
        shift = e * pct / 100 * float(np.linalg.norm(lower.corners[1] - lower.corners[0]))
        for j in range(i + 1):
            u = vertebrae[j]
            vertebrae[j] = vertebra(u.level, u.center + shift, u.phi_deg, u.width, u.height_a, u.height_b)
    return vertebrae
