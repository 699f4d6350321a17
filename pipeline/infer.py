"""Measure spine films end to end.

    python -m pipeline.infer INPUT... --out DIR [--models DIR] [--view ap|pa|lat] [--device cpu|cuda]

For each film: DIR/<stem>.json (spine-geometry/1), DIR/<stem>_overlay.png, and
one row in DIR/summary.csv. A file that cannot be read gets a one-line error
in the log and in summary.csv; the others go on; the exit status is 1 when any
film failed. Outputs are written atomically.
"""

from __future__ import annotations

import pipeline  # noqa: F401

import argparse
import csv
import glob
import io
import logging
import sys
from pathlib import Path
from typing import Iterable

from pipeline.files import atomic_write_text
from pipeline.measure import measure_result
from pipeline.measures import MeasureOptions
from pipeline.models import ModelSet
from pipeline.radiograph import DICOM_SUFFIXES, IMAGE_SUFFIXES, Radiograph, RadiographError, read_radiograph
from pipeline.result import ImageInfo, SpineResult, write_result

log = logging.getLogger("pipeline.infer")
SUMMARY_FIELDS = ("file", "status", "error", "view", "vertebrae", "inferred", "units", "cobb_major_deg", "cobb_major_levels",
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
        return SpineResult(image, spine, {}, tuple(warnings) + ("no spine found in this film: nothing measured",))
    boxes = [v.box for v in spine.vertebrae]
    outlines = models.segmenter.outlines(film.pixels, boxes)
    corners = models.corners.corners(film.pixels, boxes, outlines)
    vertebrae = tuple(v.with_(corners=c, mask=o) for v, c, o in zip(spine.vertebrae, corners, outlines))
    spine = spine.with_(vertebrae=vertebrae, anterior=image.anterior)
    if film.spacing_source == "ImagerPixelSpacing":
        warnings.append("spacing from ImagerPixelSpacing: lengths are at the detector plane (magnified)")
    return measure_result(SpineResult(image, spine, {}, tuple(warnings)), MeasureOptions())


def expand_inputs(items: Iterable[str]) -> list[Path]:
    """Files, folders (their readable files) and globs, in the given order, without repeats."""
    suffixes = IMAGE_SUFFIXES | {s for s in DICOM_SUFFIXES if s}
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))
        elif any(ch in item for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
        else:
            found = [path]
        out += [p for p in found if p not in out]
    return out


def _stems(paths: list[Path]) -> dict[Path, str]:
    """Output stem per input; inputs sharing a stem get their parent folder's name in front."""
    counts: dict[str, int] = {}
    for p in paths:
        counts[p.stem] = counts.get(p.stem, 0) + 1
    return {p: (f"{p.parent.name}_{p.stem}" if counts[p.stem] > 1 else p.stem) for p in paths}


def summary_row(path: Path, result: SpineResult | None, error: str | None) -> dict:
    if result is None:
        return {"file": str(path), "status": "error", "error": error}
    m = result.measurements
    major = (m.get("cobb") or [None])[0]
    return {
        "file": str(path), "status": "ok", "error": "", "view": result.image.view, "vertebrae": len(result.spine),
        "inferred": sum(v.inferred for v in result.spine.vertebrae), "units": m.get("units"),
        "cobb_major_deg": f"{major['angle_deg']:.1f}" if major else "",
        "cobb_major_levels": f"{major['upper']}-{major['lower']}" if major else "",
        "aasce_cobb_deg": " ".join(f"{a:.1f}" for a in m.get("aasce_cobb_deg") or []),
        **{k: (f"{m[k]:.1f}" if m.get(k) is not None else "") for k in ("lumbar_lordosis_deg", "thoracic_kyphosis_deg", "sacral_slope_deg")},
        "warnings": " | ".join(result.warnings),
    }


def process(path: Path, stem: str, out: Path, models: ModelSet, view: str | None, anterior: str | None) -> SpineResult:
    from pipeline.overlay import write_overlay

    film = read_radiograph(path)
    result = infer(film, models, view, anterior)
    write_result(result, out / f"{stem}.json")
    write_overlay(film, result, out / f"{stem}_overlay.png")
    return result


def run(inputs: Iterable[str], out: str | Path, models: ModelSet, view: str | None = None, anterior: str | None = None,
        progress: bool = True) -> list[dict]:
    """Process every input; returns the summary rows (also written to out/summary.csv)."""
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = expand_inputs(inputs)
    stems, rows = _stems(paths), []
    for path in tqdm(paths, desc="films", unit="film", disable=not progress):
        try:
            result = process(path, stems[path], out, models, view, anterior)
            rows.append(summary_row(path, result, None))
        except RadiographError as exc:
            log.error("%s", exc)
            rows.append(summary_row(path, None, str(exc)))
        except Exception as exc:  # one bad film must not stop the batch
            log.error("%s: failed (%s: %s)", path, type(exc).__name__, exc)
            rows.append(summary_row(path, None, f"{path}: failed ({type(exc).__name__}: {exc})"))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "summary.csv", buffer.getvalue())
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.infer", description="Find, segment and measure every vertebra on spine films.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="films (DICOM, PNG, JPG, TIFF), folders of films, or globs")
    parser.add_argument("--out", required=True, help="output folder: <stem>.json, <stem>_overlay.png, summary.csv")
    parser.add_argument("--models", help="model set folder (default: the shipped model, models/default)")
    parser.add_argument("--view", choices=["ap", "pa", "lat"], help="film view; default: the DICOM ViewPosition, else AP")
    parser.add_argument("--anterior", choices=["left", "right"], help="lateral films: the image side the patient faces (default: inferred from the curves)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--demo", action="store_true", help="also make a synthetic sample film in --out and measure it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.inputs and not args.demo:
        parser.error("give at least one INPUT (or --demo)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    inputs = list(args.inputs)
    if args.demo:
        from pipeline.demo import make_sample

        inputs.append(str(make_sample(Path(args.out) / "sample")))
    models = ModelSet.load(args.models, args.device)
    rows = run(inputs, args.out, models, args.view, args.anterior, progress=not args.quiet)
    failed = [r for r in rows if r["status"] != "ok"]
    for row in rows:
        if row["status"] == "ok":
            print(f"{row['file']}: {row['vertebrae']} vertebrae, major Cobb {row['cobb_major_deg'] or '-'} deg "
                  f"({row['cobb_major_levels'] or '-'}), AASCE {row['aasce_cobb_deg'] or '-'}")
    print(f"{len(rows) - len(failed)} film(s) measured, {len(failed)} failed; results in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
