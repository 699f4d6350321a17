"""Measure spine films end to end.

    python -m pipeline.infer INPUT... --out DIR [--models DIR] [--view ap|pa|lat] [--device cpu|cuda]

For each film: DIR/<stem>.json (spine-geometry/1), DIR/<stem>_overlay.png, and
one row in DIR/summary.csv, appended as the film ends (an interrupted run keeps
its rows). Folders are searched recursively; films are recognised by content;
each input gets its own stem (:mod:`pipeline.lib.inputs`). A file that cannot be read
gets a one-line error in the log and in summary.csv; the others go on; the exit
status is 1 when any film failed, 2 for a problem with the run itself (nothing to
process, --out, --models, --device: one line, no traceback), 130 on Ctrl-C.
Outputs are written atomically.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from pipeline.lib.inputs import NothingToDo, expand_inputs, output_stems, printable
from pipeline.lib.measures import MeasureOptions
from pipeline.lib.radiograph import Radiograph, RadiographError, read_radiograph
from pipeline.lib.result import ImageInfo, SpineResult, write_result
from pipeline.lib.summary import FolderBusy, Summary, one_line
from pipeline.measure import measure_result
from pipeline.models import ModelSet

log = logging.getLogger("pipeline.infer")
SUMMARY_FIELDS = ("file", "stem", "status", "error", "view", "vertebrae", "inferred", "units", "cobb_major_deg", "cobb_major_levels",
                  "aasce_cobb_deg", "lumbar_lordosis_deg", "thoracic_kyphosis_deg", "sacral_slope_deg", "warnings")


def infer(film: Radiograph, models: ModelSet, view: str | None = None, anterior: str | None = None) -> SpineResult:
    """One film -> its spine geometry and measurements (the pure core: no files written)."""
    given = view or film.view
    view = (given or models.options.default_view).upper()
    warnings = [] if given else [f"view not given: assumed {view}"]
    spine, found = models.finder.find(film.pixels, "LAT" if view == "LAT" else view, film.spacing_mm, film.age, film.sex)
    warnings += found
    image = ImageInfo.from_radiograph(film, view=view, anterior=anterior if view == "LAT" else None)
    if len(spine) == 0:
        return SpineResult(image, spine, {}, tuple(warnings) + ("no spine found in this film: nothing measured",), models.provenance)
    boxes = [v.box for v in spine.vertebrae]
    outlines = models.outlines(film.pixels, spine)
    corners = models.corners.corners(film.pixels, boxes, outlines)
    vertebrae = tuple(v.with_(corners=c, mask=o) for v, c, o in zip(spine.vertebrae, corners, outlines))
    spine = spine.with_(vertebrae=vertebrae, anterior=image.anterior)
    if film.spacing_source == "ImagerPixelSpacing":
        warnings.append("spacing from ImagerPixelSpacing: lengths are at the detector plane (magnified)")
    return measure_result(SpineResult(image, spine, {}, tuple(warnings), models.provenance), MeasureOptions())


def anonymised(result: SpineResult) -> SpineResult:
    """The result without what identifies the patient: the path reduced to the file name, age rounded down to
    whole years, no sex."""
    image = result.image
    age = None if image.age is None else float(int(image.age))
    return result.with_(image=replace(image, path=Path(image.path).name, age=age, sex=None))


def summary_row(path: Path, result: SpineResult | None, error: str | None, anonymise: bool = False, stem: str = "") -> dict:
    file = printable(Path(path).name if anonymise else path)
    if result is None:
        return {"file": file, "stem": stem, "status": "error", "error": one_line(error)}
    m = result.measurements
    major = (m.get("cobb") or [None])[0]
    return {
        "file": file,
        "stem": stem,
        "status": "ok",
        "error": "",
        "view": result.image.view,
        "vertebrae": len(result.spine),
        "inferred": sum(v.inferred for v in result.spine.vertebrae),
        "units": m.get("units"),
        "cobb_major_deg": f"{major['angle_deg']:.1f}" if major else "",
        "cobb_major_levels": f"{major['upper']}-{major['lower']}" if major else "",
        "aasce_cobb_deg": " ".join(f"{a:.1f}" for a in m.get("aasce_cobb_deg") or []),
        **{
            k: (f"{m[k]:.1f}" if m.get(k) is not None else "") for k in ("lumbar_lordosis_deg", "thoracic_kyphosis_deg", "sacral_slope_deg")
        },
        "warnings": " | ".join(result.warnings),
    }


def process(
    path: Path,
    stem: str,
    out: Path,
    models: ModelSet,
    view: str | None,
    anterior: str | None,
    anonymise: bool = False,
    dicom_out: Path | None = None,
) -> SpineResult:
    from pipeline.lib.overlay import write_overlay

    film = read_radiograph(path)
    result = infer(film, models, view, anterior)
    if dicom_out is not None:
        result = with_dicom_outputs(result, path, dicom_out / stem, models)
    result = anonymised(result) if anonymise else result.with_(image=replace(result.image, path=printable(result.image.path)))
    write_result(result, out / f"{stem}.json")
    write_overlay(film, result, out / f"{stem}_overlay.png")
    return result


def with_dicom_outputs(result: SpineResult, path: Path, folder: Path, models: ModelSet) -> SpineResult:
    """Write the SR, presentation state and segmentation of a DICOM film's result into ``folder``; a plain image
    gets a warning instead (DICOM output needs a DICOM input)."""
    from pipeline.lib.dicomout import DicomOutputError, write_dicom_outputs

    if len(result.spine) == 0:
        return result.with_(warnings=result.warnings + ("no DICOM output: no spine was found",))
    try:
        write_dicom_outputs(result, path, folder, models.version)
    except DicomOutputError:
        log.warning("%s: a plain image: no DICOM output (it needs a DICOM film)", printable(path))
        return result.with_(warnings=result.warnings + ("no DICOM output: the film is not a DICOM file",))
    return result


def run(
    paths: list[Path],
    out: str | Path,
    models: ModelSet,
    view: str | None = None,
    anterior: str | None = None,
    progress: bool = True,
    anonymise: bool = False,
    verbose: bool = False,
    dicom_out: str | Path | None = None,
) -> list[dict]:
    """Process every film of ``paths`` (as :func:`expand_inputs` gives them); returns the summary rows (also
    appended to out/summary.csv as each film ends). Raises FolderBusy when another run writes into ``out``."""
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stems, rows = output_stems(paths), []
    with Summary(out, SUMMARY_FIELDS) as summary:
        for path in tqdm(paths, desc="films", unit="film", disable=not progress):
            try:
                result = process(path, stems[path], out, models, view, anterior, anonymise, Path(dicom_out) if dicom_out else None)
                row = summary_row(path, result, None, anonymise, stems[path])
            except RadiographError as exc:
                log.error("%s", one_line(exc))
                row = summary_row(path, None, printable(exc), anonymise, stems[path])
            except Exception as exc:  # one bad film must not stop the batch
                message = f"{printable(path)}: failed ({type(exc).__name__}: {one_line(exc)})"
                log.error("%s", message, exc_info=verbose)
                row = summary_row(path, None, message, anonymise, stems[path])
            summary.write(row)
            rows.append(row)
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.infer", description="Find, segment and measure every vertebra on spine films."
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="films (DICOM, PNG, JPG, TIFF), folders of films (searched recursively), or globs"
    )
    parser.add_argument("--out", required=True, help="output folder: <stem>.json, <stem>_overlay.png, summary.csv")
    parser.add_argument("--models", help="model set folder (default: the shipped model, models/default)")
    parser.add_argument("--view", choices=["ap", "pa", "lat"], help="film view; default: the DICOM ViewPosition, else AP")
    parser.add_argument(
        "--anterior", choices=["left", "right"], help="lateral films: the image side the patient faces (default: inferred from the curves)"
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--demo", action="store_true", help="also make a synthetic sample film in --out and measure it")
    parser.add_argument(
        "--dicom-out",
        metavar="DIR",
        help="also write, per DICOM film, a structured report, a presentation state and a segmentation into DIR/<stem>/",
    )
    parser.add_argument(
        "--anonymise",
        action="store_true",
        help="outputs without identifying data: the input path reduced to the file name, age in whole years, no sex",
    )
    parser.add_argument("--verbose", action="store_true", help="log library tracebacks of failed films")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.inputs and not args.demo:
        parser.error("give at least one INPUT (or --demo)")
    return args


class UsageError(ValueError):
    """A run-level problem the user can fix (paths, devices, permissions): one line, exit 2."""


def check_out(out: str | Path) -> Path:
    """The output folder, created and proven writable, before any model is loaded."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {printable(out)}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--out {printable(out)}: cannot write there ({exc.strerror or exc})") from None
    return out


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
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"--models {printable(folder or 'models/default')}: not a usable model set ({one_line(exc)})") from None


def main(argv: list[str] | None = None) -> int:
    from pipeline.lib.offline import configure

    configure()
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        out = check_out(args.out)
        inputs = list(args.inputs)
        if args.demo:
            from pipeline.demo import make_sample

            inputs.append(str(make_sample(out / "sample")))
        paths = expand_inputs(inputs)  # nothing to do is found before the models load
        models = load_models(args.models, check_device(args.device))
        if args.dicom_out:
            check_out(args.dicom_out)
        rows = run(paths, out, models, args.view, args.anterior, not args.quiet, args.anonymise, args.verbose, args.dicom_out)
    except (UsageError, NothingToDo, FolderBusy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: the films finished so far are in {printable(args.out)} (summary.csv holds their rows)", file=sys.stderr)
        return 130
    failed = [r for r in rows if r["status"] != "ok"]
    for row in rows:
        if row["status"] == "ok":
            print(
                f"{row['file']}: {row['vertebrae']} vertebrae, major Cobb {row['cobb_major_deg'] or '-'} deg "
                f"({row['cobb_major_levels'] or '-'}), AASCE {row['aasce_cobb_deg'] or '-'}"
            )
    print(f"{len(rows) - len(failed)} film(s) measured, {len(failed)} failed; results in {printable(args.out)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
