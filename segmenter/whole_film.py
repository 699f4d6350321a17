"""The seed project's approach, kept as an ablation baseline: one UNet++ segments all vertebrae of the whole
downscaled film at once; instances are separated afterwards and matched to the vertebra boxes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pipeline.cropbank import target_outline
from pipeline.datasets.annotation import Annotation
from pipeline.datasets.sources import crop_stage_sets
from pipeline.geometry import Box, Polygon
from pipeline.masks import outline, separate_instances
from pipeline.modelfolder import load_state, save_model_folder, update_meta
from pipeline.radiograph import read_radiograph
from pipeline.training import TrainResult, best_state, fit
from segmenter.config import SegmenterConfig
from segmenter.model import build_model, normalise


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
    def from_folder(cls, folder: Path, cfg: SegmenterConfig, meta: dict, device: str = "cpu") -> "WholeFilmSegmenter":
        network = build_model(cfg.model, pretrained=False)
        network.load_state_dict(load_state(folder))
        return cls(network.eval().to(device), cfg.whole_film.height, cfg.whole_film.width, float(meta.get("threshold", 0.5)), device)

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


def train_whole_film(cfg: SegmenterConfig) -> TrainResult:
    from segmenter.evaluate import evaluate_segmenter
    from segmenter.train import SegmenterModule, meta_for

    run_dir = (Path(cfg.output) / cfg.name).resolve()
    train_films, val_films, described = crop_stage_sets(cfg.data, cfg.train.max_train_films, cfg.train.max_val_films)
    best = fit(SegmenterModule(cfg), WholeFilmData(cfg, train_films, val_films), cfg.train, run_dir, "val_dice", "max")
    if best is None:
        return TrainResult(None, {})
    meta = meta_for(cfg, described)
    meta["input"] = {"channels": 1, "height": cfg.whole_film.height, "width": cfg.whole_film.width,
                     "intensity": "grey in [0, 1] mapped to [-1, 1]", "resize": "whole film to height x width"}
    folder = save_model_folder(run_dir / "model", best_state(best), cfg, meta)
    from segmenter.predict import Segmenter

    metrics = evaluate_segmenter(Segmenter.load(folder), val_films)
    update_meta(folder, validation=metrics)
    return TrainResult(folder, metrics)
