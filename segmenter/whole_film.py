"""The seed project's approach, kept as an ablation baseline: one UNet++ segments all vertebrae of the whole
downscaled film at once; instances are separated afterwards and matched to the vertebra boxes. Its inference lives
here; its data in :mod:`segmenter.training.whole_film_data`, :func:`segmenter.training.train.train_whole_film`
trains it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from segmenter.config import SegmenterSpec
from segmenter.model import build_model, normalise
from spine import config as configlib
from spine.geometry import Box, Polygon
from spine.masks import outline, separate_instances
from spine.modelfolder import load_weights, read_meta


@dataclass
class WholeFilmSegmenter:
    network: torch.nn.Module
    height: int
    width: int
    threshold: float = 0.5
    device: str = "cpu"

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "WholeFilmSegmenter":
        folder = Path(folder)
        return cls.from_folder(folder, configlib.load_part(SegmenterSpec, folder / "config.yaml"), read_meta(folder), device)

    @classmethod
    def from_folder(cls, folder: Path, cfg: SegmenterSpec, meta: dict, device: str = "cpu") -> "WholeFilmSegmenter":
        network = build_model(cfg.model)
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
