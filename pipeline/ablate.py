"""Per-stage ablation runs from small override files, and one table of their figures.

    python -m pipeline.ablate configs/ablations/segmenter__no_deep_supervision.yaml [--set key=value ...]
    python -m pipeline.ablate --collect [--runs runs/ablations]

An override file names its stage and holds only what it changes::

    stage: segmenter
    description: deep supervision off
    overrides: {model: {deep_supervision: false}}
    evaluate_only: runs/segmenter/model   # optional: no training, re-evaluate that model (its own settings) with the overrides
                                          # (a levels arm: 'count' scores the priors' count naming; a
                                          # levelmap arm: 'crossval' names the folds with the fold maps)
    films: challenge                      # optional, a detector arm without training: scored on the full-length
                                          # challenge films instead of the validation films

The run folder is ``runs/ablations/<file stem>``; its figures land in
``figures.json`` there, and ``--collect`` gathers all of them into
``runs/ablations/results.md``. Segmenter and keypoint arms are also scored on the
boxes of a fixed detector (``--detector``, the shipped one by default): crop
settings and inputs matter most where the box is imperfect. ``--rescore``
adds those figures to finished arms (models found from the arm's record, its
``model`` folder or its override file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.ablate_table import collect
from pipeline.stages import BY_NAME
from spine import config as configlib
from spine.files import atomic_write_json
from spine.paths import DEFAULT_MODELS, REPO_ROOT

DEFAULT_DETECTOR = DEFAULT_MODELS / "detector"

def stage_config_class(stage: str) -> type:
    return BY_NAME[stage].config_class()


def stage_config(stage: str, overrides: dict, sets: list[str], base: Path | None = None):
    """The stage's config: ``base`` (a model folder's config.yaml; default the stage's YAML) with the overrides."""
    return configlib.load(stage_config_class(stage), base or REPO_ROOT / BY_NAME[stage].yaml, sets, overrides)


def _evaluate_only(stage: str, cfg, folder: str, films: str = "validation") -> dict:
    """Re-evaluate an existing model with the overridden settings (no training): priors, corner method."""
    from spine.research.datasets.sources import challenge_annotations

    if stage == "detector":
        from detector.predict import Detector
        from detector.training.data import detector_sets
        from detector.training.evaluate import evaluate_detector

        scored = challenge_annotations(cfg.data) if films == "challenge" else detector_sets(cfg)[1]
        return evaluate_detector(Detector.load(folder).with_predict(cfg.predict), scored, cfg.priors, _sibling_levels(folder))
    if stage == "keypoints":  # the same head with other inference settings (flip, runtime)
        from keypoints.predict import CornerModel

        return _keypoint_figures(cfg, CornerModel.load(folder).with_predict(cfg.predict))
    if stage == "segmenter":
        return _segmenter_figures(cfg, folder)
    if stage == "levels":
        return _naming_figures(cfg, None if folder == "count" else folder)
    if stage == "levelmap":  # 'crossval': the fold maps of cfg.output named with the shipped set's chains
        from detector.levelmap.training.crossval import evaluate

        setting = None if cfg.evidence.weight == 0 else cfg.evidence
        return evaluate(Path(folder if folder != "crossval" else DEFAULT_MODELS), cfg, {cfg.name: setting})
    raise ValueError(f"evaluate_only is not supported for stage {stage}")


def _sibling_levels(folder: str | Path):
    """The level identifier of the model set a detector folder belongs to (its sibling ``levels``), or None."""
    levels = Path(folder).parent / "levels"
    if _stage_of(levels) != "levels":
        return None
    from detector.levels.predict import LevelIdentifier

    return LevelIdentifier.load(levels)


def _stage_of(folder: str | Path) -> str | None:
    from spine.modelfolder import read_meta

    return read_meta(folder).get("stage") if (Path(folder) / "meta.json").exists() else None


