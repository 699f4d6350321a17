"""Write int8 twins of a model set's crop networks into their model folders and switch those stages to them.

    python -m pipeline.quantize [--models DIR] [--stages segmenter keypoints] [--films 16] [--check 8]
                                [--data DIR --format aasce|phantom]

The model set runs on ``--films`` of the films its segmenter trained on (its resolved config's data: the AASCE
training side of the saved patient split and phantoms; never a validation film), or on the training films of
``--data``, while every crop its networks see is recorded. Each network of ``--stages`` is quantised with those
crops as calibration (:mod:`spine.int8`) and compared with its float self on the crops of ``--check``
further films: corners (crop px) for keypoint heads, mask Dice for the segmenter. The int8 model is written as
``int8.onnx`` in the stage's folder with its calibration and agreement in meta.json, and the stage's config is set
to ``predict.runtime: onnx-int8`` (set it back to ``onnx`` to run the float network).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.finder import reframe
from pipeline.modelset import ModelSet
from spine.int8 import CROP_STAGES, quantize, save_int8
from spine.research.metrics import corner_errors, dice_iou

log = logging.getLogger(__name__)
DEFAULT_STAGES = ("segmenter", "keypoints")


@dataclass
class Recorder:
    """Stands in for a stage's ``run``: records each input batch, then runs the float network as before."""

    run: object
    batches: list

    def __call__(self, x: torch.Tensor):
        self.batches.append(x.detach().cpu().numpy().copy())
        return self.run(x)


def stage_models(models: ModelSet) -> dict:
    """The crop stages of the set that run a network through ``run`` (the whole-film segmenter has none)."""
    found = {"segmenter": models.segmenter, "keypoints": models.corners}
    return {name: model for name, model in found.items() if hasattr(model, "run")}


def record(models: ModelSet, films: list) -> dict[str, list[list[np.ndarray]]]:
    """Per stage, per film, the input batches its network saw when the set ran on ``films``."""
    from spine.radiograph import read_radiograph

    stages = stage_models(models)
    seen: dict[str, list[list[np.ndarray]]] = {name: [] for name in stages}
    originals = {name: model.run for name, model in stages.items()}
    finder = models.finder
    try:
        for film in films:
            per_film = {name: [] for name in stages}
            for name, model in stages.items():
                model.run = Recorder(originals[name], per_film[name])
            pixels = read_radiograph(film.image).pixels
            spine = finder.find(pixels, film.spine.view)[0]
            if not len(spine):  # the set finds nothing here (an untrained detector): the annotated vertebrae
                spine = film.spine.with_(vertebrae=tuple(v.with_(corners=None, mask=None) for v in film.spine.vertebrae))
                if finder.redraw is not None and len(spine):
                    spine = reframe(pixels, spine, finder.redraw)
            boxes = [v.box for v in spine.vertebrae]
            if boxes:
                models.corners.corners(pixels, boxes)
            for name in stages:
                seen[name].append(per_film[name])
    finally:
        for name, model in stages.items():
            model.run = originals[name]
    return seen


def agreement(name: str, model, float_model: bytes, int8: bytes, batches: list[np.ndarray]) -> dict:
    """How the int8 network differs from the float one on ``batches``: corners (crop px) or mask Dice."""
    from spine.onnxrun import OnnxNetwork

    if not batches:
        return {"crops": 0}
    keys = ("logits",) if name == "segmenter" else None
    exact, twin = OnnxNetwork(float_model, keys), OnnxNetwork(int8, keys)
    if name == "segmenter":
        dice = [dice_iou(a, q)[0] for b in batches
                for a, q in zip(exact(torch.from_numpy(b))["logits"].numpy() > 0, twin(torch.from_numpy(b))["logits"].numpy() > 0)]
        return {"crops": len(dice), "mask_dice_mean": float(np.mean(dice)), "mask_dice_min": float(np.min(dice))}
    dist = np.concatenate([
        corner_errors(model.codec.decode(exact(torch.from_numpy(b))).numpy(), model.codec.decode(twin(torch.from_numpy(b))).numpy()).ravel()
        for b in batches
    ])
    return {"corners": len(dist), "corner_px_mean": float(dist.mean()), "corner_px_median": float(np.median(dist)),
            "corner_px_max": float(dist.max()), "crop_px": int(model.size)}


