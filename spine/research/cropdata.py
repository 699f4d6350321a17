"""Per-vertebra crops as a torch Dataset and a Lightning DataModule, shared by the segmenter and keypoint stages.

The banks hold crops with extra context (:mod:`spine.research.cropbank`); each item is the stage's own crop cut from
one, framed by the true box or, in training, by the true box moved the way the detector's boxes are
(:class:`spine.research.boxjitter.BoxJitter`), then augmented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from spine.crop import Crop
from spine.geometry import Box
from spine.research.augment import AugmentConfig, Augmenter
from spine.research.boxjitter import BoxJitter, apply_error
from spine.research.cropbank import CropBank, bank_frame, cached_bank
from spine.research.datasets.annotation import Annotation


def stage_crop(bank: CropBank, i: int, size: int, margin: float, error: np.ndarray | None = None):
    """(image, mask, occluder, corners) of bank item ``i`` in the stage's frame: the square crop (``size``,
    ``margin``) around its true box moved by the relative ``error`` (4,) (None: the true box)."""
    box = bank.boxes[i] if error is None else apply_error(bank.boxes[i], error)[0]
    crop = Crop.around(Box(*map(float, box)), margin, size)
    return (crop.extract(bank.images[i]), crop.extract(bank.masks[i], nearest=True),
            crop.extract(bank.occluders[i], nearest=True), crop.to_crop(bank.corners[i]).astype(np.float32))


class CropDataset(Dataset):
    """Items: image (1, S, S) float in [0, 1], mask (1, S, S) float (the centre vertebra), occluder (1, S, S) float,
    has_occluder bool, corners (4, 2) crop px in the declared corner order."""

    def __init__(self, bank: CropBank, size: int, margin: float, augment: AugmentConfig | None = None,
                 jitter: BoxJitter | None = None, seed: int = 0, fixed: bool = False):
        self.bank, self.size, self.margin, self.jitter, self.seed, self.fixed = bank, size, margin, jitter, seed, fixed
        self.augmenter = Augmenter(augment, seed) if augment is not None and augment.enabled else None
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.bank)

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, i]) if self.fixed else self.rng  # fixed: the same move every epoch
        error = self.jitter.sample(rng, 1)[0] if self.jitter is not None else None
        image, mask, occluder, corners = stage_crop(self.bank, i, self.size, self.margin, error)
        masks = [mask, occluder]
        if self.augmenter is not None:
            image, masks, corners = self.augmenter(image, masks, corners)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image, np.float32) / 255.0)[None],
            "mask": torch.from_numpy(np.ascontiguousarray(masks[0], np.float32))[None],
            "occluder": torch.from_numpy(np.ascontiguousarray(masks[1], np.float32))[None],
            "has_occluder": bool(self.bank.has_occluder[i]),
            "corners": torch.from_numpy(np.ascontiguousarray(corners, np.float32)),
        }


class CropDataModule(L.LightningDataModule):
    """Crop banks (built once, cached under ``cache``) for the given films; train crops jittered and augmented;
    validation crops framed by the true boxes, or, when training is jittered, by boxes moved the same way (a fixed
    move per crop), so that the checkpoint is chosen on the framing it will meet.

    train: any object with batch, num_workers, seed and crops_per_epoch (a stage's TrainConfig). context: the
    bank's margin beyond the stage's (room for moved boxes).
    """

    def __init__(self, train_films: Sequence[Annotation], val_films: Sequence[Annotation], size: int, margin: float,
                 cache: str | Path, train, augment: AugmentConfig, jitter: BoxJitter | None = None, context: float = 0.35):
        super().__init__()
        self.train_films, self.val_films = list(train_films), list(val_films)
        self.size, self.margin, self.cache, self.train_cfg, self.augment = size, margin, Path(cache), train, augment
        self.jitter, self.context = jitter, context
        self.train_bank: CropBank | None = None
        self.val_bank: CropBank | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_bank is None:
            side, margin = bank_frame(self.size, self.margin, self.context)
            self.train_bank = cached_bank(self.train_films, side, margin, self.cache)
            self.val_bank = cached_bank(self.val_films, side, margin, self.cache)

    @property
    def active_jitter(self) -> BoxJitter | None:
        return self.jitter if self.jitter is not None and self.jitter.probability > 0 else None

    def train_dataloader(self) -> DataLoader:
        t = self.train_cfg
        dataset = CropDataset(self.train_bank, self.size, self.margin, self.augment, self.active_jitter, t.seed)
        samples = min(t.crops_per_epoch or len(dataset), len(dataset))
        sampler = RandomSampler(dataset, replacement=False, num_samples=samples)
        return DataLoader(dataset, batch_size=t.batch, sampler=sampler, num_workers=t.num_workers,
                          drop_last=len(dataset) > t.batch)

    def val_dataloader(self) -> DataLoader:
        dataset = CropDataset(self.val_bank, self.size, self.margin, jitter=self.active_jitter, seed=self.train_cfg.seed, fixed=True)
        return DataLoader(dataset, batch_size=self.train_cfg.batch, num_workers=self.train_cfg.num_workers)
