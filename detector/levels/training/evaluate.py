"""Naming figures of a spine finder (detector, priors and, when it has one, the level identifier) on annotated films.

    python -m detector.levels.training.evaluate [--models LEVELS_DIR | --count-only] [--detector DIR] [--levelmap DIR|none]
                                       [--on val|calibration|challenge|phantoms] [--phantoms N]
                                       [--decode KEY=VALUE ...] [--out REPORT.json]

Per film, the found vertebrae are paired with the true ones by overlap (IoU >= 0.3), so naming is scored apart
from detection. Figures: films with every expected level found and named right (IoU >= 0.5, as the detector's
figures count them), films with every expected level paired and named right (names alone, whatever the box's
overlap above 0.3), expected levels right, paired vertebrae named right, the *shift* histogram (per film, the
most common offset found-minus-true level among paired vertebrae: -1 means the whole chain was named one level too
high, e.g. the true T1 named C7) and, for the identifier, how often a film flagged uncertain is wrong (either
figure) against an unflagged one (the calibration of the warning); the unflagged films are split again into those
whose names the chain's count disputes (a second, weaker warning) and those with neither warning.

``--on calibration``: the training films whose patients the identifier held out to pick its epoch and fit its
temperature (real films it never fitted): the place to choose decode settings, which ``--decode`` changes (the
lattice's costs, :class:`detector.levels.decode.DecodeConfig`) without training again.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import fields, replace
from pathlib import Path
from typing import Sequence

from detector.levels.chain import spine_boxes
from detector.levels.decode import DecodeConfig, shift_between
from detector.levels.training.data import film_age_sex
from detector.training.evaluate import naming_correct, reference_spine
from spine.geometry import Spine
from spine.radiograph import read_radiograph
from spine.research.datasets.annotation import Annotation
from spine.research.metrics import pair_by_overlap
from spine.research.report import emit
from spine.result import levels_disputed, levels_uncertain


def film_row(found: Spine, truth: Spine, expected: Sequence[str], warnings: Sequence[str]) -> dict:
    """One film's naming: levels right, all right, paired vertebrae and how many named right, the shift, flagged."""
    pairs = pair_by_overlap(spine_boxes(truth), spine_boxes(found), 0.3)
    true_names = tuple(truth.vertebrae[t].level for t in pairs)
    found_names = tuple(found.vertebrae[f].level for f in pairs.values())
    named = naming_correct(found, truth, expected)
    right = {a for a, b in zip(true_names, found_names) if a and a == b}
    return {"levels_right": None if named is None else named[0], "all_right": None if named is None else named[1],
            "paired": len(pairs), "paired_right": sum(a == b for a, b in zip(true_names, found_names) if a),
            "all_named_right": None if named is None else all(name in right for name in expected),
            "shift": shift_between(true_names, found_names),
            "flagged": levels_uncertain(warnings), "disputed": levels_disputed(warnings)}


def summarise(rows: list[dict], expected: Sequence[str]) -> dict:
    named = [r for r in rows if r["all_right"] is not None]
    if not named:
        return {"films": len(rows), "films_named": 0}
    shifts = Counter("none" if r["shift"] is None else str(max(-3, min(3, r["shift"]))) for r in named)
    flagged = [r for r in named if r["flagged"]]
    unflagged = [r for r in named if not r["flagged"]]
    disputed = [r for r in unflagged if r["disputed"]]
    neither = [r for r in unflagged if not r["disputed"]]
    return {
        "films": len(rows), "films_named": len(named),
        "films_all_levels_correct": sum(r["all_right"] for r in named) / len(named),
        "levels_correct": sum(r["levels_right"] for r in named) / (len(named) * len(expected)),
        "vertebrae_named_right": sum(r["paired_right"] for r in named) / max(1, sum(r["paired"] for r in named)),
        "shift_histogram": {k: shifts.get(k, 0) for k in ("-3", "-2", "-1", "0", "1", "2", "3", "none")},
        "films_all_named_right": sum(r["all_named_right"] for r in named) / len(named),
        "flagged": _tier(flagged),
        "unflagged": _tier(unflagged),
        "disputed": _tier(disputed),
        "neither": _tier(neither),
    }


def _tier(rows: list[dict]) -> dict:
    """How many films a warning tier holds, and how many of them are wrong (IoU 0.5) or misnamed (names alone)."""
    return {"films": len(rows), "wrong": sum(not r["all_right"] for r in rows),
            "misnamed": sum(not r["all_named_right"] for r in rows)}


