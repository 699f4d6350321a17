"""Run the pipeline over an annotated set and report every stage, alone (oracle input) and in the cascade.

    python -m pipeline.evaluate --data DIR --format aasce|yolo|seed|phantom|challenge [--models DIR]
                                [--split val|train|all] [--reference ROBOFLOW_DIR] --out REPORT

Writes REPORT.json and REPORT.md. The figures come from the stages' own
evaluation functions, so they match what each stage reports on the same films:
detection (AP, recall, precision, level naming, before and after the priors),
Dice on truth boxes (oracle) and on the cascade's boxes (paired with the true vertebrae by overlap, so naming
errors count in the detector's figures only), corner error (mean,
median, OR20, OR40) oracle and cascade, and the Cobb angles by the AASCE
protocol (SMAPE, mean absolute error) and by the clinical method.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.modelset import ModelSet
from spine.files import atomic_write_json, atomic_write_text
from spine.geometry import Spine
from spine.measures import cmae, measure_spine, smape
from spine.measures.aasce import smape_per_film
from spine.radiograph import read_radiograph
from spine.research.datasets import load_films
from spine.research.datasets.annotation import Annotation


class CachedCascade:
    """Detector, priors and level identifier per film, computed once and reused by every stage's evaluation."""

    def __init__(self, models: ModelSet, view: str = "AP"):
        self.models, self.view, self.cache = models, view, {}

    def __call__(self, pixels: np.ndarray) -> Spine:
        key = hashlib.sha1(np.ascontiguousarray(pixels[::7, ::7]).tobytes()).hexdigest() + str(pixels.shape)
        if key not in self.cache:
            self.cache[key] = self.models.finder.find(pixels, self.view)[0]
        return self.cache[key]


def cobb_figures(models: ModelSet, films: Sequence[Annotation], cascade: CachedCascade | None, organisers: dict | None) -> dict:
    """Cobb angles as a user gets them (the pipeline's own measurements of every film, whatever it found):
    the clinical major curve against the same method on the true corners, and ``aasce_cobb_deg`` against the
    organisers' angles (or the protocol on the true corners). Oracle: the true boxes, corners predicted."""
    from keypoints.training.evaluate import reference_angles

    clinical, aasce_pred, aasce_true, per_film = [], [], [], {}
    for ann in films:
        truth = measure_spine(ann.spine)[0].get("cobb") or []
        if not truth or not all(v.corners is not None for v in ann.spine.vertebrae):
            continue
        pixels = read_radiograph(ann.image).pixels
        spine = cascade(pixels) if cascade else Spine(tuple(v.with_(corners=None, mask=None) for v in ann.spine.vertebrae))
        measured = {}
        if len(spine) >= 2:
            boxes = [v.box for v in spine.vertebrae]
            corners = models.corners.corners(pixels, boxes)
            measured = measure_spine(spine.with_(vertebrae=tuple(v.with_(corners=c) for v, c in zip(spine.vertebrae, corners))),
                                     pixels.shape[0])[0]
        found = measured.get("cobb") or [{"angle_deg": 0.0}]
        clinical.append(abs(found[0]["angle_deg"] - truth[0]["angle_deg"]))
        per_film[ann.name] = {"major_curve_error_deg": clinical[-1]}
        reference = reference_angles(ann, pixels.shape[0], organisers)
        if reference is not None:
            aasce_pred.append(measured.get("aasce_cobb_deg") or [0.0, 0.0, 0.0])
            aasce_true.append(reference)
            per_film[ann.name]["aasce_smape"] = float(smape_per_film(aasce_pred[-1], reference)[0])
    out = {"films": len(clinical), "major_curve_mae_deg": float(np.mean(clinical)) if clinical else None,
           "major_curve_median_deg": float(np.median(clinical)) if clinical else None, "per_film": per_film}
    if aasce_pred:
        out["aasce"] = {"films": len(aasce_pred), "smape": smape(aasce_pred, aasce_true), "mae_deg": cmae(aasce_pred, aasce_true)}
    return out


