"""The one registry of stages and their variants that the tools loop over (train_all, ablate, models, evaluate).

A :class:`Stage` names its config class, its stage YAML, its training module and its model folder; a
:class:`Variant` names how a model folder of that stage is loaded into the object that fills the stage's role
(:mod:`spine.contracts`). A new variant is one entry here (and its own module in the stage package).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from spine import contracts


def _resolve(path: str):
    module, _, name = path.partition(":")
    target = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


@dataclass(frozen=True)
class Stage:
    """name: the stage (its model folder inside a set, its key in configs); config: 'module:Class'; yaml: the
    stage config; train: the module with ``train(cfg)`` and ``main()``; role: the Protocol its models fill;
    optional: a model set may go without it."""

    name: str
    config: str
    yaml: str
    train: str
    role: type
    optional: bool = False

    def config_class(self) -> type:
        return _resolve(self.config)


@dataclass(frozen=True)
class Variant:
    """How one kind of model folder of a stage loads: ``load(folder, device) -> role object``; ``matches(meta)``
    tells from the folder's meta.json whether the folder is of this variant."""

    stage: str
    name: str
    loader: str
    matches: Callable[[dict], bool]

    def load(self, folder: str | Path, device: str = "cpu"):
        return _resolve(self.loader)(folder, device)


STAGES: tuple[Stage, ...] = (
    Stage("detector", "detector.training.config:DetectorConfig", "configs/detector.yaml", "detector.training.train", contracts.Detects),
    Stage(
        "levels",
        "detector.levels.training.config:LevelsConfig",
        "configs/levels.yaml",
        "detector.levels.training.train",
        contracts.NamesLevels,
        optional=True,
    ),
    Stage("levelmap", "detector.levelmap.training.config:LevelMapConfig", "configs/levelmap.yaml", "detector.levelmap.training.train",
          contracts.ReadsLevels, optional=True),
    Stage("segmenter", "segmenter.training.config:SegmenterConfig", "configs/segmenter.yaml", "segmenter.training.train",
          contracts.Outlines),
    Stage("keypoints", "keypoints.training.config:KeypointsConfig", "configs/keypoints.yaml", "keypoints.training.train",
          contracts.Corners),
)
BY_NAME = {s.name: s for s in STAGES}

VARIANTS: tuple[Variant, ...] = (
    Variant("detector", "yolo", "detector.predict:Detector.load", lambda meta: True),
    Variant("levels", "context-cnn-gru", "detector.levels.predict:LevelIdentifier.load", lambda meta: True),
    Variant("levelmap", "frame-unet", "detector.levelmap.predict:LevelMap.load", lambda meta: True),
    Variant("segmenter", "crop-unetpp", "segmenter.predict:Segmenter.load", lambda meta: meta.get("mode", "crop") == "crop"),
    Variant(
        "segmenter", "whole-film-unetpp", "segmenter.whole_film:WholeFilmSegmenter.load", lambda meta: meta.get("mode") == "whole_film"
    ),
    Variant("keypoints", "heatmap", "keypoints.predict:CornerModel.load", lambda meta: True),
)


def load_stage(stage: str, folder: str | Path, device: str = "cpu"):
    """The role object of the model folder ``folder`` of ``stage``, by the variant its meta.json names."""
    from spine.modelfolder import stage_meta

    meta = stage_meta(folder, stage)
    variant = next((v for v in VARIANTS if v.stage == stage and v.matches(meta)), None)
    if variant is None:
        raise ValueError(f"{folder}: no registered {stage} variant matches its meta.json")
    model = variant.load(folder, device)
    if not isinstance(model, BY_NAME[stage].role):
        raise TypeError(f"{folder}: the {variant.name} variant does not fill the {BY_NAME[stage].role.__name__} role")
    return model

