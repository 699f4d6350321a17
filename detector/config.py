"""Detector stage configuration (``configs/detector.yaml``), validated at load time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from detector.priors import PriorsConfig
from spine.config import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    """arch: an ultralytics model yaml (built from scratch, never downloaded). imgsz: the long side the film is
    resized to, px. classes: one 'vertebra' class, or one class per level of ``priors.expected_levels``."""

    arch: str = "yolo11n.yaml"
    imgsz: int = 512
    classes: Literal["single", "per_level"] = "single"

    def validate(self) -> None:
        if self.imgsz % 32 or self.imgsz < 64:
            fixed = max(64, 32 * round(self.imgsz / 32))
            raise ConfigError(f"model.imgsz={self.imgsz} must be a multiple of 32 (the network's stride); use {fixed}")
        if not self.arch.endswith(".yaml"):
            raise ConfigError(f"model.arch={self.arch!r}: give a model yaml such as yolo11n.yaml (no downloaded weights)")


@dataclass(frozen=True)
class PredictConfig:
    """two_pass: when the first pass finds the spine in a small part of the film, look again at that region
    (grown by region_margin of its height) at full model resolution. windows: also look in this many overlapping
    windows down the film, each ``window_height`` of its height, and keep their detections (merged with the whole
    film's) when the chain they give is stronger by ``window_gain`` (summed score of its found members): what an
    uncropped, full-length film needs; 0 never looks. Windows are read only when the whole film's chain is weaker
    than ``window_below`` x the expected count (as if that share of the levels were found with full confidence)."""

    conf: float = 0.05
    iou: float = 0.6
    max_det: int = 80
    two_pass: bool = True
    region_margin: float = 0.15
    windows: int = 3
    window_height: float = 0.5
    window_gain: float = 1.15
    window_below: float = 0.6

    def validate(self) -> None:
        if self.windows < 0 or not 0 < self.window_height <= 1 or self.window_gain <= 0 or self.window_below < 0:
            raise ConfigError(f"predict: windows={self.windows} (>= 0), window_height={self.window_height} (in (0, 1]), "
                              f"window_gain={self.window_gain} (> 0) or window_below={self.window_below} (>= 0) out of range")


@dataclass(frozen=True)
class DetectorSpec:
    """What prediction reads of a detector model folder's config.yaml: the network's input, the decoding and the
    chain priors."""

    model: ModelConfig = field(default_factory=ModelConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    priors: PriorsConfig = field(default_factory=PriorsConfig)