def quantize_set(models: ModelSet, films: list, films_check: list, source: str, stages=CROP_STAGES) -> dict:
    """Quantise the crop ``stages`` of ``models`` on ``films``, check on ``films_check``, write into their folders."""
    import onnxruntime

    from spine.onnxrun import export_onnx

    calibration, check = record(models, films), record(models, films_check)
    report = {}
    for name, model in stage_models(models).items():
        if name not in stages:
            continue
        batches = [b for film in calibration[name] for b in film]
        if not batches:
            log.warning("%s: no crops on the calibration films; left in float", name)
            continue
        keys = ("logits",) if name == "segmenter" else None
        channels = batches[0].shape[1]
        float_model = export_onnx(model.network, torch.zeros(1, channels, model.size, model.size), keys)
        int8 = quantize(float_model, batches)
        checked = agreement(name, model, float_model, int8, [b for film in check[name] for b in film])
        entry = {"calibration": {"source": source, "films": len(films), "crops": int(sum(len(b) for b in batches))},
                 "agreement": {"films": len(films_check), **checked}, "onnxruntime": onnxruntime.__version__}
        save_int8(models.folder / name, int8, entry)
        report[name] = entry
        log.info("%s: %s", name, checked)
    return report


def training_films(models: ModelSet, stage: str = "segmenter") -> list:
    """The films ``stage`` of the set trained on (its resolved config's data: AASCE training side, phantoms)."""
    from pipeline.stages import BY_NAME
    from spine import config as configlib
    from spine.research.datasets.sources import crop_stage_sets

    cfg = configlib.load(BY_NAME[stage].config_class(), models.folder / stage / "config.yaml")
    return crop_stage_sets(cfg.data)[0]


def switch_runtime(models: ModelSet, stages, runtime: str = "onnx-int8") -> None:
    """Set ``predict.runtime`` in the set's stage configs, nothing else of the config that trained them changed
    (the result validated by each stage's config class first)."""
    import yaml

    from pipeline.stages import BY_NAME
    from spine import config as configlib
    from spine.files import atomic_write_text

    for stage in stages:
        path = models.folder / stage / "config.yaml"
        data = configlib.read_yaml(path)
        data.setdefault("predict", {})["runtime"] = runtime
        configlib.build(BY_NAME[stage].config_class(), data, str(path))
        atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


def quantize_folder(folder=None, stages=DEFAULT_STAGES, films: int = 16, check: int = 8, seed: int = 0,
                    source: tuple[list, str] | None = None) -> dict:
    """Quantise ``stages`` of the model set in ``folder`` (default: the shipped one) and switch them to int8.
    Films: ``source`` (films, description) or the segmenter's training films, drawn by ``seed``; where there are
    fewer than ``films + check``, a third of them (at least one) check and the rest calibrate."""
    models = ModelSet.load(folder)
    pool, described = source or (training_films(models), "the segmenter's training films (its config's data)")
    pool = [pool[i] for i in np.random.default_rng(seed).permutation(len(pool))]
    if len(pool) < 2:
        raise SystemExit(f"{len(pool)} training films: too few to calibrate and check an int8 model")
    if len(pool) < films + check:
        check = max(1, len(pool) // 3)
        films = len(pool) - check
    stages = [s for s in stages if s in stage_models(models)]
    report = quantize_set(models, pool[:films], pool[films : films + check], described, stages)
    switch_runtime(models, list(report))
    return report


def main(argv: list[str] | None = None) -> int:
    import json

    from spine.offline import configure

    configure()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m pipeline.quantize", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--models", help="model set to quantise in place (default: the shipped model)")
    parser.add_argument("--stages", nargs="+", default=list(DEFAULT_STAGES), choices=CROP_STAGES,
                        help=f"crop stages to quantise and switch to int8 (default: {' '.join(DEFAULT_STAGES)})")
    parser.add_argument("--data", help="calibrate on the films of this folder instead of the stages' training films")
    parser.add_argument("--format", default="phantom", choices=("aasce", "phantom"), help="how --data is laid out")
    parser.add_argument("--films", type=int, default=16, help="calibration films (default 16)")
    parser.add_argument("--check", type=int, default=8, help="further films to compare int8 and float on (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="which training films are drawn")
    args = parser.parse_args(argv)
    films = None
    if args.data:
        from spine.research.datasets import load_films

        films = (load_films(args.data, args.format, "train"), f"{args.format} training films of {args.data}")
    report = quantize_folder(args.models, args.stages, args.films, args.check, args.seed, films)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