def evaluate(models: ModelSet, films: Sequence[Annotation], organisers: dict | None = None) -> dict:
    from detector.training.evaluate import evaluate_detector
    from keypoints.training.evaluate import evaluate_keypoints, landmark_figures
    from segmenter.training.evaluate import evaluate_segmenter

    cascade = CachedCascade(models)
    has_corners = any(v.corners is not None for a in films for v in a.spine.vertebrae)
    report = {"films": len(films), "models": str(models.folder),
              "detection": evaluate_detector(models.detector, films, models.options.priors_ap, models.levels)}
    if all(v.level is not None for a in films for v in a.spine.vertebrae):
        from detector.levels.training.evaluate import evaluate_naming

        report["naming"] = evaluate_naming(models.finder, films)
    if has_corners:
        report["segmentation"] = {"oracle": evaluate_segmenter(models.segmenter, films),
                                  "cascade": evaluate_segmenter(models.segmenter, films, cascade)}
        report["corners"] = {"oracle": evaluate_keypoints(models.corners, films, None, organisers),
                             "cascade": evaluate_keypoints(models.corners, films, cascade, organisers)}
        report["landmarks_704"] = landmark_figures(models.corners, films, cascade)
        report["cobb_measured"] = {"oracle": cobb_figures(models, films, None, organisers),
                                   "cascade": cobb_figures(models, films, cascade, organisers)}
    return report


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def markdown(report: dict) -> str:
    d = report["detection"]
    lines = [f"# Evaluation: {report['films']} films, models {report['models']}", "",
             "| stage | input | figure | value |", "|---|---|---|---|",
             f"| detector | film | AP50 / AP50-95 | {_fmt(d.get('AP50'))} / {_fmt(d.get('AP50-95'))} |"]
    for when in ("before_priors", "after_priors", "after_levels"):
        if when not in d:
            continue
        s = d[when]
        name = when.replace("_", " ")
        lines.append(f"| detector | {name} | recall / precision @0.5 | {_fmt(s.get('recall@0.5'))} / {_fmt(s.get('precision@0.5'))} |")
        lines.append(f"| detector | {when.replace('_', ' ')} | films with all levels right | {_fmt(s.get('films_all_levels_correct'))} |")
    naming = report.get("naming")
    if naming and naming.get("films_named"):
        lines.append(
            f"| naming | cascade | films all right / levels right / paired vertebrae named right | "
            f"{_fmt(naming['films_all_levels_correct'])} / {_fmt(naming['levels_correct'])} / {_fmt(naming['vertebrae_named_right'])} |"
        )
        if "films_all_named_right" in naming:
            lines.append(f"| naming | cascade | films with every level paired and named right (names alone) | "
                         f"{_fmt(naming['films_all_named_right'])} |")
        lines.append(
            "| naming | cascade | films by shift of the chain (-2, -1, 0, +1, +2) | "
            + ", ".join(str(naming["shift_histogram"][k]) for k in ("-2", "-1", "0", "1", "2"))
            + " |"
        )
        if "neither" in naming:
            tiers = ", ".join(f"{naming[t]['films']} ({naming[t]['misnamed']})" for t in ("flagged", "disputed", "neither"))
            lines.append(f"| naming | cascade | films flagged uncertain / disputed by the count / neither (of them misnamed) | {tiers} |")
    for key, figures in (report.get("landmarks_704") or {}).items():
        lines.append(f"| corners, 704-px frame, paired {key.replace('_', ' ')} | cascade | OR20 / OR40, NMSE, corners missing | "
                     f"{_fmt(figures['or20'])} / {_fmt(figures['or40'])}, {_fmt(figures['nmse'], 6)}, {figures['missing']} |")
    for mode in ("oracle", "cascade"):
        seg = report.get("segmentation", {}).get(mode)
        if seg:
            lines.append(
                f"| segmenter | {mode} boxes | Dice / IoU mean (vertebrae scored) | {_fmt(seg.get('dice_mean'))} / "
                f"{_fmt(seg.get('iou_mean'))} ({seg.get('vertebrae')} of {seg.get('vertebrae_total')}) |"
            )
        kp = report.get("corners", {}).get(mode)
        if kp:
            c = kp["corners"]
            figures = f"{_fmt(c['mean_px'], 1)} / {_fmt(c['median_px'], 1)}, {_fmt(c['or20'])}, {_fmt(c['or40'])}"
            lines.append(f"| corners | {mode} | mean / median px, OR20, OR40 | {figures} |")
            es = kp.get("error_structure") or {}
            if es.get("films"):
                o, r = es["film_offset_rms_px"], es["roughness_px_xy"]
                lines.append(
                    f"| corners ({es['films']} films with all found) | {mode} | mean px as is / without each film's offsets; "
                    f"offsets rms widening / heightening / shift x, y; roughness x, y truth / predicted | "
                    f"{_fmt(es['mean_px'], 1)} / {_fmt(es['mean_px_without_film_offsets'], 1)}; {_fmt(o['widening'], 1)} / "
                    f"{_fmt(o['heightening'], 1)} / {_fmt(o['shift_x'], 1)}, {_fmt(o['shift_y'], 1)}; "
                    f"{_fmt(r['truth'][0], 1)}, {_fmt(r['truth'][1], 1)} / {_fmt(r['predicted'][0], 1)}, {_fmt(r['predicted'][1], 1)} |"
                )
            if "cobb_aasce" in kp:
                lines.append(
                    f"| Cobb (AASCE, corners of the {kp['cobb_aasce']['films']} films with all 17 paired) | {mode} | "
                    f"SMAPE % / MAE deg | {_fmt(kp['cobb_aasce']['smape'], 2)} / {_fmt(kp['cobb_aasce']['mae_deg'], 2)} |"
                )
        cl = report.get("cobb_measured", {}).get(mode)
        if cl:
            lines.append(
                f"| Cobb (clinical, as measured) | {mode} | major curve MAE / median deg | "
                f"{_fmt(cl['major_curve_mae_deg'], 2)} / {_fmt(cl['major_curve_median_deg'], 2)} |"
            )
            if cl.get("aasce"):
                lines.append(
                    f"| Cobb (AASCE, as measured, all {cl['aasce']['films']} films) | {mode} | SMAPE % / MAE deg | "
                    f"{_fmt(cl['aasce']['smape'], 2)} / {_fmt(cl['aasce']['mae_deg'], 2)} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    from spine.research.datasets.aasce import load_angles

    parser = argparse.ArgumentParser(prog="python -m pipeline.evaluate", description="Evaluate the pipeline on an annotated set.")
    parser.add_argument("--data", required=True, help="dataset folder (AASCE: the boostnet_labeldata folder)")
    parser.add_argument(
        "--format", required=True, choices=["aasce", "yolo", "seed", "phantom", "challenge"], help="annotation format of --data"
    )
    parser.add_argument("--models", help="model set folder (default: the shipped model)")
    parser.add_argument(
        "--split", default="val", choices=["val", "train", "all"], help="AASCE: which side of the saved patient split (default val)"
    )
    parser.add_argument("--reference", help="challenge format: the Roboflow export holding the challenge films' boxes")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--out", required=True, help="report path; REPORT.json and REPORT.md are written")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        print(f"error: --data {args.data}: no such folder", file=sys.stderr)
        return 2
    if args.format == "challenge" and not args.reference:
        parser.error("--format challenge needs --reference: the Roboflow export with the challenge boxes")
    films = load_films(args.data, args.format, args.split, args.reference)
    if not films:
        print(f"error: --data {args.data}: no annotated film of format {args.format} found there", file=sys.stderr)
        return 2
    organisers = load_angles(args.data) if args.format == "aasce" else None
    from pipeline.core import UsageError, check_device, load_models

    try:
        models = load_models(args.models, check_device(args.device))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = evaluate(models, films, organisers)
    report.update({"data": args.data, "format": args.format, "split": args.split})
    out = Path(args.out)
    base = out.with_suffix("") if out.suffix in (".json", ".md") else out
    atomic_write_json(base.with_suffix(".json"), report)
    atomic_write_text(base.with_suffix(".md"), markdown(report))
    print(markdown(report))
    print(json.dumps({k: v for k, v in report.items() if k in ("films", "data")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
