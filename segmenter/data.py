"""Segmenter data: the shared per-vertebra crop bank and data module, configured from the segmenter config."""

from __future__ import annotations

from typing import Sequence

from pipeline.lib.cropdata import CropDataModule
from pipeline.lib.datasets.annotation import Annotation
from segmenter.config import SegmenterConfig


def datamodule(cfg: SegmenterConfig, train_films: Sequence[Annotation], val_films: Sequence[Annotation]) -> CropDataModule:
    return CropDataModule(train_films, val_films, cfg.crop.size, cfg.crop.margin, cfg.data.repo_path(cfg.cache), cfg.train,
                          cfg.augment, cfg.jitter, cfg.crop.context)
