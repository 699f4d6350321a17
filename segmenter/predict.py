"""Segmenter inference: a film and vertebra boxes in, one amodal outline per vertebra out, in image px.

Each box gives a square crop (the trained size and margin, via :class:`Crop`);
the network's logits are thresholded, the component under the crop's centre
is kept, and its contour is mapped back to image px as a polygon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import torch
from scipy import ndimage as ndi

from segmenter.config import SegmenterSpec
from segmenter.model import build_model, normalise
from spine import config as configlib
from spine.crop import Crop
from spine.geometry import Box, Polygon
from spine.int8 import load_int8
from spine.modelfolder import load_weights, read_meta, stage_meta
from spine.onnxrun import Runtime, runner


def crop_mask_to_polygon(prob: np.ndarray, crop: Crop, threshold: float = 0.5) -> Polygon | None:
    """The centre vertebra's outline (image px) from a crop probability map (S, S); None when nothing is there."""
    binary = prob > threshold
    labels, count = ndi.label(binary)
    if count == 0:
        return None
    h, w = binary.shape
    centre = labels[h // 2, w // 2]
    keep = labels == (centre if centre else 1 + int(np.argmax(ndi.sum(binary, labels, range(1, count + 1)))))
    contours, _ = cv2.findContours(keep.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = cv2.approxPolyDP(max(contours, key=cv2.contourArea), 0.5, True)[:, 0, :].astype(float)
    if len(contour) < 3:
        return None
    return Polygon(crop.to_image(contour))


@dataclass
class Segmenter:
    """A trained crop segmenter from its model folder. flip: average with the mirrored crop's probabilities; run: what
    evaluates the network (itself, or its ONNX Runtime twin on the CPU)."""

    network: torch.nn.Module
    size: int
    margin: float
    threshold: float = 0.5
    device: str = "cpu"
    flip: bool = False
    runtime: Runtime = "torch"
    run: Callable | None = None
    int8: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.run is None:
            self.run = runner(self.network, self.runtime, self.device, (1, 1, self.size, self.size), keys=("logits",),
                              int8=self.int8)

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "Segmenter":
        folder = Path(folder)
        meta = stage_meta(folder, "segmenter")
        cfg = configlib.load_part(SegmenterSpec, folder / "config.yaml")
        if meta.get("mode") == "whole_film":
            raise ValueError(f"{folder}: a whole-film segmenter; load it with segmenter.predict.load_segmenter")
        network = build_model(cfg.model)
        load_weights(network, folder)
        network.eval().to(device)
        return cls(network, cfg.crop.size, cfg.crop.margin, float(meta.get("threshold", 0.5)), device, cfg.predict.flip,
                   cfg.predict.runtime, int8=load_int8(folder))

    def with_predict(self, predict) -> "Segmenter":
        """The same network with other inference settings (a segmenter PredictConfig)."""
        from dataclasses import replace

        same = predict.runtime == self.runtime
        return replace(self, flip=predict.flip, runtime=predict.runtime, run=self.run if same else None)

    def crops(self, boxes: Sequence[Box]) -> list[Crop]:
        return [Crop.around(box, self.margin, self.size) for box in boxes]

    @torch.no_grad()
    def probabilities(self, pixels: np.ndarray, boxes: Sequence[Box], batch: int = 32) -> list[tuple[np.ndarray, Crop]]:
        """Per box: the centre vertebra's probability map (S, S) and its crop."""
        crops = self.crops(boxes)
        out = []
        for start in range(0, len(crops), batch):
            chunk = crops[start : start + batch]
            images = np.stack([c.extract(pixels) for c in chunk]).astype(np.float32)
            x = normalise(torch.from_numpy(images)[:, None].to(self.device))
            if self.flip:
                logits = self.run(torch.cat([x, x.flip(-1)]))["logits"]
                probs = (torch.sigmoid(logits[: len(x)]) + torch.sigmoid(logits[len(x):]).flip(-1)) / 2
            else:
                probs = torch.sigmoid(self.run(x)["logits"])
            probs = probs[:, 0].cpu().numpy()
            out += list(zip(probs, chunk))
        return out

    def outlines(self, pixels: np.ndarray, boxes: Sequence[Box]) -> list[Polygon | None]:
        """One amodal outline (image px) per box, None where the crop shows no vertebra."""
        return [crop_mask_to_polygon(p, c, self.threshold) for p, c in self.probabilities(pixels, boxes)]


def load_segmenter(folder: str | Path, device: str = "cpu"):
    """A segmenter model folder of either variant: the crop UNet++ (:class:`Segmenter`) or the whole-film baseline
    (:class:`segmenter.whole_film.WholeFilmSegmenter`), as its meta.json says."""
    if read_meta(folder).get("mode") == "whole_film":
        from segmenter.whole_film import WholeFilmSegmenter

        return WholeFilmSegmenter.load(folder, device)
    return Segmenter.load(folder, device)
