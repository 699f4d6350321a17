"""Corner inference: a film and vertebra boxes in, four corners each out, image px.

:class:`CornerModel` runs the trained head on each box's crop and maps the
decoded corners back through the same :class:`Crop`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from keypoints.codec import HeatmapCodec
from keypoints.config import KeypointsSpec
from keypoints.model import build_model, model_input
from spine import config as configlib
from spine.crop import Crop
from spine.geometry import FLIP_CORNERS, Box
from spine.int8 import load_int8
from spine.modelfolder import load_weights, stage_meta
from spine.onnxrun import Runtime, runner


@dataclass
class CornerModel:
    """The trained head. flip: average with the mirrored crop's corners; run: what evaluates the network (itself, or
    its ONNX Runtime twin on the CPU)."""

    network: torch.nn.Module
    codec: HeatmapCodec
    size: int
    margin: float
    device: str = "cpu"
    flip: bool = False
    runtime: Runtime = "torch"
    run: Callable | None = None
    int8: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.run is None:
            self.run = runner(self.network, self.runtime, self.device, (1, 1, self.size, self.size),
                              int8=self.int8)

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "CornerModel":
        folder = Path(folder)
        stage_meta(folder, "keypoints")
        cfg = configlib.load_part(KeypointsSpec, folder / "config.yaml")
        network = build_model(cfg.model)
        load_weights(network, folder)
        codec = HeatmapCodec(cfg.crop.size, beta=cfg.model.heatmap_beta, stride=cfg.model.heatmap_stride)
        return cls(network.eval().to(device), codec, cfg.crop.size, cfg.crop.margin, device, cfg.predict.flip,
                   cfg.predict.runtime, int8=load_int8(folder))

    def with_predict(self, predict) -> "CornerModel":
        """The same network with other inference settings (a keypoints PredictConfig)."""
        from dataclasses import replace

        same = predict.runtime == self.runtime
        return replace(self, flip=predict.flip, runtime=predict.runtime, run=self.run if same else None)

    @torch.no_grad()
    def corners(self, pixels: np.ndarray, boxes: Sequence[Box], batch: int = 64) -> list[np.ndarray]:
        """(4, 2) image px per box, in the declared corner order, from the crops around ``boxes`` (mirrored too when
        ``flip``)."""
        crops = [Crop.around(b, self.margin, self.size) for b in boxes]
        out = []
        for start in range(0, len(crops), batch):
            chunk = crops[start : start + batch]
            images = torch.from_numpy(np.stack([c.extract(pixels) for c in chunk]).astype(np.float32))[:, None]
            x = model_input(images.to(self.device))
            decoded = self._decode(x).cpu().numpy()
            out += [c.to_image(d) for c, d in zip(chunk, decoded)]
        return out

    def _decode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, 2) crop px; with ``flip`` the mean of the crop's and its mirror's corners (mapped back)."""
        if not self.flip:
            return self.codec.decode(self.run(x))
        both = self.codec.decode(self.run(torch.cat([x, x.flip(-1)])))
        return (both[: len(x)] + unflip_corners(both[len(x) :], self.size)) / 2


def unflip_corners(corners: torch.Tensor, size: int) -> torch.Tensor:
    """Corners (..., 4, 2) found on a horizontally mirrored crop of side ``size`` -> the unmirrored crop's, in the
    declared order (left and right swap)."""
    back = corners[..., list(FLIP_CORNERS), :].clone()
    back[..., 0] = size - 1 - back[..., 0]
    return back

