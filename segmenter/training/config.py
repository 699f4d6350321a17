"""Segmenter training configuration (``configs/segmenter.yaml``): the shipped part (:class:`SegmenterSpec`) and the
data, loss, augmentation, box jitter and training settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from segmenter.config import SegmenterSpec
from spine.research.augment import AugmentConfig
from spine.research.boxjitter import BoxJitter
from spine.research.datasets.sources import DataConfig
from spine.research.training import LightningTrainConfig


@dataclass(frozen=True)
class LossConfig:
    dice: float = 1.0
    bce: float = 1.0


@dataclass(frozen=True)
class SegmenterConfig(SegmenterSpec):
    name: str = "segmenter"
    output: str = "runs"
    cache: str = "cache/crops"
    data: DataConfig = field(default_factory=lambda: DataConfig(phantoms=60))
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    jitter: BoxJitter = field(default_factory=BoxJitter)
    train: LightningTrainConfig = field(default_factory=lambda: LightningTrainConfig(epochs=12, crops_per_epoch=3200))
