"""The whole-film baseline's training data: each film downscaled, with the union of its vertebrae's amodal outlines."""

from __future__ import annotations

from typing import Sequence

import cv2
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from segmenter.training.config import SegmenterConfig
from spine.geometry import Polygon
from spine.radiograph import read_radiograph
from spine.research.cropbank import target_outline
from spine.research.datasets.annotation import Annotation


def film_and_mask(ann: Annotation, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The film resized to (height, width) uint8 and the union of its vertebrae's amodal outlines at that size."""
    pixels = read_radiograph(ann.image).pixels
    sx, sy = width / pixels.shape[1], height / pixels.shape[0]
    image = np.round(cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA) * 255).astype(np.uint8)
    mask = np.zeros((height, width), bool)
    for v in ann.spine.vertebrae:
        polygon = target_outline(v)
        if polygon is not None:
            mask |= Polygon(polygon.points * [sx, sy]).rasterize((height, width))
    return image, mask.astype(np.uint8)


class WholeFilmDataset(Dataset):
    def __init__(self, films: Sequence[Annotation], height: int, width: int, flip: bool):
        self.items = [film_and_mask(a, height, width) for a in films]
        self.flip = flip

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        image, mask = self.items[i]
        if self.flip and np.random.random() < 0.5:
            image, mask = image[:, ::-1], mask[:, ::-1]
        return {"image": torch.from_numpy(np.ascontiguousarray(image, np.float32) / 255)[None],
                "mask": torch.from_numpy(np.ascontiguousarray(mask, np.float32))[None]}


class WholeFilmData(L.LightningDataModule):
    def __init__(self, cfg: SegmenterConfig, train: Sequence[Annotation], val: Sequence[Annotation]):
        super().__init__()
        self.cfg, self.train_films, self.val_films = cfg, train, val

    def train_dataloader(self) -> DataLoader:
        w = self.cfg.whole_film
        return DataLoader(WholeFilmDataset(self.train_films, w.height, w.width, True), batch_size=self.cfg.train.batch, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        w = self.cfg.whole_film
        return DataLoader(WholeFilmDataset(self.val_films, w.height, w.width, False), batch_size=self.cfg.train.batch)
