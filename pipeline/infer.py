"""Measure spine films end to end.

    python -m pipeline.infer INPUT... --out DIR [--models DIR] [--view ap|pa|lat] [--device cpu|cuda]

For each film: DIR/<stem>.json (spine-geometry/1), DIR/<stem>_overlay.png, and
one row in DIR/summary.csv, appended as the film ends (an interrupted run keeps
its rows). Folders are searched recursively; films are recognised by content;
each input gets its own stem (:mod:`spine.inputs`). A file that cannot be read
gets a one-line error in the log and in summary.csv; the others go on; the exit
status is 1 when any film failed, 2 for a problem with the run itself (nothing to
process, --out, --models, --device: one line, no traceback), 130 on Ctrl-C.
Outputs are written atomically; a result and its summary row land together. A run into a folder that already holds
results (:mod:`spine.runfolder`) skips films measured there by the same model set (``--again``: measure
them), never replaces a result a reader corrected (``--overwrite-reviewed``: measure, keeping it beside), and
refuses a film whose stem holds another film's result.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.core import UsageError, check_device, load_models, measure_film
from pipeline.modelset import ModelSet
from spine import runfolder
from spine.files import file_sha256, uninterrupted
from spine.inputs import Inputs, NothingToDo, output_stems, printable, scan_inputs
from spine.overlay import write_overlay
from spine.radiograph import Radiograph, RadiographError, read_radiograph
from spine.result import SpineResult, read_result, write_result
from spine.summary import FIELDS as SUMMARY_FIELDS
from spine.summary import FolderBusy, Summary, one_line, other_row, result_row

log = logging.getLogger("pipeline.infer")
def anonymised(result: SpineResult) -> SpineResult:
    """The result without what identifies the patient: the path reduced to the file name, age rounded down to
    whole years, no sex, no patient key."""
    image = result.image
    age = None if image.age is None else float(int(image.age))
    return result.with_(image=replace(image, path=Path(image.path).name, age=age, sex=None, patient_key=None))


@dataclass(frozen=True)
class RunOptions:
    """How a batch measures: view and anterior side as given (None: from the film); anonymise: outputs without what
    identifies the patient; dicom_out: where DICOM outputs go; again: measure films already measured by this model
    set; overwrite_reviewed: measure films whose result a reader corrected, keeping that result beside."""

    view: str | None = None
    anterior: str | None = None
    anonymise: bool = False
    dicom_out: Path | None = None
    again: bool = False
    overwrite_reviewed: bool = False
    verbose: bool = False


def measure_file(path: Path, stem: str, sha256: str, models: ModelSet, opts: RunOptions) -> tuple[Radiograph, SpineResult]:
    """Read and measure one film; its DICOM outputs written when asked for (nothing else is written)."""
    film = read_radiograph(path)
    result = measure_film(film, models, opts.view, opts.anterior)
    result = result.with_(image=replace(result.image, sha256=sha256))
    if opts.dicom_out is not None:
        result = with_dicom_outputs(result, path, opts.dicom_out / stem, models)
    return film, anonymised(result) if opts.anonymise else result.with_(image=replace(result.image, path=printable(result.image.path)))


def with_dicom_outputs(result: SpineResult, path: Path, folder: Path, models: ModelSet) -> SpineResult:
    """Write the SR, presentation state and segmentation of a DICOM film's result into ``folder``; a plain image
    gets a warning instead (DICOM output needs a DICOM input)."""
    from spine.dicomout import DicomOutputError, write_dicom_outputs

    if len(result.spine) == 0:
        return result.with_(warnings=result.warnings + ("no DICOM output: no spine was found",))
    try:
        write_dicom_outputs(result, path, folder, models.version)
    except DicomOutputError:
        log.warning("%s: a plain image: no DICOM output (it needs a DICOM film)", printable(path))
        return result.with_(warnings=result.warnings + ("no DICOM output: the film is not a DICOM file",))
    return result


def previous_row(path: Path, stem: str, state: str, document: dict | None, opts: RunOptions) -> dict | None:
    """The row of a film not to measure because of the result already at its stem (None: measure it)."""
    if state == "done" and not opts.again:
        return other_row(path, "skipped", "already measured by this model set (--again measures it again)", stem, opts.anonymise)
    if state == "reviewed" and not opts.overwrite_reviewed:
        return other_row(path, "skipped", f"{stem}.json was corrected or verified by a reader: kept (--overwrite-reviewed "
                         "measures again and keeps it beside)", stem, opts.anonymise)
    if state == "other film":
        other = printable(str(((document or {}).get("image") or {}).get("path", "another film")))
        return other_row(path, "error", f"output name {stem} already holds the result of another film ({other}); measure this "
                         "film into another --out", stem, opts.anonymise)
    return None


def process(path: Path, stem: str, out: Path, models: ModelSet, opts: RunOptions, summary: Summary) -> dict:
    """Measure one film into ``out`` unless the result already there says not to; its summary row (also written)."""
    sha256 = file_sha256(path)
    state, document = runfolder.found(out, stem, sha256, None if opts.anonymise else printable(path), models.digest)
    row = previous_row(path, stem, state, document, opts)
    if row is not None:
        if row["status"] != "skipped" or state != "done":
            summary.write(row)
        return row
    film, result = measure_file(path, stem, sha256, models, opts)
    row = result_row(path, result, stem, opts.anonymise)
    with uninterrupted():  # the result, its overlay and its row land together
        if state == "reviewed":
            log.info("%s: the reviewed result kept as %s", stem, runfolder.set_aside(out, stem).name)
        write_result(result, out / f"{stem}.json")
        write_overlay(film, result, out / f"{stem}_overlay.png")
        summary.write(row)
    return row


def add_missing_rows(out: Path, summary: Summary) -> None:
    """A row for every result in ``out`` that summary.csv lacks (a run stopped between the two, results copied in)."""
    listed = runfolder.stems_in_summary(out)
    for stem, path in runfolder.results_present(out).items():
        if stem not in listed:
            try:
                result = read_result(path)
            except (OSError, ValueError):
                continue
            summary.write(result_row(result.image.path, result, stem))


def run(inputs: Inputs | list[Path], out: str | Path, models: ModelSet, opts: RunOptions = RunOptions(),
        progress: bool = True) -> list[dict]:
    """Process every film of ``inputs`` (:func:`scan_inputs`); returns the summary rows, skipped files first (each
    also appended to out/summary.csv as it ends). Raises FolderBusy when another run writes into ``out``."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    inputs = inputs if isinstance(inputs, Inputs) else Inputs(list(inputs))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stems = output_stems(inputs.films)
    with Summary(out, SUMMARY_FIELDS) as summary, (logging_redirect_tqdm() if progress else nullcontext()):
        add_missing_rows(out, summary)
        rows = [other_row(path, "skipped", reason, anonymise=opts.anonymise) for path, reason in inputs.skipped]
        for row in rows:
            summary.write(row)
        for path in tqdm(inputs.films, desc="films", unit="film", disable=not progress):
            rows.append(_one(path, stems[path], out, models, opts, summary))
    return rows


