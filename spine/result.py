"""The ``spine-geometry/1`` JSON result: one film's spine, measurements and warnings.

Shape (extra keys allowed, coordinates in original image px)::

    {"schema": "spine-geometry/1",
     "image": {"path", "width", "height", "view", "spacing_mm": [row, col] | null,
               "spacing_source", "age", "sex", "sha256" (of the film file's bytes),
               "patient_key" (a hash of the DICOM Patient ID, to tell two patients apart; never the ID)},
     "vertebrae": [{"level", "score", "box": [x1, y1, x2, y2],
                    "corners": [[x, y] x 4] | null, "mask": {"polygon": [[x, y], ...]} | null,
                    "inferred": bool, "level_p": {level: probability} (when the level identifier named it),
                    "edited": true (when corrected by hand)}],
     "measurements": {...}, "warnings": [...] (what to check), "notes": [...] (information, nothing to check),
     "model": {"name", "code_version", "runtimes": {stage: runtime}} (what produced it, when a model did),
     "verified": {"by", "at"} (a reader checked it, and when: ISO 8601 UTC),
     "resolved_warnings": [{"warning", "by", "at"}] (warnings a reader settled)}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from spine.files import atomic_write_json
from spine.geometry import Box, Polygon, Spine, Vertebra

SCHEMA = "spine-geometry/1"
LEVELS_UNCERTAIN = "level names uncertain"  # how the warning of an uncertain naming begins (the overlay marks the film)
LEVELS_DISPUTED = "level names disputed"  # the identifier sure, but naming the chain otherwise than its count (weaker)


def levels_uncertain(warnings) -> bool:
    return any(str(w).startswith(LEVELS_UNCERTAIN) for w in warnings)


def levels_disputed(warnings) -> bool:
    return any(str(w).startswith(LEVELS_DISPUTED) for w in warnings)


@dataclass(frozen=True)
class ImageInfo:
    """What the result says about its film. spacing_mm: (row, col) mm per px or None."""

    path: str
    width: int
    height: int
    view: str = "AP"
    spacing_mm: tuple[float, float] | None = None
    spacing_source: str | None = None
    age: float | None = None
    sex: str | None = None
    anterior: str | None = None
    sha256: str | None = None
    patient_key: str | None = None

    @classmethod
    def from_radiograph(cls, film, view: str | None = None, anterior: str | None = None) -> "ImageInfo":
        return cls(
            path=film.path, width=film.width, height=film.height, view=view or film.view or "AP",
            spacing_mm=film.spacing_mm, spacing_source=film.spacing_source, age=film.age, sex=film.sex,
            anterior=anterior, patient_key=film.patient_key,
        )


@dataclass(frozen=True)
class Verification:
    """Who checked a result (or settled one of its warnings) and when (ISO 8601, UTC)."""

    by: str
    at: str


@dataclass(frozen=True, eq=False)
class SpineResult:
    image: ImageInfo
    spine: Spine
    measurements: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    model: dict | None = None  # the model set that produced it: name, code version, each crop stage's runtime
    notes: tuple[str, ...] = ()  # information a reader need not act on (the view assumed, detections dropped)
    verified: Verification | None = None
    resolved: tuple[tuple[str, Verification], ...] = ()  # (warning, who settled it and when)

    def with_(self, **changes) -> "SpineResult":
        return replace(self, **changes)


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def vertebra_to_dict(v: Vertebra) -> dict:
    out = {
        "level": v.level,
        "score": float(v.score),
        "box": v.box.as_list(),
        "corners": None if v.corners is None else v.corners.tolist(),
        "mask": None if v.mask is None else {"polygon": v.mask.points.tolist()},
        "inferred": bool(v.inferred),
    }
    if v.level_p:
        out["level_p"] = {name: float(p) for name, p in v.level_p}
    if v.edited:
        out["edited"] = True
    return out


def _numbers(value, what: str) -> np.ndarray:
    """``value`` as a float array when it holds only finite numbers (no booleans, strings or nulls)."""
    flat = np.asarray(value, dtype=object).ravel() if isinstance(value, list) else None
    if flat is None or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in flat):
        raise ValueError(f"'{what}' must hold finite numbers only")
    return np.asarray(value, dtype=float)


def vertebra_from_dict(d: dict) -> Vertebra:
    mask = d.get("mask")
    return Vertebra(
        level=d.get("level"),
        box=Box(*_numbers(d["box"], "box")),
        corners=None if d.get("corners") is None else _numbers(d["corners"], "corners"),
        mask=None if not mask else Polygon(_numbers(mask["polygon"], "mask")),
        score=float(d.get("score", 1.0)),
        inferred=bool(d.get("inferred", False)),
        level_p=tuple((str(k), float(p)) for k, p in (d.get("level_p") or {}).items()),
        edited=bool(d.get("edited", False)),
    )


def to_dict(result: SpineResult) -> dict:
    image = result.image
    model = {"model": result.model} if result.model else {}
    return _clean({
        "schema": SCHEMA,
        "image": {
            "path": image.path, "width": image.width, "height": image.height, "view": image.view,
            "spacing_mm": None if image.spacing_mm is None else list(image.spacing_mm),
            "spacing_source": image.spacing_source, "age": image.age, "sex": image.sex,
            "anterior": image.anterior,
            **{k: getattr(image, k) for k in ("sha256", "patient_key") if getattr(image, k)},
        },
        "vertebrae": [vertebra_to_dict(v) for v in result.spine.vertebrae],
        "measurements": result.measurements,
        "warnings": list(result.warnings),
        **({"notes": list(result.notes)} if result.notes else {}),
        **model,
        **({"verified": {"by": result.verified.by, "at": result.verified.at}} if result.verified else {}),
        **({"resolved_warnings": [{"warning": w, "by": v.by, "at": v.at} for w, v in result.resolved]} if result.resolved else {}),
    })


class ResultError(ValueError):
    """A document that is not a valid ``spine-geometry/1`` result; the message says where and why."""


def _checked_vertebrae(items) -> tuple[Vertebra, ...]:
    if not isinstance(items, list):
        raise ResultError(f"'vertebrae' must be a list, got {type(items).__name__}")
    out = []
    for k, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError(f"expected an object, got {type(item).__name__}")
            if not (isinstance(item.get("box"), list) and len(item["box"]) == 4):
                raise ValueError("'box' must be [x1, y1, x2, y2]")
            out.append(vertebra_from_dict(item))
        except (ValueError, TypeError, KeyError) as exc:
            raise ResultError(f"vertebra {k + 1}: {exc}") from None
    return tuple(out)


def from_dict(d: dict) -> SpineResult:
    """The result a JSON document holds; :class:`ResultError` when it is not a valid ``spine-geometry/1`` one."""
    if not isinstance(d, dict):
        raise ResultError(f"a result must be a JSON object, got {type(d).__name__}")
    if d.get("schema") != SCHEMA:
        raise ResultError(f"expected schema {SCHEMA!r}, got {str(d.get('schema'))[:40]!r}")
    im = d.get("image")
    if not isinstance(im, dict) or not all(isinstance(im.get(k), (int, float)) for k in ("width", "height")):
        raise ResultError("'image' must be an object with numeric 'width' and 'height'")
    try:
        return _from_checked(d, im)
    except (ValueError, TypeError, KeyError) as exc:
        raise ResultError(str(exc)) from None


def _from_checked(d: dict, im: dict) -> SpineResult:
    spacing = None if im.get("spacing_mm") is None else tuple(_numbers(im["spacing_mm"], "spacing_mm"))
    image = ImageInfo(
        path=im.get("path", ""), width=int(im["width"]), height=int(im["height"]), view=im.get("view") or "AP",
        spacing_mm=spacing, spacing_source=im.get("spacing_source"), age=im.get("age"), sex=im.get("sex"),
        anterior=im.get("anterior"), sha256=im.get("sha256"), patient_key=im.get("patient_key"),
    )
    vertebrae = _checked_vertebrae(d.get("vertebrae", []))
    spine = Spine(vertebrae, view=image.view, spacing_mm=spacing, anterior=image.anterior)
    model = d.get("model") if isinstance(d.get("model"), dict) else None
    verified = _verification(d["verified"], "verified") if d.get("verified") else None
    resolved = tuple((str(r.get("warning", "")), _verification(r, "resolved_warnings")) for r in d.get("resolved_warnings") or ())
    return SpineResult(image, spine, dict(d.get("measurements") or {}), tuple(map(str, d.get("warnings") or ())), model,
                       tuple(map(str, d.get("notes") or ())), verified, resolved)


def _verification(item, what: str) -> Verification:
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item[k] for k in ("by", "at")):
        raise ValueError(f"'{what}' needs 'by' and 'at' (strings)")
    return Verification(item["by"][:200], item["at"][:40])


def write_result(result: SpineResult, path: str | Path) -> Path:
    """Write atomically as ``spine-geometry/1`` JSON."""
    return atomic_write_json(path, to_dict(result))


def read_result(path: str | Path) -> SpineResult:
    """A result file; OSError when it cannot be opened, ResultError when it is not a valid result."""
    with open(path, encoding="utf-8") as handle:
        try:
            return from_dict(json.load(handle))
        except json.JSONDecodeError as exc:
            raise ResultError(f"not valid JSON ({exc})") from None
        except RecursionError:
            raise ResultError("nested too deeply to be a result") from None
