"""Patient-grouped k-fold cross-validation of the chain's naming with the level map.

    python -m detector.levelmap.training.crossval train [--config configs/levelmap.yaml] [--set KEY=VALUE ...]
    python -m detector.levelmap.training.crossval evaluate [--models models/default] [--out docs/cv/levels.json]

``train`` trains one level map per fold of ``folds_file`` (on the other folds' films; each resumes from its
checkpoint) into ``<output>/levelmap_fold<k>``. ``evaluate`` runs the model set's detector, priors and level
identifier on every AASCE film and, for each film, the level map of the fold that held it out; then it names every
film under each decode setting of :data:`SETTINGS` (off; the map's anchors or all levels at several weights; with
and without candidates at the painted ends) and reports, per setting, each fold's figures and their mean and sd.
The setting with the best mean share of films whose every level is named right (:func:`choose`: among those that
beat 'off' in more folds than they lose to it) is the shipped one (``configs/levelmap.yaml``).

The detector and the identifier of a model set trained on the saved split's training side; its validation
patients (``val_split``) are unseen by every stage, so the figures are given on all films and on those alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from detector.levelmap.config import EvidenceConfig
from detector.levelmap.frame import decode_evidence, member_evidence
from detector.levelmap.training.config import LevelMapConfig
from detector.levels.chain import extend_chain, spine_boxes
from detector.levels.predict import name_chain, with_ends
from detector.levels.training.data import film_age_sex
from detector.levels.training.evaluate import film_row, summarise
from detector.priors import apply_priors, snap_inferred
from detector.training.evaluate import reference_spine

SETTINGS: dict[str, EvidenceConfig | None] = {"off": None}
for _use in ("anchors", "all"):
    for _weight in (0.5, 1.0, 2.0, 4.0):
        for _propose in (False, True):
            SETTINGS[f"{_use} w{_weight:g}{' +ends' if _propose else ''}"] = EvidenceConfig(_use, _weight, _propose, True)
CHOICE = "films_all_named_right"  # naming is judged by names; the IoU-0.5 figure also counts the detector's boxes
KEYS = ("films_all_levels_correct", "films_all_named_right", "levels_correct", "l5_missed", "t1_missed", "shift_plus1",
        "shift_minus1", "right_warned", "wrong_unwarned", "right_warned_any", "wrong_unwarned_any", "right_warned_map",
        "wrong_unwarned_map")


def fold_config(cfg: LevelMapConfig, k: int) -> LevelMapConfig:
    return replace(cfg, fold=k, name=f"levelmap_fold{k}")


def train_folds(cfg: LevelMapConfig) -> list[Path]:
    from detector.levelmap.training.train import train

    out = []
    for k in range(cfg.folds):
        folder = Path(cfg.output) / f"levelmap_fold{k}" / "model"
        out.append(folder if (folder / "meta.json").exists() else train(fold_config(cfg, k)).folder)
    return out


@dataclass
class FilmCase:
    """What every setting needs of one film: the chain, its raw detections, and per candidate set (plain, with the
    painted ends) the extended chain, its flags, the identifier's log-probabilities and the map's evidence."""

    name: str
    fold: int
    unseen: bool
    truth: object
    detections: list
    expected: tuple
    height: int
    variants: dict


def film_case(ann, finder, identifier, levelmap, fold: int, unseen: bool) -> FilmCase | None:
    from spine.radiograph import read_radiograph

    pixels = read_radiograph(ann.image).pixels
    priors = finder.priors("AP")
    detections = finder.detector.detect(pixels, priors)
    chain, _ = apply_priors(detections, priors, "AP", None, False, pixels.shape[1])
    truth = reference_spine(ann, priors.expected_levels)
    if not len(chain):
        return FilmCase(ann.name, fold, unseen, truth, detections, priors.expected_levels, pixels.shape[0], {})
    age, sex = film_age_sex(ann)
    plain = extend_chain(chain, pixels.shape[0], identifier.crop.extend)
    detected = spine_boxes(chain)
    levels = levelmap.read(pixels, detected)
    variants = {}
    for key, (spine, flags) in {"plain": plain, "ends": with_ends(*plain, levelmap.ends(levels, detected), levels.pitch)}.items():
        logp = identifier.log_probs(pixels, spine, flags, age, sex)
        variants[key] = (spine, flags, logp, member_evidence(levels.probs, levels.crop, spine_boxes(spine)))
    return FilmCase(ann.name, fold, unseen, truth, detections, priors.expected_levels, pixels.shape[0], variants)


def end_found(found, truth, level: str) -> tuple[bool, bool]:
    """(a found vertebra lies at the true ``level``'s place, within half its height; it is named ``level``)."""
    true = truth.by_level().get(level)
    if true is None:
        return True, True
    near = [v for v in found.vertebrae if np.hypot(*np.subtract(v.box.center, true.box.center)) < true.box.height / 2]
    return bool(near), any(v.level == level for v in near)


def name_case(case: FilmCase, setting: EvidenceConfig | None, decode_cfg, snap_iou: float) -> dict:
    from spine.geometry import Spine

    if not case.variants:
        found, warnings = Spine((), view="AP"), []
    else:
        spine, flags, logp, log_map = case.variants["ends" if setting is not None and setting.propose else "plain"]
        evidence = None if setting is None else setting.weight * decode_evidence(log_map, setting.use)
        warns = setting is not None and setting.warn
        found, warnings, _ = name_chain(spine, flags, logp, decode_cfg, case.expected, case.height, evidence, warns)
        found = snap_inferred(found, case.detections, snap_iou)
    row = film_row(found, case.truth, case.expected, warnings)
    row["map_disputed"] = any("whole-film level map" in w for w in warnings)
    for level in ("L5", "T1"):
        placed, named = end_found(found, case.truth, level)
        row[f"{level.lower()}_missed"] = not placed
        row[f"{level.lower()}_named"] = named
    return row


def figures(rows: list[dict], expected) -> dict:
    s = summarise(rows, expected)
    if not s.get("films_named"):
        return {"films": len(rows)}
    n = len(rows)
    right, wrong = [r for r in rows if r["all_named_right"]], [r for r in rows if not r["all_named_right"]]
    either = [r["flagged"] or r["disputed"] for r in rows]
    by_map = [r["flagged"] or r["map_disputed"] for r in rows]
    return {"films": n, **{k: s[k] for k in ("films_all_levels_correct", "films_all_named_right", "levels_correct")},
            "l5_missed": sum(r["l5_missed"] for r in rows) / n, "t1_missed": sum(r["t1_missed"] for r in rows) / n,
            "shift_plus1": s["shift_histogram"]["1"] / n, "shift_minus1": s["shift_histogram"]["-1"] / n,
            "right_warned": sum(r["flagged"] for r in right) / max(1, len(right)),
            "wrong_unwarned": sum(not r["flagged"] for r in wrong) / max(1, len(wrong)),
            "right_warned_any": sum(e for e, r in zip(either, rows) if r["all_named_right"]) / max(1, len(right)),
            "wrong_unwarned_any": sum(not e for e, r in zip(either, rows) if not r["all_named_right"]) / max(1, len(wrong)),
            "right_warned_map": sum(e for e, r in zip(by_map, rows) if r["all_named_right"]) / max(1, len(right)),
            "wrong_unwarned_map": sum(not e for e, r in zip(by_map, rows) if not r["all_named_right"]) / max(1, len(wrong))}


def across_folds(per_fold: list[dict]) -> dict:
    return {k: {"mean": float(np.mean([f[k] for f in per_fold])),
                "sd": float(np.std([f[k] for f in per_fold], ddof=1)) if len(per_fold) > 1 else None}
            for k in KEYS if all(k in f for f in per_fold)}


def evaluate(models: Path, cfg: LevelMapConfig, settings: dict | None = None,
             margins: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0), only: tuple[int, ...] | None = None) -> dict:
    """Figures per setting (default :data:`SETTINGS`) across the folds, the best setting's name, and for it the
    warning's figures at several ``uncertain_margin`` values. ``only``: the films of these folds alone (a look
    while the other folds train; nothing is chosen on it)."""
    from tqdm import tqdm

    from detector.chain import chain_finder
    from detector.levelmap.predict import LevelMap
    from spine.research.datasets.sources import aasce_annotations, aasce_split
    from spine.research.datasets.splits import load_or_make_folds

    finder = chain_finder(models / "detector", levels=models / "levels")
    identifier = finder.levels
    annotations = aasce_annotations(cfg.data)
    folds = load_or_make_folds(cfg.data.repo_path(cfg.folds_file), annotations, cfg.folds, linked=cfg.data.linked_patients())
    unseen = aasce_split(cfg.data).val_patients
    chosen = tuple(range(cfg.folds)) if only is None else tuple(only)
    maps = {k: LevelMap.load(Path(cfg.output) / f"levelmap_fold{k}" / "model") for k in chosen}
    cache = cases_path(cfg, models, chosen)
    if cache.exists():
        with open(cache, "rb") as handle:  # written by this command itself
            cases = pickle.load(handle)
    else:
        cases = []
        for ann in tqdm(annotations, desc="films", unit="film"):
            k = next(i for i, fold in enumerate(folds) if ann.patient in fold)
            if k in maps:
                cases.append(film_case(ann, finder, identifier, maps[k], k, ann.patient in unseen))
        cache.parent.mkdir(parents=True, exist_ok=True)
        with open(cache.with_suffix(".tmp"), "wb") as handle:
            pickle.dump(cases, handle)
        cache.with_suffix(".tmp").replace(cache)
    expected, snap = finder.priors("AP").expected_levels, finder.priors("AP").snap_iou
    report = {"films": len(cases), "unseen_films": sum(c.unseen for c in cases), "folds": cfg.folds,
              "models": str(models), "fold_models": cfg.output, "settings": {}}
    settings = SETTINGS if settings is None else settings
    for name, setting in settings.items():
        rows = [name_case(c, setting, identifier.decode_cfg, snap) for c in cases]
        report["settings"][name] = summary(cases, rows, expected, chosen)
    best = choose(report["settings"])
    report["chosen"] = best
    report["warning_margins"] = {}
    for margin in margins:
        decode_cfg = replace(identifier.decode_cfg, uncertain_margin=margin)
        rows = [name_case(c, settings[best], decode_cfg, snap) for c in cases]
        report["warning_margins"][f"{margin:g}"] = summary(cases, rows, expected, chosen)["across_folds"]
    return report


