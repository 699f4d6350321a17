"""What a phantom should show: view, levels, curves, fractures, slips, occluders. Deterministic by seed."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

import numpy as np

from spine.geometry import level_range


@dataclass(frozen=True)
class PhantomSpec:
    """A synthetic film's recipe.

    view: 'AP' or 'LAT'. field: 'spine' (cropped to the spine, like the AASCE
    training films) or 'full' (skull base to femurs, like uncropped films).
    levels: labelled vertebrae drawn (default T1-L5 on AP, T1-S1 on lateral).
    height_px: image height; aspect: width / height; anisotropy: column over
    row spacing. cobb_deg / kyphosis_deg / lordosis_deg / sacral_slope_deg:
    designed curvature (None: drawn at random from the seed). wedges: level ->
    height loss on side b; slips: upper level -> slip %, toward side b
    (anterior on lateral). anterior: image side the patient faces on lateral.
    """

    view: str = "AP"
    seed: int = 0
    field: str = "spine"
    levels: tuple[str, ...] | None = None
    height_px: int = 1024
    aspect: float | None = None
    anisotropy: float = 1.0
    cobb_deg: float | None = None
    s_curve: bool | None = None
    kyphosis_deg: float | None = None
    lordosis_deg: float | None = None
    sacral_slope_deg: float | None = None
    wedges: dict = dc_field(default_factory=dict)
    slips: dict = dc_field(default_factory=dict)
    anterior: str = "left"
    age: float | None = None
    sex: str | None = None
    ribs: bool = True
    pelvis: bool = True
    noise: float = 0.02

    def __post_init__(self) -> None:
        if self.view not in ("AP", "LAT"):
            raise ValueError(f"phantom view must be 'AP' or 'LAT', got {self.view!r}")
        if self.field not in ("spine", "full"):
            raise ValueError(f"phantom field must be 'spine' or 'full', got {self.field!r}")
        if self.anterior not in ("left", "right"):
            raise ValueError(f"anterior must be 'left' or 'right', got {self.anterior!r}")

    def resolved_levels(self) -> tuple[str, ...]:
        if self.levels:
            return tuple(self.levels)
        return level_range("T1", "L5") if self.view == "AP" else level_range("T1", "S1")


def draw_age_sex(spec: PhantomSpec, rng: np.random.Generator) -> tuple[float, str]:
    age = spec.age if spec.age is not None else float(rng.integers(10, 19) if spec.view == "AP" else rng.integers(20, 80))
    sex = spec.sex if spec.sex is not None else ("F" if rng.random() < 0.7 else "M")
    return age, sex


def size_scale(age: float, sex: str) -> float:
    """Body size relative to an adult man: children are smaller, women ~7 % smaller."""
    growth = float(np.interp(age, [5, 10, 16, 20], [0.62, 0.75, 0.93, 1.0]))
    return growth * (0.93 if sex == "F" else 1.0)


def coronal_control(spec: PhantomSpec, rng: np.random.Generator, levels: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """Tilt control points of a scoliotic (or straight) frontal profile: a C or S curve with the designed Cobb."""
    cobb = spec.cobb_deg if spec.cobb_deg is not None else float(rng.uniform(0, 50))
    s_curve = spec.s_curve if spec.s_curve is not None else bool(rng.random() < 0.5)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if not s_curve:
        upper, lower = ("T4", "L2") if rng.random() < 0.5 else ("T9", "L4")
        return (("T1", 0.0), (upper, sign * cobb / 2), (lower, -sign * cobb / 2), ("L5", -sign * cobb / 4))
    second = cobb * float(rng.uniform(0.5, 0.9))
    return (
        ("T1", 0.0),
        ("T5", sign * cobb / 2),
        ("T12", -sign * cobb / 2),
        ("L4", -sign * cobb / 2 + sign * second),
        ("L5", -sign * cobb / 2 + sign * second * 0.9),
    )


def sagittal_control(spec: PhantomSpec, rng: np.random.Generator) -> tuple[tuple[str, float], ...]:
    """Tilt control points of a lateral profile: cervical lordosis, thoracic kyphosis, lumbar lordosis, sacral slope.

    phi is the endplate angle, anterior end up positive; kyphosis = phi(T12) - phi(T4),
    lordosis = phi(L1) - phi(S1), sacral slope = -phi(S1).
    """
    kyphosis = spec.kyphosis_deg if spec.kyphosis_deg is not None else float(rng.uniform(20, 50))
    lordosis = spec.lordosis_deg if spec.lordosis_deg is not None else float(rng.uniform(35, 65))
    slope = spec.sacral_slope_deg if spec.sacral_slope_deg is not None else float(rng.uniform(28, 48))
    l1 = lordosis - slope
    return (
        ("C2", -kyphosis / 2 + 15),
        ("C7", -kyphosis / 2 - 5),
        ("T1", -kyphosis / 2 - 2),
        ("T4", -kyphosis / 2),
        ("T12", kyphosis / 2),
        ("L1", l1),
        ("L3", (l1 - slope) / 2),
        ("L5", -slope * 0.8),
        ("S1", -slope),
    )