def evaluate_naming(finder, films: Sequence[Annotation]) -> dict:
    """Figures of ``finder`` (a detector.chain.ChainFinder) on ``films``; the expected levels are the view's."""
    rows, names = [], []
    expected = finder.priors("AP").expected_levels
    for ann in films:
        view = "LAT" if ann.spine.view == "LAT" else "AP"
        expected = finder.priors(view).expected_levels
        age, sex = film_age_sex(ann)  # given to an identifier trained with them (phantoms hold them)
        found, warnings = finder.find(read_radiograph(ann.image).pixels, view, age=age, sex=sex)
        rows.append(film_row(found, reference_spine(ann, expected), expected, warnings))
        names.append(ann.name)
    return {**summarise(rows, expected), "per_film": dict(zip(names, rows))}


def phantom_figures(finder, count: int = 40, phantom_dir: str = "cache/phantoms") -> dict:
    """Naming figures on ``count`` held-out phantoms (seeds 300000+, half AP, half lateral), per view."""
    from spine.research.datasets.sources import DataConfig, phantom_annotations

    films = phantom_annotations(DataConfig(phantoms=count, phantom_dir=phantom_dir), seed_offset=300_000)
    return {view.lower(): evaluate_naming(finder, [f for f in films if f.spine.view == view]) for view in ("AP", "LAT")}


def decode_settings(base: DecodeConfig, settings: Sequence[str]) -> DecodeConfig:
    """``base`` with KEY=VALUE settings of its fields (the fitted temperature is the network's: not settable)."""
    types = {f.name: f.type for f in fields(DecodeConfig) if f.name != "temperature"}
    changes = {}
    for item in settings:
        key, _, value = item.partition("=")
        try:
            if key not in types:
                raise ValueError(key)
            changes[key] = int(value) if types[key] in (int, "int") else float(value)
        except ValueError:
            raise SystemExit(f"--decode {item!r}: expected KEY=VALUE (a number), KEY one of {', '.join(types)}") from None
    return replace(base, **changes)


def calibration_films(train_films: Sequence[Annotation], levels_folder: str | Path) -> list[Annotation]:
    """The training films of the patients the identifier in ``levels_folder`` held out for calibration."""
    from detector.levels.training.config import LevelsConfig, held_out
    from spine import config as configlib

    fraction = configlib.load(LevelsConfig, Path(levels_folder) / "config.yaml").calibration_fraction
    return [film for film in train_films if held_out(film.patient, fraction)]


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    from detector.chain import chain_finder
    from spine.paths import DEFAULT_MODELS
    from spine.research.datasets.sources import DataConfig, challenge_annotations, crop_stage_sets

    parser = argparse.ArgumentParser(prog="python -m detector.levels.training.evaluate", description="Level naming figures.")
    parser.add_argument("--models", default=str(DEFAULT_MODELS / "levels"), help="level identifier model folder")
    parser.add_argument("--count-only", action="store_true", help="no identifier: the priors name the chain by its count")
    parser.add_argument("--detector", default=str(DEFAULT_MODELS / "detector"), help="detector model folder")
    parser.add_argument("--levelmap", help="a level map model folder whose whole-film evidence the identifier adds "
                                           "(default: the shipped set's, when it has one; 'none': without)")
    parser.add_argument("--on", default="val", choices=["val", "calibration", "challenge", "phantoms"],
                        help="AASCE validation films (patient split), the training films the identifier held out "
                             "(calibration), the full-length challenge films, or held-out phantoms")
    parser.add_argument("--phantoms", type=int, default=40,
                        help="with --on phantoms: how many held-out phantoms (seeds 300000+, views in turn, every fourth "
                             "of each view full-length; default 40)")
    parser.add_argument("--decode", nargs="+", default=[], metavar="KEY=VALUE",
                        help="the identifier's decode settings changed, e.g. missing_cost=8 none_cost=2")
    parser.add_argument("--out", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    data = DataConfig()
    finder = chain_finder(args.detector, levels=None if args.count_only else args.models)
    levelmap = args.levelmap or (str(DEFAULT_MODELS / "levelmap") if (DEFAULT_MODELS / "levelmap").is_dir() else "none")
    if finder.levels is not None and levelmap != "none":
        from detector.levelmap.predict import LevelMap

        finder.levels.film = LevelMap.load(levelmap)
    figures = {"on": args.on, "identifier": None if args.count_only else args.models,
               "levelmap": None if finder.levels is None or levelmap == "none" else levelmap}
    if args.decode and finder.levels is not None:
        finder.levels = finder.levels.with_settings(decode_settings(finder.levels.decode_cfg, args.decode))
        figures["decode"] = list(args.decode)
    if args.on == "phantoms":
        figures.update(phantom_figures(finder, count=args.phantoms))
    else:
        films = {"val": lambda: crop_stage_sets(data)[1], "challenge": lambda: challenge_annotations(data),
                 "calibration": lambda: calibration_films(crop_stage_sets(data)[0], args.models)}[args.on]()
        figures.update(evaluate_naming(finder, films))
    return emit(figures, args.out)


if __name__ == "__main__":
    sys.exit(main())
