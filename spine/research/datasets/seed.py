"""The seed project's format, and folders of phantoms, into canonical annotations.

Seed format: a folder of DICOM films, each with one PNG mask in which all
vertebrae are painted (nonzero), found as ``<stem>_mask.png``,
``<stem>.png`` beside the film, or ``masks/<stem>.png``. Vertebrae are
separated into instances, ordered cranial to caudal, and given four corners
by a quadrilateral fit. Level names are assigned only when the count equals
the expected levels given.

Phantom folders (written by :func:`spine.phantom.write_phantom`) carry
their full ground truth in ``<stem>.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spine.geometry import Box, Polygon, Spine, Vertebra
from spine.masks import fit_quadrilateral, outline, separate_instances, spine_axes
from spine.radiograph import read_radiograph
from spine.research.datasets.annotation import Annotation
from spine.result import read_result

DICOM_GLOBS = ("*.dcm", "*.DCM", "*.dicom")


def find_mask(film: Path) -> Path | None:
    for candidate in (film.with_name(f"{film.stem}_mask.png"), film.with_suffix(".png"), film.parent / "masks" / f"{film.stem}.png"):
        if candidate.exists():
            return candidate
    return None


def vertebrae_from_mask(mask: np.ndarray, levels: tuple[str, ...] = ()) -> list[Vertebra]:
    """Instances, outlines and fitted corners of a mask with all vertebrae painted; levels when the count matches."""
    instances = separate_instances(mask)
    contours = [outline(m) for m in instances]
    keep = [(m, c) for m, c in zip(instances, contours) if c is not None]
    centroids = np.array([[np.nonzero(m)[1].mean(), np.nonzero(m)[0].mean()] for m, _ in keep]).reshape(-1, 2)
    axes = spine_axes(centroids)
    names = list(levels) if len(levels) == len(keep) else [None] * len(keep)
    out = []
    for (_, contour), axis, name in zip(keep, axes, names):
        corners = fit_quadrilateral(contour, axis)
        out.append(Vertebra(name, Box.from_points(contour), corners, Polygon(contour)))
    return out


def load_seed(folder: str | Path, levels: tuple[str, ...] = (), view: str | None = None) -> list[Annotation]:
    """Annotations of a seed-format folder; films without a mask are skipped."""
    from PIL import Image

    folder = Path(folder)
    films = sorted({p for pattern in DICOM_GLOBS for p in folder.glob(pattern)})
    out = []
    for film in films:
        mask_path = find_mask(film)
        if mask_path is None:
            continue
        radiograph = read_radiograph(film, view=view)
        mask = np.asarray(Image.open(mask_path)) > 0
        if mask.ndim == 3:
            mask = mask.any(axis=2)
        if mask.shape != (radiograph.height, radiograph.width):
            raise ValueError(f"{mask_path}: mask is {mask.shape[::-1]} px, film is {radiograph.width}x{radiograph.height}")
        spine = Spine(tuple(vertebrae_from_mask(mask, levels)), view=radiograph.view or "AP", spacing_mm=radiograph.spacing_mm)
        out.append(Annotation(str(film), film.stem, "seed", spine, radiograph.width, radiograph.height, True))
    return out


def load_phantom_folder(folder: str | Path, stems: set[str] | None = None) -> list[Annotation]:
    """Annotations of a folder of phantoms written by ``write_phantom`` (one patient per phantom); only those of
    ``stems`` when given."""
    folder = Path(folder)
    out = []
    for truth in sorted(folder.glob("*.json")):
        if stems is not None and truth.stem not in stems:
            continue
        result = read_result(truth)
        film = folder / Path(result.image.path).name
        out.append(Annotation(str(film), truth.stem, "phantom", result.spine, result.image.width, result.image.height, True))
    return out
