"""Level map configuration (``configs/levelmap.yaml``), validated at load time. Defaults are the shipped model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spine.config import ConfigError

ENCODER_STEP = 32


@dataclass(frozen=True)
class FrameConfig:
    """The window the network sees: the chain's extent grown by ``margin`` chain pitches above and below, as wide as
    ``width / height`` of its height, centred on the chain, resampled to (height, width) px."""

    height: int = 256
    width: int = 128
    margin: float = 3.0

    def validate(self) -> None:
        for name in ("height", "width"):
            value = getattr(self, name)
            if value % ENCODER_STEP or value < ENCODER_STEP:
                raise ConfigError(f"frame.{name}={value} must be a multiple of {ENCODER_STEP}")
        if not 0.0 <= self.margin <= 10.0:
            raise ConfigError(f"frame.margin={self.margin}: chain pitches above and below, 0 to 10 (e.g. 3)")


@dataclass(frozen=True)
class EvidenceConfig:
    """How the map enters the chain decode: ``use`` 'all' (every level T1-L5) or 'anchors' (T1, T12 and L5 only;
    the others read as 'some other level'); ``weight`` multiplies its log-likelihoods (0: off); ``propose``: a
    level T1-L5 painted past the chain's ends becomes a candidate member (the decode decides); ``warn``: a film
    whose names the map alone would give otherwise carries the 'disputed' warning."""

    use: Literal["all", "anchors"] = "all"
    weight: float = 1.0
    propose: bool = True
    warn: bool = True
    min_area: float = 0.3

    def validate(self) -> None:
        if self.weight < 0:
            raise ConfigError(f"evidence.weight={self.weight} must be >= 0")
        if not 0 < self.min_area <= 1:
            raise ConfigError(f"evidence.min_area={self.min_area}: the share of a vertebra's expected area, (0, 1]")


@dataclass(frozen=True)
class ModelConfig:
    encoder: str = "tu-tf_efficientnet_lite0"
    pretrained: Literal["none", "efficientnet_lite0"] = "efficientnet_lite0"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)

    def validate(self) -> None:
        if self.pretrained == "efficientnet_lite0" and self.encoder != "tu-tf_efficientnet_lite0":
            raise ConfigError("model.pretrained=efficientnet_lite0 needs model.encoder=tu-tf_efficientnet_lite0")
        if len(self.decoder_channels) != 5:
            raise ConfigError("model.decoder_channels: five widths, e.g. [128, 64, 32, 16, 16]")


@dataclass(frozen=True)
class LevelMapSpec:
    """What prediction reads of a level map model folder's config.yaml: the frame, the network and how its
    evidence enters the chain decode."""

    frame: FrameConfig = field(default_factory=FrameConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
