"""Run the level map on a film: the frame around a chain, the network (ONNX Runtime on the CPU), the per-member
evidence the chain decode adds, and the ends of T1-L5 it paints where the chain has no member."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from detector.levelmap.config import EvidenceConfig, FrameConfig, LevelMapSpec
from detector.levelmap.frame import chain_frame, chain_pitch, decode_evidence, member_evidence, painted_boxes
from detector.levelmap.model import build_model, model_input
from spine import config as configlib
from spine.crop import Crop
from spine.geometry import Box
from spine.modelfolder import load_weights, stage_meta
from spine.onnxrun import Runtime, runner


@dataclass(frozen=True, eq=False)
class FilmLevels:
    """One film's map: probs (C, H, W) over MAP_CLASSES in the frame ``crop`` of the chain whose pitch is ``pitch``."""

    probs: np.ndarray
    crop: Crop
    pitch: float


@dataclass
class LevelMap:
    network: torch.nn.Module
    frame: FrameConfig
    evidence_cfg: EvidenceConfig
    device: str = "cpu"
    runtime: Runtime = "onnx"
    run: Callable | None = None

    def __post_init__(self) -> None:
        if self.run is None:
            self.run = runner(self.network.eval(), self.runtime, self.device, (1, 1, self.frame.height, self.frame.width))

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", runtime: Runtime = "onnx") -> "LevelMap":
        folder = Path(folder)
        stage_meta(folder, "levelmap")
        cfg = configlib.load_part(LevelMapSpec, folder / "config.yaml")
        network = build_model(cfg.model)
        load_weights(network, folder)
        return cls(network.eval().to(device), cfg.frame, cfg.evidence, device, runtime)

    @property
    def proposes_ends(self) -> bool:
        return self.evidence_cfg.propose

    @property
    def warns(self) -> bool:
        return self.evidence_cfg.warn

    @torch.no_grad()
    def read(self, pixels: np.ndarray, boxes: np.ndarray) -> FilmLevels:
        """The map of the frame around the chain's ``boxes`` (n, 4) image px, cranial first."""
        crop = chain_frame(boxes, self.frame)
        frame = torch.from_numpy(np.ascontiguousarray(crop.extract(np.asarray(pixels, np.float32)))[None, None])
        logits = self.run(model_input(frame).to(self.device))
        probs = torch.softmax(torch.as_tensor(logits).float(), dim=1)[0].cpu().numpy()
        return FilmLevels(probs, crop, chain_pitch(boxes))

    def evidence(self, levels: FilmLevels, boxes: np.ndarray) -> np.ndarray:
        """(n, len(CLASSES)) weighted log-likelihoods of the members' levels, to add to the identifier's."""
        cfg = self.evidence_cfg
        return cfg.weight * decode_evidence(member_evidence(levels.probs, levels.crop, boxes), cfg.use)

    def ends(self, levels: FilmLevels, boxes: np.ndarray) -> list[tuple[str, Box]]:
        """Levels the map paints above the chain's first member or below its last, more than half a pitch from
        any member, cranial first: the vertebrae the detector missed at the chain's ends."""
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        centres_y = (boxes[:, 1] + boxes[:, 3]) / 2
        out = []
        for level, box in painted_boxes(levels.probs, levels.crop, levels.pitch, self.evidence_cfg.min_area).items():
            y = box.center[1]
            beyond = y < centres_y.min() - levels.pitch / 2 or y > centres_y.max() + levels.pitch / 2
            if beyond and np.min(np.abs(centres_y - y)) > levels.pitch / 2:
                out.append((level, box))
        return sorted(out, key=lambda item: item[1].center[1])