def _segmenter_figures(cfg, folder: str | Path) -> dict:
    """A segmenter's Dice on the validation films (true boxes) with ``cfg``'s inference settings, and on phantoms."""
    from segmenter.predict import load_segmenter
    from segmenter.training.evaluate import evaluate_segmenter
    from spine.research.datasets.sources import crop_stage_sets

    films = crop_stage_sets(cfg.data, max_val=cfg.train.max_val_films)[1]
    return {**evaluate_segmenter(load_segmenter(folder).with_predict(cfg.predict), films), "phantoms": _phantom_figures(cfg, folder)}


def _naming_figures(cfg, folder: str | Path | None) -> dict:
    """Naming figures of the level identifier in ``folder`` (None: the priors' count naming) with ``cfg``'s decode
    settings, on the validation films, the full-length challenge films and held-out phantoms (seeds 300000+)."""
    from detector.chain import chain_finder
    from detector.levels.predict import LevelIdentifier
    from detector.levels.training.evaluate import evaluate_naming, phantom_figures
    from spine.research.datasets.sources import challenge_annotations, crop_stage_sets

    finder = chain_finder(cfg.data.repo_path(cfg.detector))
    if folder is not None:
        finder.levels = LevelIdentifier.load(folder).with_settings(cfg.decode, cfg.crop.extend)
    return {
        **evaluate_naming(finder, crop_stage_sets(cfg.data, max_val=cfg.train.max_val_films)[1]),
        "challenge": evaluate_naming(finder, challenge_annotations(cfg.data)),
        "phantoms": phantom_figures(finder, phantom_dir=cfg.data.phantom_dir),
    }


def _keypoint_figures(cfg, corners, find_spine=None) -> dict:
    """Keypoint figures of ``corners`` on the truth boxes or on ``find_spine``'s."""
    from keypoints.training.evaluate import evaluate_keypoints, organiser_angles
    from spine.research.datasets.sources import crop_stage_sets

    films = crop_stage_sets(cfg.data, max_val=cfg.train.max_val_films)[1]
    return evaluate_keypoints(corners, films, find_spine=find_spine, organisers=organiser_angles(cfg.data))


