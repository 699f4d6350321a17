"""Keypoint training configuration (``configs/keypoints.yaml``): the shipped part (:class:`KeypointsSpec`) and the
data, augmentation, box jitter and training settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from keypoints.config import KeypointsSpec
from spine.research.augment import AugmentConfig
from spine.research.boxjitter import BoxJitter
from spine.research.datasets.sources import DataConfig
from spine.research.training import LightningTrainConfig


@dataclass(frozen=True)
class KeypointsConfig(KeypointsSpec):
    name: str = "keypoints"
    output: str = "runs"
    cache: str = "cache/crops"
    data: DataConfig = field(default_factory=lambda: DataConfig(phantoms=60))
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    jitter: BoxJitter = field(default_factory=BoxJitter)
    train: LightningTrainConfig = field(default_factory=lambda: LightningTrainConfig(epochs=15, crops_per_epoch=3200))
