"""Keypoint stage configuration (``configs/keypoints.yaml``), validated at load time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.lib.augment import AugmentConfig
from pipeline.lib.boxjitter import BoxJitter
from pipeline.lib.config import ConfigError
from pipeline.lib.datasets.sources import DataConfig
from pipeline.lib.onnxrun import Runtime
from pipeline.lib.training import LightningTrainConfig

ENCODER_STEP = 32


@dataclass(frozen=True)
class CropConfig:
    size: int = 128
    margin: float = 0.35
    context: float = 0.35  # extra margin the training crop bank holds, room for moved boxes (pipeline.lib.boxjitter)

    def validate(self) -> None:
        if self.size % ENCODER_STEP or self.size < ENCODER_STEP:
            fixed = max(ENCODER_STEP, ENCODER_STEP * round(self.size / ENCODER_STEP))
            raise ConfigError(f"crop.size={self.size} must be a multiple of {ENCODER_STEP}; use {fixed}")


@dataclass(frozen=True)
class ModelConfig:
    """head: 'regression' (pooled features -> 8 numbers) or 'heatmap' (4 maps, soft-argmax).
    mask_channel: feed the segmenter's mask of the centre vertebra as a second input channel.
    heatmap_stride: 1, maps at the crop's side; 2, at half of it (the U-Net's last, full-resolution decoder block
    left out: about a fifth less time per crop on ONNX Runtime, this CPU)."""

    head: Literal["regression", "heatmap"] = "heatmap"
    encoder: str = "tu-tf_efficientnet_lite0"
    pretrained: Literal["none", "efficientnet_lite0"] = "efficientnet_lite0"
    mask_channel: bool = False
    heatmap_beta: float = 1.0
    heatmap_stride: Literal[1, 2] = 1

    def validate(self) -> None:
        if self.heatmap_stride != 1 and self.head != "heatmap":
            raise ConfigError("model.heatmap_stride applies to the heatmap head only")
        if self.pretrained == "efficientnet_lite0" and self.encoder != "tu-tf_efficientnet_lite0":
            raise ConfigError("model.pretrained=efficientnet_lite0 needs model.encoder=tu-tf_efficientnet_lite0")


@dataclass(frozen=True)
class PredictConfig:
    """Inference settings. flip: also run each crop mirrored and average (test-time flip); refine: passes that
    re-crop each vertebra around its own predicted corners and predict again (0: one pass on the given box);
    chain: put a lone misplaced corner back in line with the neighbours (pipeline.lib.consistency); runtime: 'onnx'
    runs the network by ONNX Runtime on the CPU (same outputs, about twice as fast), 'torch' by torch,
    'onnx-int8' by the folder's 8-bit twin (``python -m pipeline.quantize``; outputs close to the float network's)."""

    flip: bool = True
    refine: int = 0
    chain: bool = False
    runtime: Runtime = "onnx"

    def validate(self) -> None:
        if not 0 <= self.refine <= 3:
            raise ConfigError(f"predict.refine={self.refine} must be 0 to 3 passes")


@dataclass(frozen=True)
class KeypointsConfig:
    name: str = "keypoints"
    output: str = "runs"
    cache: str = "cache/crops"
    data: DataConfig = field(default_factory=lambda: DataConfig(phantoms=60))
    crop: CropConfig = field(default_factory=CropConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    jitter: BoxJitter = field(default_factory=BoxJitter)
    predict: PredictConfig = field(default_factory=PredictConfig)
    train: LightningTrainConfig = field(default_factory=lambda: LightningTrainConfig(epochs=15, crops_per_epoch=3200))


@dataclass(frozen=True)
class FramerConfig(KeypointsConfig):
    """The *framer*: a keypoint head trained box-robust (80 % of crops framed by a box moved as the detector's boxes
    err) whose corners only re-draw each found vertebra's box before the segmenter and the keypoint head read it
    (:class:`detector.predict.SpineFinder`). It reads less precisely than the head trained on true boxes but leans
    less on the box (docs/RESULTS.md: re-framing), so its corners' bounding box frames the vertebra better than a
    detector box that is off."""

    name: str = "framer"
    jitter: BoxJitter = field(default_factory=lambda: BoxJitter(probability=0.8))
    predict: PredictConfig = field(default_factory=lambda: PredictConfig(flip=False))  # the flip's gain here costs its time