def _phantom_figures(cfg, folder: Path) -> dict:
    """Visible- and hidden-part Dice on held-out phantoms (seeds 200000+; a third as many as were trained on, 20 by
    default), the only films with amodal truth."""
    from segmenter.predict import load_segmenter
    from segmenter.training.evaluate import evaluate_segmenter
    from spine.research.datasets.sources import phantom_annotations

    films = phantom_annotations(cfg.data, count=max(2, cfg.data.phantoms // 3), seed_offset=200_000)
    return evaluate_segmenter(load_segmenter(folder).with_predict(cfg.predict), films)


CASCADE_STAGES = ("segmenter", "keypoints")


def _cascade_figures(stage: str, cfg, model: Path, detector: str | Path, finder=None) -> dict:
    """An arm's figures on the validation films fed the boxes ``detector`` and its priors find (``finder``, when
    already built from it): a segmenter's Dice, or the corners of a keypoint model."""
    from detector.chain import chain_finder

    finder = finder or chain_finder(detector)
    if stage == "segmenter":
        from segmenter.predict import load_segmenter
        from segmenter.training.evaluate import evaluate_segmenter
        from spine.research.datasets.sources import crop_stage_sets

        films = crop_stage_sets(cfg.data, max_val=cfg.train.max_val_films)[1]
        figures = evaluate_segmenter(load_segmenter(model).with_predict(cfg.predict), films, finder)
    else:
        from keypoints.predict import CornerModel

        figures = _keypoint_figures(cfg, CornerModel.load(model).with_predict(cfg.predict), finder)
    return {**figures, "detector": str(detector)}


def _arm_model(record: dict, run_dir: Path) -> Path | None:
    """The model folder of a finished arm, from its record or its run folder."""
    model = record.get("model") or (run_dir / "model" if (run_dir / "model" / "meta.json").exists() else None)
    return Path(model) if model else None


def rescore(runs: str | Path, detector: str | Path, arms: list[str] | None = None) -> list[str]:
    """Add figures on ``detector``'s boxes to every finished crop-stage arm (or those named) whose models can be
    found."""
    from detector.chain import chain_finder

    done, finder = [], None
    for path in sorted(Path(runs).glob("*/figures.json")):
        record = json.loads(path.read_text())
        if record["stage"] not in CASCADE_STAGES or (arms and record["ablation"] not in arms):
            continue
        model = _arm_model(record, path.parent)
        if model is None:
            continue
        cfg = configlib.load(stage_config_class(record["stage"]), model / "config.yaml")
        finder = finder or chain_finder(detector)  # the detector is loaded once for all arms
        record["figures"]["cascade"] = _cascade_figures(record["stage"], cfg, model, detector, finder)
        atomic_write_json(path, record)
        done.append(record["ablation"])
    return done


def run_ablation(path: str | Path, sets: list[str], runs: str | Path = "runs/ablations", detector: str | Path | None = None) -> dict:
    import importlib

    spec = configlib.read_yaml(path)
    unknown = set(spec) - {"stage", "description", "overrides", "evaluate_only", "films"}
    if unknown or spec.get("stage") not in BY_NAME or spec.get("films", "validation") not in ("validation", "challenge"):
        raise configlib.ConfigError(
            f"{path}: needs 'stage' (one of {', '.join(BY_NAME)}), 'description', 'overrides' and optionally "
            f"'evaluate_only' and 'films' (validation or challenge); unknown: {sorted(unknown)}"
        )
    stem = Path(path).stem
    run_sets = [f"name={stem}", f"output={runs}"] + list(sets)
    only = spec.get("evaluate_only")
    # an arm that re-evaluates a model starts from that model's own settings (its runtime, flip, ...)
    base = Path(only) / "config.yaml" if only and _stage_of(only) == spec["stage"] else None
    cfg = stage_config(spec["stage"], spec.get("overrides") or {}, run_sets, base)
    if spec.get("evaluate_only"):
        figures = _evaluate_only(spec["stage"], cfg, spec["evaluate_only"], spec.get("films", "validation"))
    else:
        result = importlib.import_module(BY_NAME[spec["stage"]].train).train(cfg)
        figures = _naming_figures(cfg, result.folder) if spec["stage"] == "levels" else result.metrics
        if spec["stage"] == "segmenter":
            figures["phantoms"] = _phantom_figures(cfg, result.folder)
    model = (Path(only) if only and _stage_of(only) == spec["stage"] else None) if only else result.folder
    if model is not None and detector and spec["stage"] in CASCADE_STAGES and (Path(detector) / "meta.json").exists():
        figures["cascade"] = _cascade_figures(spec["stage"], cfg, model, detector)
    record = {
        "ablation": stem,
        "stage": spec["stage"],
        "description": spec.get("description", ""),
        "figures": figures,
        "model": str(model) if model else None,
    }
    atomic_write_json(Path(runs) / stem / "figures.json", record)
    return record


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.ablate", description="Run one ablation override file, or collect all results."
    )
    parser.add_argument("override", nargs="?", help="configs/ablations/<stage>__<name>.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra stage key override (repeatable)")
    parser.add_argument("--runs", default="runs/ablations", help="folder of ablation runs (default runs/ablations)")
    parser.add_argument("--collect", action="store_true", help="print and write the table of all finished ablations")
    parser.add_argument(
        "--detector", default=str(DEFAULT_DETECTOR), help="detector model folder whose boxes segmenter arms are also scored on"
    )
    parser.add_argument(
        "--rescore", nargs="*", metavar="ARM", help="score finished segmenter and keypoint arms (all, or those named) on --detector's boxes"
    )
    args = parser.parse_args(argv)
    if args.rescore is not None:
        print("rescored:", ", ".join(rescore(args.runs, args.detector, args.rescore)) or "none")
    if args.override:
        record = run_ablation(args.override, args.set, args.runs, args.detector)
        print(json.dumps(record, indent=2))
    if args.collect or not (args.override or args.rescore is not None):
        print(collect(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
