"""Keypoint stage configuration (``configs/keypoints.yaml``), validated at load time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spine.config import ConfigError
from spine.onnxrun import Runtime

ENCODER_STEP = 32


@dataclass(frozen=True)
class CropConfig:
    size: int = 128
    margin: float = 0.35
    context: float = 0.35  # extra margin the training crop bank holds, room for moved boxes (spine.research.boxjitter)

    def validate(self) -> None:
        if self.size % ENCODER_STEP or self.size < ENCODER_STEP:
            fixed = max(ENCODER_STEP, ENCODER_STEP * round(self.size / ENCODER_STEP))
            raise ConfigError(f"crop.size={self.size} must be a multiple of {ENCODER_STEP}; use {fixed}")


@dataclass(frozen=True)
class ModelConfig:
    """Four corner heatmaps from a U-Net, decoded by the soft-argmax. heatmap_stride: 1, maps at the crop's side;
    2, at half of it (the U-Net's last, full-resolution decoder block left out: about a fifth less time per crop on
    ONNX Runtime, this CPU)."""

    encoder: str = "tu-tf_efficientnet_lite0"
    pretrained: Literal["none", "efficientnet_lite0"] = "efficientnet_lite0"
    heatmap_beta: float = 1.0
    heatmap_stride: Literal[1, 2] = 1

    def validate(self) -> None:
        if self.pretrained == "efficientnet_lite0" and self.encoder != "tu-tf_efficientnet_lite0":
            raise ConfigError("model.pretrained=efficientnet_lite0 needs model.encoder=tu-tf_efficientnet_lite0")


@dataclass(frozen=True)
class PredictConfig:
    """Inference settings. flip: also run each crop mirrored and average (test-time flip); runtime: 'onnx' runs the
    network by ONNX Runtime on the CPU (same outputs, about twice as fast), 'torch' by torch, 'onnx-int8' by the
    folder's 8-bit twin (``python -m pipeline.quantize``; outputs close to the float network's)."""

    flip: bool = True
    runtime: Runtime = "onnx"


@dataclass(frozen=True)
class KeypointsSpec:
    """What prediction reads of a keypoints model folder's config.yaml: the crop, the network, the inference settings."""

    crop: CropConfig = field(default_factory=CropConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
