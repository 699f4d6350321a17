"""Level map configuration (``configs/levelmap.yaml``), validated at load time. Defaults are the shipped model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spine.config import ConfigError
from spine.research.datasets.sources import DataConfig
from spine.research.training import LightningTrainConfig

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
class LevelMapConfig:
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
    frame: FrameConfig = field(default_factory=FrameConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: FrameAugmentConfig = field(default_factory=FrameAugmentConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    train: LightningTrainConfig = field(default_factory=lambda: LightningTrainConfig(epochs=16, batch=8, lr=1e-3))

    def validate(self) -> None:
        if self.fold is not None and not 0 <= self.fold < self.folds:
            raise ConfigError(f"fold={self.fold}: 0 to {self.folds - 1}, or null for every film")
