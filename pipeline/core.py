"""What every tool that measures films shares: the model set loaded with one clear line when it cannot be, and one
film measured (the pure core: no files written). ``pipeline.infer`` (folders of films), ``pipeline.node`` (a DICOM
node) and ``pipeline.evaluate`` (annotated films) run it, and so can any program (``from pipeline import
measure_film``): a film given as a path, the file's bytes, an array or a :class:`spine.radiograph.Radiograph`.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.modelset import ModelSet
from spine.inputs import printable
from spine.measures import MeasureOptions
from spine.radiograph import Radiograph, normalise_image, read_radiograph
from spine.remeasure import measure_result
from spine.result import ImageInfo, SpineResult
from spine.stopwatch import NO_CLOCK
from spine.summary import one_line

NOTES = ("view not given", "detection(s) off the spine's chain dropped")  # what a reader need not act on


def is_note(message: str) -> bool:
    return message.startswith(NOTES[0]) or NOTES[1] in message


def measure_film(film: Radiograph | str | Path | bytes | np.ndarray, models: ModelSet | None = None, view: str | None = None,
                 anterior: str | None = None, clock=NO_CLOCK, spacing_mm: tuple[float, float] | None = None) -> SpineResult:
    """One film -> its spine geometry and measurements (nothing written). ``film``: a DICOM/PNG/JPG path, the file's
    bytes, an (H, W) grey array (8-bit, or any range: stretched) or a :class:`Radiograph`; ``models``: a loaded
    :class:`ModelSet` (default: the shipped set, loaded once); ``view`` 'AP', 'PA' or 'LAT' (default: the file's, else
    AP); ``anterior`` 'left' or 'right' on lateral films; ``spacing_mm`` (row, col) for an array or to override the
    file's; ``clock`` times the steps (:class:`spine.stopwatch.Stopwatch`). A file that is not a film raises
    :class:`spine.radiograph.RadiographError` with one line."""
    film = as_radiograph(film, spacing_mm)
    models = models if models is not None else shipped_models()
    given = view or film.view
    view = (given or models.options.default_view).upper()
    messages = ([] if given else [f"view not given: assumed {view}"]) + list(film.warnings)
    spine, found = models.finder.find(film.pixels, "LAT" if view == "LAT" else view, film.spacing_mm, film.age, film.sex, clock)
    messages += found
    if film.spacing_source == "ImagerPixelSpacing":
        messages.append("spacing from ImagerPixelSpacing: lengths are at the detector plane (magnified)")
    warnings, notes = tuple(m for m in messages if not is_note(m)), tuple(m for m in messages if is_note(m))
    image = ImageInfo.from_radiograph(film, view=view, anterior=anterior if view == "LAT" else None)
    if len(spine) == 0:
        return SpineResult(image, spine, {}, warnings + ("no spine found in this film: nothing measured",), models.provenance, notes)
    with clock("segment"):
        outlines = models.outlines(film.pixels, spine)
    with clock("corners"):
        corners = models.corners.corners(film.pixels, [v.box for v in spine.vertebrae])
    vertebrae = tuple(v.with_(corners=c, mask=o) for v, c, o in zip(spine.vertebrae, corners, outlines))
    spine = spine.with_(vertebrae=vertebrae, anterior=image.anterior)
    with clock("measure"):
        return measure_result(SpineResult(image, spine, {}, warnings, models.provenance, notes), MeasureOptions())


def as_radiograph(film, spacing_mm: tuple[float, float] | None = None) -> Radiograph:
    """A :class:`Radiograph` of a path, bytes, array or Radiograph, with ``spacing_mm`` when given."""
    if isinstance(film, (str, Path)):
        film = read_radiograph(film)
    elif isinstance(film, (bytes, bytearray)):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "film"
            path.write_bytes(film)
            film = replace(read_radiograph(path), path="<bytes>")
    elif isinstance(film, np.ndarray):
        if film.ndim != 2 or min(film.shape) < 32:
            raise ValueError(f"a film array must be grey (H, W) and at least 32 px each way, got shape {film.shape}")
        film = Radiograph(normalise_image(film), "<array>")
    if spacing_mm is not None:
        film = replace(film, spacing_mm=tuple(map(float, spacing_mm)), spacing_source="given")
    return film


@lru_cache(maxsize=1)
def shipped_models() -> ModelSet:
    """The shipped model set, loaded once per process."""
    return ModelSet.load()


class UsageError(ValueError):
    """A run-level problem the user can fix (paths, devices, permissions): one line, exit 2."""


def check_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    if not (device == "cpu" or device.startswith("cuda") or device == "mps"):
        raise UsageError(f"--device {device}: use cpu, cuda or cuda:N")
    return device


def load_models(folder: str | None, device: str) -> ModelSet:
    """The model set, or a UsageError naming what is wrong with the folder."""
    from detector.model import UnsafeModelError

    if folder is not None and not Path(folder).is_dir():
        raise UsageError(f"--models {printable(folder)}: no such model folder")
    try:
        return ModelSet.load(folder, device)
    except UnsafeModelError as exc:
        raise UsageError(f"--models {printable(folder)}: refused, {exc}") from None
    except Exception as exc:  # noqa: BLE001 - whatever a damaged folder raises, the user gets one line
        raise UsageError(f"--models {printable(folder or 'models/default')}: not a usable model set ({one_line(exc)})") from None
