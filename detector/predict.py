"""Detector inference: a film in, raw vertebra detections out, in original image px.

The film is resized so its long side is the model's ``imgsz``, padded right
and bottom to a multiple of 32, run through the network; the raw outputs are
decoded by non-maximum suppression and mapped back by the resize factor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from detector.model import build_network, raw_outputs
from detector.priors import PriorsConfig, apply_priors, snap_inferred
from spine.contracts import Detection, Outlines
from spine.crop import Crop
from spine.geometry import Box, Spine, level_range
from spine.modelfolder import load_weights, read_meta

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
    conf: float = 0.05
    iou: float = 0.6
    max_det: int = 80
    device: str = "cpu"
    two_pass: bool = True
    region_margin: float = 0.15
    windows: int = 3
    window_height: float = 0.5
    window_gain: float = 1.15
    window_below: float = 0.6

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "Detector":
        folder = Path(folder)
        meta = read_meta(folder)
        if meta.get("stage") != "detector":
            raise ValueError(f"{folder}: not a detector model folder (stage {meta.get('stage')!r})")
        model_yaml = yaml.safe_load((folder / "model.yaml").read_text())
        network = build_network(model_yaml, nc=len(meta["classes"]))
        load_weights(network, folder)
        network.eval().to(device)
        from detector.config import PredictConfig
        from spine.config import build

        levels = tuple(meta["classes"]) if len(meta["classes"]) > 1 else ()
        predict = build(PredictConfig, meta.get("predict", {}), f"{folder}/meta.json predict")
        return cls(network, int(meta["input"]["imgsz"]), levels, device=device).with_predict(predict)

    def with_predict(self, predict) -> "Detector":
        """The same network with other decoding settings (a PredictConfig)."""
        return replace(self, conf=predict.conf, iou=predict.iou, max_det=predict.max_det, two_pass=predict.two_pass,
                       region_margin=predict.region_margin, windows=predict.windows, window_height=predict.window_height,
                       window_gain=predict.window_gain, window_below=predict.window_below)

    def detect_once(self, pixels: np.ndarray) -> list[Detection]:
        """One pass over the whole array: detections in its px."""
        batch, scale = prepare(pixels, self.imgsz)
        raw = raw_outputs(self.network, batch.to(self.device))
        return decode(raw, scale, self.conf, self.iou, self.max_det, self.levels)

    def detect(self, pixels: np.ndarray, priors: PriorsConfig | None = None) -> list[Detection]:
        """Detections in original px. When the first pass finds the spine in a small part of the film (an
        uncropped, full-length film), a second pass looks again at that region at full model resolution. Given the
        view's ``priors`` and a whole-film chain weaker than ``window_below`` x the expected count, windows down the
        film are read too (:meth:`detect_windows`), and their detections kept when the chain they give is
        ``window_gain`` times stronger (:func:`chain_strength`) than the film's alone."""
        whole = self.detect_whole(pixels)
        if self.windows <= 0 or priors is None:
            return whole
        strength = chain_strength(whole, priors)
        if strength >= self.window_below * len(priors.expected_levels):
            return whole
        windowed = self.detect_windows(pixels, whole)
        return windowed if chain_strength(windowed, priors) > self.window_gain * strength else whole

    def detect_windows(self, pixels: np.ndarray, whole: list[Detection]) -> list[Detection]:
        """``whole`` merged (non-maximum suppression) with the detections of ``windows`` full-width windows,
        ``window_height`` of the film tall, spread evenly from its top to its bottom."""
        import torchvision

        h = max(1, int(round(pixels.shape[0] * self.window_height)))
        found = list(whole)
        for y0 in np.linspace(0, pixels.shape[0] - h, self.windows).round().astype(int):
            found += [replace(d, box=Box(d.box.x1, d.box.y1 + y0, d.box.x2, d.box.y2 + y0)) for d in self.detect_once(pixels[y0 : y0 + h])]
        if not found:
            return found
        boxes = torch.tensor([d.box.as_list() for d in found], dtype=torch.float32)
        keep = torchvision.ops.nms(boxes, torch.tensor([d.score for d in found], dtype=torch.float32), self.iou)
        return [found[k] for k in keep.tolist()]

    def detect_whole(self, pixels: np.ndarray) -> list[Detection]:
        """The whole film's detections: one pass, and a second over the spine's region when it is small."""
        first = self.detect_once(pixels)
        region = spine_region(first, pixels.shape, self.region_margin)
        if not self.two_pass or region is None:
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


