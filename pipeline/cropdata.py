"""Per-vertebra crops as a torch Dataset and a Lightning DataModule, shared by the segmenter and keypoint stages."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from pipeline.augment import AugmentConfig, Augmenter
from pipeline.cropbank import CropBank, cached_bank
from pipeline.datasets.annotation import Annotation


class CropDataset(Dataset):
    """Items: image (1, S, S) float in [0, 1], mask (1, S, S) float (the centre vertebra), occluder (1, S, S) float,
    has_occluder bool, corners (4, 2) crop px in the declared corner order."""

    def __init__(self, bank: CropBank, augment: AugmentConfig | None = None, seed: int = 0):
        self.bank = bank
        self.augmenter = Augmenter(augment, seed) if augment is not None and augment.enabled else None

    def __len__(self) -> int:
        return len(self.bank)

    def __getitem__(self, i: int) -> dict:
        b = self.bank
        image, masks, corners = b.images[i], [b.masks[i], b.occluders[i]], b.corners[i]
        if self.augmenter is not None:
            image, masks, corners = self.augmenter(image, masks, corners)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image, np.float32) / 255.0)[None],
            "mask": torch.from_numpy(np.ascontiguousarray(masks[0], np.float32))[None],
            "occluder": torch.from_numpy(np.ascontiguousarray(masks[1], np.float32))[None],
            "has_occluder": bool(b.has_occluder[i]),
            "corners": torch.from_numpy(np.ascontiguousarray(corners, np.float32)),
        }


class CropDataModule(L.LightningDataModule):
    """Crop banks (built once, cached under ``cache``) for the given films; train crops augmented.

    train: any object with batch, num_workers, seed and crops_per_epoch (a stage's TrainConfig).
    """

    def __init__(self, train_films: Sequence[Annotation], val_films: Sequence[Annotation], size: int, margin: float,
                 cache: str | Path, train, augment: AugmentConfig):
        super().__init__()
        self.train_films, self.val_films = list(train_films), list(val_films)
        self.size, self.margin, self.cache, self.train_cfg, self.augment = size, margin, Path(cache), train, augment
        self.train_bank: CropBank | None = None
        self.val_bank: CropBank | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_bank is None:
            self.train_bank = cached_bank(self.train_films, self.size, self.margin, self.cache)
            self.val_bank = cached_bank(self.val_films, self.size, self.margin, self.cache)

    def train_dataloader(self) -> DataLoader:
        t = self.train_cfg
        dataset = CropDataset(self.train_bank, self.augment, t.seed)
        samples = min(t.crops_per_epoch or len(dataset), len(dataset))
        sampler = RandomSampler(dataset, replacement=False, num_samples=samples)
        return DataLoader(dataset, batch_size=t.batch, sampler=sampler, num_workers=t.num_workers,
                          drop_last=len(dataset) > t.batch)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(CropDataset(self.val_bank), batch_size=self.train_cfg.batch, num_workers=self.train_cfg.num_workers)
