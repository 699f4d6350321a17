"""Segmenter data: the shared per-vertebra crop bank and data module, configured from the segmenter config."""

from __future__ import annotations

from typing import Sequence

from segmenter.training.config import SegmenterConfig
from spine.research.cropdata import CropDataModule
from spine.research.datasets.annotation import Annotation


def datamodule(cfg: SegmenterConfig, train_films: Sequence[Annotation], val_films: Sequence[Annotation]) -> CropDataModule:
    return CropDataModule(train_films, val_films, cfg.crop.size, cfg.crop.margin, cfg.data.repo_path(cfg.cache), cfg.train,
                          cfg.augment, cfg.jitter, cfg.crop.context)