def lateral_priors(priors: PriorsConfig) -> PriorsConfig:
    """The same chain priors expecting the lateral run, T1-S1."""
    return replace(priors, expected_levels=level_range("T1", "S1"))


@dataclass
class SpineFinder:
    """Film pixels -> the named chain: the detector, the count and ordering priors of the view, then the level
    identifier when there is one (else the priors name the chain by its count); then each inferred vertebra takes
    the box of a weak detection that overlaps it (``priors.snap_iou``); last, with ``redraw`` (the segmenter), every
    box is re-drawn from its outline (:func:`reframe`)."""

    detector: Detector
    priors_ap: PriorsConfig
    priors_lat: PriorsConfig
    levels: object | None = None  # a detector.levels.predict.LevelIdentifier
    redraw: Outlines | None = None

    def priors(self, view: str) -> PriorsConfig:
        return self.priors_lat if view == "LAT" else self.priors_ap

    def find(self, pixels: np.ndarray, view: str = "AP", spacing_mm=None, age: float | None = None,
             sex: str | None = None) -> tuple[Spine, list[str]]:
        """(spine cranial first, warnings); ``view`` 'AP', 'PA' or 'LAT'."""
        priors = self.priors(view)
        detections = self.detector.detect(pixels, priors)
        chain, warnings = apply_priors(detections, priors, view, spacing_mm, self.levels is None, pixels.shape[1])
        if self.levels is not None and len(chain):
            chain, named, _ = self.levels.name(pixels, chain, priors.expected_levels, age, sex)
            warnings = warnings + named
        chain = snap_inferred(chain, detections, priors.snap_iou)
        return (reframe(pixels, chain, self.redraw) if self.redraw is not None else chain), warnings

    def __call__(self, pixels: np.ndarray, view: str = "AP") -> Spine:
        return self.find(pixels, view)[0]


def reframe(pixels: np.ndarray, spine: Spine, segmenter: Outlines, min_iou: float = 0.3) -> Spine:
    """``spine`` with each vertebra's box re-drawn as the bounding box of the outline ``segmenter`` reads
    in it, which the vertebra then keeps as its mask. A box is kept where the re-drawn one overlaps it by less than
    ``min_iou`` (the outline left the vertebra it was given). Names, scores and flags are kept."""
    if not len(spine):
        return spine
    outlines = segmenter.outlines(pixels, [v.box for v in spine.vertebrae])
    out = []
    for v, outline in zip(spine.vertebrae, outlines):
        box = Box.from_points(np.asarray(outline.points)) if outline is not None else v.box
        redrawn = box.width > 1 and box.height > 1 and box.iou(v.box) >= min_iou
        out.append(v.with_(box=box if redrawn else v.box, mask=outline if outline is not None else v.mask))
    return spine.with_(vertebrae=tuple(out))


def spine_finder(folder: str | Path, device: str = "cpu", levels: str | Path | None = None) -> SpineFinder:
    """A :class:`SpineFinder` from a detector model folder alone (its network, decoding settings and the priors of
    its own config), with the level identifier of ``levels`` when given: ``finder(pixels, view) -> Spine``."""
    from detector.config import DetectorConfig
    from spine import config as configlib

    cfg = configlib.load(DetectorConfig, Path(folder) / "config.yaml")
    detector = Detector.load(folder, device).with_predict(cfg.predict)
    identifier = None
    if levels is not None:
        from detector.levels.predict import LevelIdentifier

        identifier = LevelIdentifier.load(levels, device)
    return SpineFinder(detector, cfg.priors, lateral_priors(cfg.priors), identifier)
