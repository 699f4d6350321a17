"""Level identifier configuration (``configs/levels.yaml``), validated at load time. Defaults are the shipped model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from detector.levels.decode import DecodeConfig
from spine.config import ConfigError

ENCODER_STEP = 32


@dataclass(frozen=True)
class CropConfig:
    """The context crop: ``span`` chain pitches tall, ``width / height`` as wide as tall, resampled to
    (height, width) px. extend: candidates placed beyond each end of the chain (the identifier decides whether
    they are vertebrae the detector missed)."""

    span: float = 5.0
    height: int = 64
    width: int = 128
    extend: int = 2

    def validate(self) -> None:
        for name in ("height", "width"):
            value = getattr(self, name)
            if value % ENCODER_STEP or value < ENCODER_STEP:
                raise ConfigError(f"crop.{name}={value} must be a multiple of {ENCODER_STEP}; use "
                                  f"{max(ENCODER_STEP, ENCODER_STEP * round(value / ENCODER_STEP))}")
        if not 0 <= self.extend <= 4:
            raise ConfigError(f"crop.extend={self.extend}: candidates beyond each end of the chain, 0 to 4 (e.g. 2)")
        if not 1.0 <= self.span <= 15.0:
            raise ConfigError(f"crop.span={self.span}: give the window height in chain pitches, 1 to 15 (e.g. 5)")


@dataclass(frozen=True)
class ModelConfig:
    """encoder: a timm/smp encoder run on each context crop; sequence: 'gru' (a bidirectional GRU along the chain)
    or 'none' (each member alone); features: feed the geometric features; age_sex: feed age and sex when known."""

    encoder: str = "tu-tf_efficientnet_lite0"
    pretrained: Literal["none", "efficientnet_lite0"] = "efficientnet_lite0"
    embed: int = 128
    sequence: Literal["gru", "none"] = "gru"
    hidden: int = 96
    layers: int = 2
    dropout: float = 0.2
    features: bool = True
    age_sex: bool = False

    def validate(self) -> None:
        if self.pretrained == "efficientnet_lite0" and self.encoder != "tu-tf_efficientnet_lite0":
            raise ConfigError("model.pretrained=efficientnet_lite0 needs model.encoder=tu-tf_efficientnet_lite0")


@dataclass(frozen=True)
class LevelsSpec:
    """What prediction reads of a level identifier model folder's config.yaml: the context crop, the network
    and the chain decode."""

    crop: CropConfig = field(default_factory=CropConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
