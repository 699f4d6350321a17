"""What every tool that measures films shares: the model set loaded with one clear line when it cannot be, and one
film measured (the pure core: no files written). ``pipeline.infer`` (folders of films), ``pipeline.node`` (a DICOM
node) and ``pipeline.evaluate`` (annotated films) run it.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.modelset import ModelSet
from spine.inputs import printable
from spine.measures import MeasureOptions
from spine.radiograph import Radiograph
from spine.remeasure import measure_result
from spine.result import ImageInfo, SpineResult
from spine.stopwatch import NO_CLOCK
from spine.summary import one_line

NOTES = ("view not given", "detection(s) off the spine's chain dropped")  # what a reader need not act on


def is_note(message: str) -> bool:
    return message.startswith(NOTES[0]) or NOTES[1] in message


def measure_film(film: Radiograph, models: ModelSet, view: str | None = None, anterior: str | None = None,
                 clock=NO_CLOCK) -> SpineResult:
    """One film -> its spine geometry and measurements (the pure core: no files written); ``clock`` times the steps
    (:class:`spine.stopwatch.Stopwatch`: detect, priors, levels, reframe, segment, corners, measure)."""
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