def choose(settings: dict, key: str = CHOICE) -> str:
    """The setting with the best mean ``key`` across folds among 'off' and those that beat 'off' in more folds than
    they lose to it; each setting gets its count of folds better / worse than 'off'."""
    if "off" not in settings:
        return max(settings, key=lambda n: settings[n]["across_folds"][key]["mean"])
    base = [f[key] for f in settings["off"]["per_fold"]]
    for s in settings.values():
        own = [f[key] for f in s["per_fold"]]
        s["folds_better_worse_than_off"] = [sum(a > b for a, b in zip(own, base)), sum(a < b for a, b in zip(own, base))]
    steady = [n for n, s in settings.items() if n == "off" or s["folds_better_worse_than_off"][0] > s["folds_better_worse_than_off"][1]]
    return max(steady, key=lambda n: settings[n]["across_folds"][key]["mean"])


def cases_path(cfg: LevelMapConfig, models: Path, folds: tuple[int, ...]) -> Path:
    """Where the films' cases are kept: keyed by the model set's files and the fold maps' weights."""
    from spine.modelfolder import folder_digest

    key = [folder_digest(models / "detector"), folder_digest(models / "levels"), list(folds)]
    key += [folder_digest(Path(cfg.output) / f"levelmap_fold{k}" / "model") for k in folds]
    digest = hashlib.sha1(json.dumps(key).encode()).hexdigest()[:16]
    return cfg.data.repo_path(cfg.cache) / f"cv_cases_{digest}.pkl"


