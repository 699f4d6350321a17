"""Level map training configuration (``configs/levelmap.yaml``): the shipped part (:class:`LevelMapSpec`) and the
folds, data, frame augmentation and training settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from detector.levelmap.config import LevelMapSpec
from spine.config import ConfigError
from spine.research.datasets.sources import DataConfig
from spine.research.training import LightningTrainConfig


@dataclass(frozen=True)
class FrameAugmentConfig:
    """Training frames differ from the inference frame as a detector's chain would: up to ``drop_end`` vertebrae
    left off either end of the true chain before framing, margins jittered by up to ``margin_jitter`` pitches,
    ``zoom_out`` of the frames grown by up to 8 pitches above (full-length films), sideways shift up to ``shift``
    of the width; ``cut``: the film's content cut off at either end (each with this probability) through one of the
    four end vertebrae, so that the first or last body seen is not always T1 or L5; mirrored (``hflip``), intensity
    jittered."""

    drop_end: int = 2
    margin_jitter: float = 1.5
    zoom_out: float = 0.25
    shift: float = 0.1
    cut: float = 0.25
    hflip: float = 0.5
    intensity: float = 0.8


@dataclass(frozen=True)
class LevelMapConfig(LevelMapSpec):
    """fold: train on every fold but this one of ``folds_file`` (cross-validation); None: on every film;
    cache_height: the films are kept downscaled to this height for training; background_weight: the loss weight of
    background pixels (bodies weigh 1): the bodies cover a small part of the frame."""

    name: str = "levelmap"
    output: str = "runs"
    cache: str = "cache/levelmap"
    cache_height: int = 768
    folds_file: str = "configs/splits/aasce_folds5.json"
    folds: int = 5
    fold: int | None = None
    background_weight: float = 0.2
    data: DataConfig = field(default_factory=DataConfig)
    augment: FrameAugmentConfig = field(default_factory=FrameAugmentConfig)
    train: LightningTrainConfig = field(default_factory=lambda: LightningTrainConfig(epochs=16, batch=8, lr=1e-3))

    def validate(self) -> None:
        if self.fold is not None and not 0 <= self.fold < self.folds:
            raise ConfigError(f"fold={self.fold}: 0 to {self.folds - 1}, or null for every film")
