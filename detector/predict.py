"""Detector inference: a film in, raw vertebra detections out, in original image px.

The film is resized so its long side is the model's ``imgsz``, padded right
and bottom to a multiple of 32, run through the network; the raw outputs are
decoded by non-maximum suppression and mapped back by the resize factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from detector.config import PredictConfig
from detector.model import build_network, raw_outputs
from detector.priors import PriorsConfig, apply_priors
from spine.config import build
from spine.contracts import Detection
from spine.crop import Crop
from spine.geometry import Box
from spine.modelfolder import load_weights, stage_meta

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
    from spine.offline import configure

    configure()
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


def _inside(box: Box, region: Box) -> bool:
    cx, cy = box.center
    return region.x1 <= cx <= region.x2 and region.y1 <= cy <= region.y2


def spine_region(detections: list[Detection], shape: tuple[int, int], margin: float, min_score: float = 0.25,
                 max_fraction: float = 0.6) -> Box | None:
    """The part of the film the confident detections cover, grown by ``margin`` of its height (and half its width
    sideways), integer-aligned and clipped; None when there are too few or they already fill most of the film."""
    boxes = [d.box for d in detections if d.score >= min_score]
    if len(boxes) < 3:
        return None
    x1, y1 = min(b.x1 for b in boxes), min(b.y1 for b in boxes)
    x2, y2 = max(b.x2 for b in boxes), max(b.y2 for b in boxes)
    grow_y, grow_x = margin * (y2 - y1), max(0.5 * (x2 - x1), margin * (y2 - y1))
    h, w = shape
    region = Box(float(np.floor(max(0, x1 - grow_x))), float(np.floor(max(0, y1 - grow_y))),
                 float(np.ceil(min(w, x2 + grow_x))), float(np.ceil(min(h, y2 + grow_y))))
    if region.area > max_fraction * w * h:
        return None
    return region


@dataclass
class Detector:
    """A trained detector from its model folder; ``detect`` takes film pixels (H, W) in [0, 1]."""

    network: torch.nn.Module
    imgsz: int
    levels: tuple[str, ...]
    predict: PredictConfig = field(default_factory=PredictConfig)
    device: str = "cpu"

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "Detector":
        folder = Path(folder)
        meta = stage_meta(folder, "detector")
        model_yaml = yaml.safe_load((folder / "model.yaml").read_text())
        network = build_network(model_yaml, nc=len(meta["classes"]))
        load_weights(network, folder)
        network.eval().to(device)
        levels = tuple(meta["classes"]) if len(meta["classes"]) > 1 else ()
        predict = build(PredictConfig, meta.get("predict", {}), f"{folder}/meta.json predict")
        return cls(network, int(meta["input"]["imgsz"]), levels, predict, device)

    def with_predict(self, predict: PredictConfig) -> "Detector":
        """The same network with other decoding settings."""
        return replace(self, predict=predict)

    def detect_once(self, pixels: np.ndarray) -> list[Detection]:
        """One pass over the whole array: detections in its px."""
        batch, scale = prepare(pixels, self.imgsz)
        raw = raw_outputs(self.network, batch.to(self.device))
        return decode(raw, scale, self.predict.conf, self.predict.iou, self.predict.max_det, self.levels)

    def detect(self, pixels: np.ndarray, priors: PriorsConfig | None = None) -> list[Detection]:
        """Detections in original px. When the first pass finds the spine in a small part of the film (an
        uncropped, full-length film), a second pass looks again at that region at full model resolution. Given the
        view's ``priors`` and a whole-film chain weaker than ``window_below`` x the expected count, windows down the
        film are read too (:meth:`detect_windows`), and their detections kept when the chain they give is
        ``window_gain`` times stronger (:func:`chain_strength`) than the film's alone."""
        whole = self.detect_whole(pixels)
        if self.predict.windows <= 0 or priors is None:
            return whole
        strength = chain_strength(whole, priors)
        if strength >= self.predict.window_below * len(priors.expected_levels):
            return whole
        windowed = self.detect_windows(pixels, whole)
        return windowed if chain_strength(windowed, priors) > self.predict.window_gain * strength else whole

    def detect_windows(self, pixels: np.ndarray, whole: list[Detection]) -> list[Detection]:
        """``whole`` merged (non-maximum suppression) with the detections of ``windows`` full-width windows,
        ``window_height`` of the film tall, spread evenly from its top to its bottom."""
        import torchvision

        h = max(1, int(round(pixels.shape[0] * self.predict.window_height)))
        found = list(whole)
        for y0 in np.linspace(0, pixels.shape[0] - h, self.predict.windows).round().astype(int):
            found += [replace(d, box=Box(d.box.x1, d.box.y1 + y0, d.box.x2, d.box.y2 + y0)) for d in self.detect_once(pixels[y0 : y0 + h])]
        if not found:
            return found
        boxes = torch.tensor([d.box.as_list() for d in found], dtype=torch.float32)
        keep = torchvision.ops.nms(boxes, torch.tensor([d.score for d in found], dtype=torch.float32), self.predict.iou)
        return [found[k] for k in keep.tolist()]

    def detect_whole(self, pixels: np.ndarray) -> list[Detection]:
        """The whole film's detections: one pass, and a second over the spine's region when it is small."""
        first = self.detect_once(pixels)
        region = spine_region(first, pixels.shape, self.predict.region_margin)
        if not self.predict.two_pass or region is None:
            return first
        crop = Crop(region, (max(1, round(region.width)), max(1, round(region.height))))
        x0, y0 = int(round(region.x1)), int(round(region.y1))
        inner = self.detect_once(pixels[y0 : y0 + crop.size[1], x0 : x0 + crop.size[0]])
        mapped = [Detection(crop.box_to_image(d.box), d.score, d.level_scores, d.levels) for d in inner]
        outside = [d for d in first if not _inside(d.box, region)]
        return mapped + outside


def chain_strength(detections: list[Detection], priors: PriorsConfig) -> float:
    """Summed score of the found (not inferred) members of the chain the priors draw from ``detections``."""
    return float(sum(v.score for v in apply_priors(detections, priors)[0].vertebrae if not v.inferred))
