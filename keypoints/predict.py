"""Corner inference: a film, vertebra boxes (and optionally their outlines) in, four corners each out, image px.

:class:`CornerModel` runs the trained head on each box's crop and maps the
decoded corners back through the same :class:`Crop`. :class:`MaskFitCorners`
is the geometric baseline: a quadrilateral fitted to the segmenter's outline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from keypoints.codec import make_codec
from keypoints.config import KeypointsConfig
from keypoints.model import build_model, model_input
from pipeline import config as configlib
from pipeline.crop import Crop
from pipeline.geometry import Box, Polygon
from pipeline.masks import fit_quadrilateral, spine_axes
from pipeline.modelfolder import load_state, read_meta


@dataclass
class CornerModel:
    network: torch.nn.Module
    codec: object
    size: int
    margin: float
    mask_channel: bool
    device: str = "cpu"

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "CornerModel":
        folder = Path(folder)
        meta = read_meta(folder)
        if meta.get("stage") != "keypoints":
            raise ValueError(f"{folder}: not a keypoints model folder (stage {meta.get('stage')!r})")
        cfg = configlib.load(KeypointsConfig, folder / "config.yaml")
        network = build_model(cfg.model, pretrained=False)
        network.load_state_dict(load_state(folder))
        codec = make_codec(cfg.model.head, cfg.crop.size, cfg.model.heatmap_beta)
        return cls(network.eval().to(device), codec, cfg.crop.size, cfg.crop.margin, cfg.model.mask_channel, device)

    @torch.no_grad()
    def corners(self, pixels: np.ndarray, boxes: Sequence[Box], outlines: Sequence[Polygon | None] | None = None,
                batch: int = 64) -> list[np.ndarray]:
        """(4, 2) image px per box, in the declared corner order."""
        crops = [Crop.around(b, self.margin, self.size) for b in boxes]
        out = []
        for start in range(0, len(crops), batch):
            chunk = crops[start : start + batch]
            images = torch.from_numpy(np.stack([c.extract(pixels) for c in chunk]).astype(np.float32))[:, None]
            masks = None
            if self.mask_channel:
                masks = torch.from_numpy(np.stack([self._mask(c, outlines[start + k] if outlines else None) for k, c in enumerate(chunk)]))[:, None]
            raw = self.network(model_input(images.to(self.device), None if masks is None else masks.to(self.device)))
            decoded = self.codec.decode(raw).cpu().numpy()
            out += [c.to_image(d) for c, d in zip(chunk, decoded)]
        return out

    def _mask(self, crop: Crop, outline: Polygon | None) -> np.ndarray:
        if outline is None:
            return np.zeros((self.size, self.size), np.float32)
        return Polygon(crop.to_crop(outline.points)).rasterize((self.size, self.size)).astype(np.float32)


class MaskFitCorners:
    """Baseline: corners from a quadrilateral fit to each outline, the cranial direction taken from the chain."""

    def corners(self, pixels: np.ndarray, boxes: Sequence[Box], outlines: Sequence[Polygon | None] | None = None) -> list[np.ndarray]:
        if outlines is None:
            raise ValueError("the mask-fit baseline needs the segmenter's outlines")
        centers = np.array([b.center for b in boxes]).reshape(-1, 2)
        axes = spine_axes(centers)
        out = []
        for box, outline, axis in zip(boxes, outlines, axes):
            if outline is None:  # nothing segmented: the box corners
                out.append(np.array([[box.x1, box.y1], [box.x2, box.y1], [box.x1, box.y2], [box.x2, box.y2]]))
            else:
                out.append(fit_quadrilateral(outline.points, axis))
        return out
