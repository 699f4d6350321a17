"""The seed project's approach, kept as an ablation baseline: one UNet++ segments all vertebrae of the whole
downscaled film at once; instances are separated afterwards and matched to the vertebra boxes. Its data and its
inference live here; :func:`segmenter.train.train_whole_film` trains it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from segmenter.config import SegmenterConfig
from segmenter.model import build_model, normalise
from spine.geometry import Box, Polygon
from spine.masks import outline, separate_instances
from spine.modelfolder import load_weights
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


@dataclass
class WholeFilmSegmenter:
    network: torch.nn.Module
    height: int
    width: int
    threshold: float = 0.5
    device: str = "cpu"

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "WholeFilmSegmenter":
        from spine import config as configlib
        from spine.modelfolder import read_meta

        folder = Path(folder)
        return cls.from_folder(folder, configlib.load(SegmenterConfig, folder / "config.yaml"), read_meta(folder), device)

    @classmethod
    def from_folder(cls, folder: Path, cfg: SegmenterConfig, meta: dict, device: str = "cpu") -> "WholeFilmSegmenter":
        network = build_model(cfg.model, pretrained=False)
        load_weights(network, folder)
        return cls(network.eval().to(device), cfg.whole_film.height, cfg.whole_film.width, float(meta.get("threshold", 0.5)), device)

    def with_predict(self, predict) -> "WholeFilmSegmenter":
        """Test-time flip is a setting of the crop variant; the whole-film baseline has none."""
        return self

    @torch.no_grad()
    def instances(self, pixels: np.ndarray) -> list[np.ndarray]:
        small = cv2.resize(pixels.astype(np.float32), (self.width, self.height), interpolation=cv2.INTER_AREA)
        logits = self.network(normalise(torch.from_numpy(small)[None, None].to(self.device)))["logits"]
        prob = cv2.resize(torch.sigmoid(logits)[0, 0].cpu().numpy(), (pixels.shape[1], pixels.shape[0]))
        return separate_instances(prob > self.threshold)

    def outlines(self, pixels: np.ndarray, boxes: Sequence[Box]) -> list[Polygon | None]:
        """Per box, the separated instance covering most of it (None when none does)."""
        instances = self.instances(pixels)
        out = []
        for box in boxes:
            x0, y0 = max(int(box.x1), 0), max(int(box.y1), 0)
            inside = [m[y0 : int(np.ceil(box.y2)) + 1, x0 : int(np.ceil(box.x2)) + 1].sum() for m in instances]
            best = int(np.argmax(inside)) if inside and max(inside) > 0 else None
            contour = outline(instances[best]) if best is not None else None
            out.append(Polygon(contour) if contour is not None else None)
        return out