def summary(cases: list[FilmCase], rows: list[dict], expected, folds: tuple[int, ...]) -> dict:
    per_fold = [figures([r for c, r in zip(cases, rows) if c.fold == f], expected) for f in folds]
    return {"across_folds": across_folds(per_fold), "per_fold": per_fold,
            "unseen_pooled": figures([r for c, r in zip(cases, rows) if c.unseen], expected)}


def main(argv: list[str] | None = None) -> int:
    from spine import config as configlib
    from spine.files import atomic_write_json
    from spine.offline import configure
    from spine.paths import DEFAULT_MODELS

    configure()
    parser = argparse.ArgumentParser(prog="python -m detector.levelmap.training.crossval", description=__doc__.strip().splitlines()[0])
    parser.add_argument("command", choices=["train", "evaluate"])
    parser.add_argument("--config", default="configs/levelmap.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a level map config key, e.g. train.epochs=8")
    parser.add_argument("--models", default=str(DEFAULT_MODELS), help="the model set whose detector and identifier name the chains")
    parser.add_argument("--out", help="write the report to this JSON file")
    parser.add_argument("--folds", type=int, nargs="+", help="evaluate the films of these folds only (a look, not a choice)")
    args = parser.parse_args(argv)
    cfg = configlib.load(LevelMapConfig, args.config, ["output=runs/cv"] + args.set)
    if args.command == "train":
        for folder in train_folds(cfg):
            print(f"fold model: {folder}")
        return 0
    report = evaluate(Path(args.models), cfg, only=tuple(args.folds) if args.folds else None)
    table = {name: {k: f"{v['mean']:.3f} ± {v['sd'] or 0:.3f}" for k, v in s["across_folds"].items()}
             for name, s in report["settings"].items()}
    print(json.dumps({"chosen": report["chosen"], "across_folds": table}, indent=1))
    if args.out:
        atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
