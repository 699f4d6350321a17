"""Detector training configuration (``configs/detector.yaml``): the shipped part (:class:`DetectorSpec`) and the
data, dataset export and ultralytics training settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from detector.config import DetectorSpec
from spine.research.datasets.sources import DataConfig

# Median size of the Roboflow boxes over tight boxes from AASCE corners, measured on the 436 films both sets
# share (6,499 matched boxes): width x1.185, height x1.271. 'shrink' divides them out about the box centre.
ROBOFLOW_BOX_SCALE = (1.185, 1.271)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch: int = 16
    patience: int = 15
    lr0: float = 0.01
    device: str = "cpu"
    workers: int = 0
    seed: int = 0
    cache: bool = True
    rect: bool = False
    mosaic: float = 1.0
    close_mosaic: int = 5
    fliplr: float = 0.5
    degrees: float = 5.0
    scale: float = 0.3
    max_train_images: int | None = None
    max_val_images: int | None = None
    hours: float | None = None  # a wall-clock budget: ultralytics fits its epochs and LR schedule into it
    init: str | None = None  # a detector model folder whose weights training starts from (fine-tuning)
    optimizer: str = "auto"  # ultralytics' choice ('auto' ignores lr0) or e.g. 'AdamW', 'SGD'
    warmup_epochs: float = 3.0  # 0 for fine-tuning: ultralytics' warm-up starts the biases at lr 0.1


@dataclass(frozen=True)
class ExportConfig:
    """How annotations become an ultralytics dataset. roboflow_boxes: 'shrink' (to tight-box scale), 'raw', 'drop'."""

    roboflow_boxes: Literal["shrink", "raw", "drop"] = "shrink"
    folder: str = "cache/detector_data"


@dataclass(frozen=True)
class DetectorConfig(DetectorSpec):
    name: str = "detector"
    output: str = "runs"
    data: DataConfig = field(default_factory=lambda: DataConfig(phantoms=60))
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
