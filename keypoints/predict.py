"""Corner inference: a film, vertebra boxes (and optionally their outlines) in, four corners each out, image px.

:class:`CornerModel` runs the trained head on each box's crop and maps the
decoded corners back through the same :class:`Crop`. :class:`MaskFitCorners`
is the geometric baseline: a quadrilateral fitted to the segmenter's outline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from keypoints.codec import make_codec
from keypoints.config import KeypointsConfig
from keypoints.model import build_model, model_input
from pipeline.lib import config as configlib
from pipeline.lib.consistency import consistent_corners
from pipeline.lib.crop import Crop
from pipeline.lib.geometry import FLIP_CORNERS, Box, Polygon
from pipeline.lib.masks import fit_quadrilateral, spine_axes
from pipeline.lib.modelfolder import load_weights, read_meta
from pipeline.lib.onnxrun import Runtime, runner
from pipeline.lib.quantize import load_int8


@dataclass
class CornerModel:
    """The trained head. flip: average with the mirrored crop's corners; refine: passes re-cropped around the
    previous pass's corners; run: what evaluates the network (itself, or its ONNX Runtime twin on the CPU)."""

    network: torch.nn.Module
    codec: object
    size: int
    margin: float
    mask_channel: bool
    device: str = "cpu"
    flip: bool = False
    refine: int = 0
    chain: bool = False
    runtime: Runtime = "torch"
    run: Callable | None = None
    int8: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.run is None:
            channels = 2 if self.mask_channel else 1
            self.run = runner(self.network, self.runtime, self.device, (1, channels, self.size, self.size),
                              int8=self.int8)

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "CornerModel":
        folder = Path(folder)
        meta = read_meta(folder)
        if meta.get("stage") != "keypoints":
            raise ValueError(f"{folder}: not a keypoints model folder (stage {meta.get('stage')!r})")
        cfg = configlib.load(KeypointsConfig, folder / "config.yaml")
        network = build_model(cfg.model, pretrained=False)
        load_weights(network, folder)
        codec = make_codec(cfg.model.head, cfg.crop.size, cfg.model.heatmap_beta, cfg.model.heatmap_stride)
        return cls(network.eval().to(device), codec, cfg.crop.size, cfg.crop.margin, cfg.model.mask_channel, device,
                   cfg.predict.flip, cfg.predict.refine, cfg.predict.chain, cfg.predict.runtime, int8=load_int8(folder))

    @property
    def reads_outlines(self) -> bool:
        """Whether the head takes the segmenter's outlines (its mask channel); without, they need not be read."""
        return self.mask_channel

    def with_predict(self, predict) -> "CornerModel":
        """The same network with other inference settings (a keypoints PredictConfig)."""
        from dataclasses import replace

        same = predict.runtime == self.runtime
        return replace(self, flip=predict.flip, refine=predict.refine, chain=predict.chain, runtime=predict.runtime,
                       run=self.run if same else None)

    def corners(self, pixels: np.ndarray, boxes: Sequence[Box], outlines: Sequence[Polygon | None] | None = None,
                batch: int = 64) -> list[np.ndarray]:
        """(4, 2) image px per box, in the declared corner order; ``boxes`` are one chain, cranial first."""
        out = self.one_pass(pixels, boxes, outlines, batch)
        for _ in range(self.refine):
            out = self.one_pass(pixels, [Box.from_points(c) for c in out], outlines, batch)
        if self.chain and len(out) >= 3:
            out = list(consistent_corners(np.stack(out))[0])
        return out

    @torch.no_grad()
    def one_pass(self, pixels: np.ndarray, boxes: Sequence[Box], outlines: Sequence[Polygon | None] | None = None,
                 batch: int = 64) -> list[np.ndarray]:
        """(4, 2) image px per box from the crops around ``boxes`` (mirrored too when ``flip``)."""
        crops = [Crop.around(b, self.margin, self.size) for b in boxes]
        out = []
        for start in range(0, len(crops), batch):
            chunk = crops[start : start + batch]
            images = torch.from_numpy(np.stack([c.extract(pixels) for c in chunk]).astype(np.float32))[:, None]
            masks = None
            if self.mask_channel:
                masks = torch.from_numpy(np.stack([self._mask(c, outlines[start + k] if outlines else None) for k, c in enumerate(chunk)]))[
                    :, None
                ]
            x = model_input(images.to(self.device), None if masks is None else masks.to(self.device))
            decoded = self._decode(x).cpu().numpy()
            out += [c.to_image(d) for c, d in zip(chunk, decoded)]
        return out

    def _decode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, 2) crop px; with ``flip`` the mean of the crop's and its mirror's corners (mapped back)."""
        if not self.flip:
            return self.codec.decode(self.run(x))
        both = self.codec.decode(self.run(torch.cat([x, x.flip(-1)])))
        return (both[: len(x)] + unflip_corners(both[len(x) :], self.size)) / 2

    def _mask(self, crop: Crop, outline: Polygon | None) -> np.ndarray:
        if outline is None:
            return np.zeros((self.size, self.size), np.float32)
        return Polygon(crop.to_crop(outline.points)).rasterize((self.size, self.size)).astype(np.float32)


def unflip_corners(corners: torch.Tensor, size: int) -> torch.Tensor:
    """Corners (..., 4, 2) found on a horizontally mirrored crop of side ``size`` -> the unmirrored crop's, in the
    declared order (left and right swap)."""
    back = corners[..., list(FLIP_CORNERS), :].clone()
    back[..., 0] = size - 1 - back[..., 0]
    return back


class MaskFitCorners:
    """Baseline: corners from a quadrilateral fit to each outline, the cranial direction taken from the chain."""

    reads_outlines = True

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
