"""Level identifier training configuration (``configs/levels.yaml``): the shipped part (:class:`LevelsSpec`) and
the detector whose chains it learns, the data, the chain augmentation and the training settings."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from detector.levels.config import LevelsSpec
from spine.config import ConfigError
from spine.research.datasets.sources import DataConfig
from spine.research.training import LightningTrainConfig


@dataclass(frozen=True)
class ChainAugmentConfig:
    """Per-chain training augmentation: drop up to ``max_drop`` members at either end (each with probability
    ``drop_end``), one inside (``drop_inside``), mirror the whole chain (``hflip``), and jitter intensity."""

    drop_end: float = 0.35
    max_drop: int = 3
    drop_inside: float = 0.15
    hflip: float = 0.5
    intensity: float = 0.8


def held_out(patient: str, fraction: float) -> bool:
    """Whether a training patient is set aside for calibration (``LevelsConfig.calibration_fraction``): a fixed hash
    of its key, ``fraction`` of them."""
    return zlib.crc32(patient.encode()) % 1000 < fraction * 1000


@dataclass(frozen=True)
class LevelsConfig(LevelsSpec):
    """detector: the detector model folder whose chains the identifier learns to name (train_all sets it);
    calibration_fraction: the share of training patients held back for early stopping and the temperature."""

    name: str = "levels"
    output: str = "runs"
    cache: str = "cache/levels"
    detector: str = "models/default/detector"
    calibration_fraction: float = 0.15
    data: DataConfig = field(default_factory=lambda: DataConfig(phantoms=120))
    augment: ChainAugmentConfig = field(default_factory=ChainAugmentConfig)
    train: LightningTrainConfig = field(default_factory=lambda: LightningTrainConfig(epochs=20, batch=8, lr=1e-3))

    def validate(self) -> None:
        if not 0 < self.calibration_fraction < 0.5:
            raise ConfigError(f"calibration_fraction={self.calibration_fraction} must be in (0, 0.5), e.g. 0.15")