def _one(path: Path, stem: str, out: Path, models: ModelSet, opts: RunOptions, summary: Summary) -> dict:
    try:
        return process(path, stem, out, models, opts, summary)
    except RadiographError as exc:
        log.error("%s", one_line(printable(exc)))
        row = other_row(path, "error", printable(exc), stem, opts.anonymise)
    except Exception as exc:  # one bad film must not stop the batch
        message = f"{printable(path)}: failed ({type(exc).__name__}: {one_line(exc)})"
        log.error("%s", message, exc_info=opts.verbose)
        row = other_row(path, "error", message, stem, opts.anonymise)
    summary.write(row)
    return row


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.infer", description="Find, segment and measure every vertebra on spine films."
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="films (DICOM, PNG, JPG, TIFF), folders of films (searched recursively), or globs"
    )
    parser.add_argument(
        "--out", required=True,
        help="output folder: <stem>.json, <stem>_overlay.png, summary.csv; a film already measured there by the same models is skipped",
    )
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
    parser.add_argument("--again", action="store_true", help="measure films whose result in --out came from the same film and model set")
    parser.add_argument(
        "--overwrite-reviewed",
        action="store_true",
        help="measure films whose result a reader corrected or verified; the reviewed result is kept beside as <stem>.json.reviewed-TIME",
    )
    parser.add_argument("--verbose", action="store_true", help="log library tracebacks of failed films")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.inputs and not args.demo:
        parser.error("give at least one INPUT (or --demo)")
    return args


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


def options_of(args: argparse.Namespace) -> RunOptions:
    if args.anonymise and args.dicom_out:
        raise UsageError("--anonymise with --dicom-out: the DICOM outputs carry the film's patient and study; "
                         "de-identify the films first, or leave out one of the two")
    return RunOptions(args.view, args.anterior, args.anonymise, Path(args.dicom_out) if args.dicom_out else None,
                      args.again, args.overwrite_reviewed, args.verbose)


def report(rows: list[dict], out: str) -> int:
    """Print one line per film measured or failed, then the counts; the exit status (1 when any film failed)."""
    counts = {status: sum(r["status"] == status for r in rows) for status in ("ok", "no spine", "skipped", "error")}
    for row in rows:
        if row["status"] == "ok":
            print(f"{row['file']}: {row['vertebrae']} vertebrae, major Cobb {row['cobb_major_deg'] or '-'} deg "
                  f"({row['cobb_major_levels'] or '-'}), AASCE {row['aasce_cobb_deg'] or '-'}")
        elif row["status"] != "error":
            print(f"{row['file']}: {row['status']}{': ' + row['error'] if row.get('error') else ''}")
    print(f"{counts['ok']} film(s) measured, {counts['no spine']} with no spine found, {counts['skipped']} skipped, "
          f"{counts['error']} failed; results in {printable(out)}")
    return 1 if counts["error"] else 0


def main(argv: list[str] | None = None) -> int:
    from spine import logs
    from spine.offline import configure

    configure()
    args = parse_args(argv)
    logs.configure(args.verbose)
    try:
        opts = options_of(args)
        out = check_out(args.out)
        inputs = list(args.inputs)
        if args.demo:
            from spine.phantom import sample_film

            inputs.append(str(sample_film(out / "sample")))
        found = scan_inputs(inputs, exclude=[out] + ([args.dicom_out] if args.dicom_out else []))  # before the models load
        models = load_models(args.models, check_device(args.device))
        if args.dicom_out:
            check_out(args.dicom_out)
        rows = run(found, out, models, opts, not args.quiet)
    except (UsageError, NothingToDo, FolderBusy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: the films finished so far are in {printable(args.out)} (summary.csv holds their rows)", file=sys.stderr)
        return 130
    return report(rows, args.out)


if __name__ == "__main__":
    sys.exit(main())
