"""Keypoint stage configuration (``configs/keypoints.yaml``), validated at load time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.augment import AugmentConfig
from pipeline.config import ConfigError
from pipeline.datasets.sources import DataConfig

ENCODER_STEP = 32


@dataclass(frozen=True)
class CropConfig:
    size: int = 128
    margin: float = 0.35

    def validate(self) -> None:
        if self.size % ENCODER_STEP or self.size < ENCODER_STEP:
            fixed = max(ENCODER_STEP, ENCODER_STEP * round(self.size / ENCODER_STEP))
            raise ConfigError(f"crop.size={self.size} must be a multiple of {ENCODER_STEP}; use {fixed}")


@dataclass(frozen=True)
class ModelConfig:
    """head: 'regression' (pooled features -> 8 numbers) or 'heatmap' (4 maps, soft-argmax).
    mask_channel: feed the segmenter's mask of the centre vertebra as a second input channel."""

    head: Literal["regression", "heatmap"] = "regression"
    encoder: str = "tu-tf_efficientnet_lite0"
    pretrained: Literal["none", "efficientnet_lite0"] = "efficientnet_lite0"
    mask_channel: bool = False
    heatmap_beta: float = 1.0

    def validate(self) -> None:
        if self.pretrained == "efficientnet_lite0" and self.encoder != "tu-tf_efficientnet_lite0":
            raise ConfigError("model.pretrained=efficientnet_lite0 needs model.encoder=tu-tf_efficientnet_lite0")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    accelerator: str = "cpu"
    devices: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    num_workers: int = 0
    seed: int = 0
    max_train_films: int | None = None
    max_val_films: int | None = None
    crops_per_epoch: int | None = None
    threads: int | None = None


@dataclass(frozen=True)
class KeypointsConfig:
    name: str = "keypoints"
    output: str = "runs"
    cache: str = "cache/crops"
    data: DataConfig = field(default_factory=DataConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
