"""Detector inference: a film in, raw vertebra detections out, in original image px.

The film is resized so its long side is the model's ``imgsz``, padded right
and bottom to a multiple of 32, run through the network; the raw outputs are
decoded by non-maximum suppression and mapped back by the resize factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from detector.model import build_network, raw_outputs
from pipeline.geometry import Box
from pipeline.modelfolder import load_state, read_meta
from pipeline.priors import Detection

PAD_VALUE = 114 / 255  # ultralytics' letterbox grey
STRIDE = 32


def prepare(pixels: np.ndarray, imgsz: int) -> tuple[torch.Tensor, float]:
    """(1, 1, h, w) tensor of the film resized to long side ``imgsz`` and padded to /32, and the resize factor."""
    scale = imgsz / max(pixels.shape)
    w, h = max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale))
    small = cv2.resize(pixels.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    small = np.round(np.clip(small, 0, 1) * 255) / 255  # the 8-bit quantisation the training images had
    H, W = -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE
    canvas = np.full((H, W), PAD_VALUE, np.float32)
    canvas[:h, :w] = small
    return torch.from_numpy(canvas)[None, None], scale


def decode(raw: torch.Tensor, scale: float, conf: float, iou: float, max_det: int, levels: tuple[str, ...] = ()) -> list[Detection]:
    """Raw outputs of one film -> detections in original px (per-level probabilities when the model has levels)."""
    from ultralytics.utils.nms import non_max_suppression

    nc = raw.shape[1] - 4
    kept, index = non_max_suppression(raw, conf_thres=conf, iou_thres=iou, max_det=max_det, agnostic=True, nc=nc, return_idxs=True)
    kept, index = kept[0], index[0]
    if len(kept) == 0:
        return []
    boxes = kept[:, :4].cpu().numpy() / scale
    scores = kept[:, 4].cpu().numpy()
    class_scores = raw[0, 4:, index.long()].T.cpu().numpy() if nc > 1 else None
    out = []
    for k, (box, score) in enumerate(zip(boxes, scores)):
        dist = None if class_scores is None else class_scores[k] / max(class_scores[k].sum(), 1e-9)
        out.append(Detection(Box(*map(float, box)), float(score), dist, levels if nc > 1 else ()))
    return out


@dataclass
class Detector:
    """A trained detector from its model folder; ``detect`` takes film pixels (H, W) in [0, 1]."""

    network: torch.nn.Module
    imgsz: int
    levels: tuple[str, ...]
    conf: float = 0.05
    iou: float = 0.6
    max_det: int = 80
    device: str = "cpu"

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "Detector":
        folder = Path(folder)
        meta = read_meta(folder)
        if meta.get("stage") != "detector":
            raise ValueError(f"{folder}: not a detector model folder (stage {meta.get('stage')!r})")
        model_yaml = yaml.safe_load((folder / "model.yaml").read_text())
        network = build_network(model_yaml, nc=len(meta["classes"]))
        network.load_state_dict(load_state(folder))
        network.eval().to(device)
        predict = meta.get("predict", {})
        levels = tuple(meta["classes"]) if len(meta["classes"]) > 1 else ()
        return cls(network, int(meta["input"]["imgsz"]), levels, predict.get("conf", 0.05), predict.get("iou", 0.6),
                   predict.get("max_det", 80), device)

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        batch, scale = prepare(pixels, self.imgsz)
        raw = raw_outputs(self.network, batch.to(self.device))
        return decode(raw, scale, self.conf, self.iou, self.max_det, self.levels)
