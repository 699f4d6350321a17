"""The model set the end-to-end tools load once: detector, priors, level identifier and map, segmenter and corner
head from one folder.

    <models>/meta.json        what the set is: stages, data, split, validation figures, code version
    <models>/pipeline.yaml    the resolved pipeline options (priors per view, how found boxes are re-drawn)
    <models>/detector/        a detector model folder
    <models>/segmenter/       a segmenter model folder
    <models>/keypoints/       a keypoints model folder
    <models>/levels/          a level identifier model folder (absent: the chain is named by its count)
    <models>/levelmap/        a level map model folder: whole-film level evidence the identifier adds (absent: none)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from detector.chain import ChainFinder, lateral_priors
from detector.priors import PriorsConfig
from pipeline.finder import SpineFinder
from pipeline.stages import STAGES, load_stage
from spine import config as configlib
from spine.contracts import Corners, Detects, NamesLevels, Outlines, outlines_to_fill
from spine.geometry import Polygon, Spine
from spine.modelfolder import check_meta, code_version, folder_digest, read_meta
from spine.onnxrun import runtime_of
from spine.paths import DEFAULT_MODELS

if TYPE_CHECKING:
    import numpy as np


@lru_cache(maxsize=1)
def _running_code() -> str:
    return code_version()


@dataclass(frozen=True)
class InferenceOptions:
    """priors_ap / priors_lat: count and ordering priors per view; reframe: how the found boxes are re-drawn before
    the corners are read: 'outline' (the bounding box of the segmenter's outline, which then is the vertebra's
    mask: no network beyond the segmenter) or 'none'."""

    priors_ap: PriorsConfig = field(default_factory=PriorsConfig)
    priors_lat: PriorsConfig = field(default_factory=lambda: lateral_priors(PriorsConfig()))
    reframe: Literal["outline", "none"] = "outline"
    default_view: Literal["AP", "PA", "LAT"] = "AP"

    def priors(self, view: str) -> PriorsConfig:
        return self.priors_lat if view == "LAT" else self.priors_ap


def inference_options(folder: Path) -> InferenceOptions:
    """The options of the set in ``folder`` (its ``pipeline.yaml``; defaults without one)."""
    path = folder / "pipeline.yaml"
    return configlib.load(InferenceOptions, path) if path.exists() else InferenceOptions()


@dataclass
class ModelSet:
    """The stages of one model set, each typed by its role (:mod:`spine.contracts`), loaded through the
    registry of variants (:mod:`pipeline.stages`)."""

    detector: Detects
    segmenter: Outlines
    corners: Corners
    options: InferenceOptions
    meta: dict
    folder: Path
    levels: NamesLevels | None = None

    @property
    def version(self) -> str:
        """What names this model set in outputs: its name and the code version that assembled it."""
        return f"{self.meta.get('name', self.folder.name)} {self.meta.get('code_version', 'unknown')}"

    @cached_property
    def digest(self) -> str:
        """sha256 over every file of the set (names and bytes): what a result records to tell whether a later run
        would measure it with the same models."""
        return folder_digest(self.folder)

    @property
    def provenance(self) -> dict:
        """What a result records of the set that produced it: its name, the code version that assembled it, the code
        version running it, and how each network ran ('torch', 'onnx' or 'onnx-int8')."""
        stages = {"segmenter": self.segmenter, "keypoints": self.corners, "levels": self.levels,
                  "levelmap": getattr(self.levels, "film", None)}
        runtimes = {name: runtime_of(getattr(stage, "run", None) or getattr(stage, "embed", None))
                    for name, stage in stages.items() if stage is not None}
        return {"name": self.meta.get("name", self.folder.name), "set_code_version": self.meta.get("code_version", "unknown"),
                "code_version": _running_code(), "runtimes": runtimes, "digest": self.digest}

    @property
    def finder(self) -> SpineFinder:
        """The detector, the view's priors, the level identifier and the box re-drawing as one ``find(pixels, view, ...)``."""
        chain = ChainFinder(self.detector, self.options.priors_ap, self.options.priors_lat, self.levels)
        return SpineFinder(chain, self.segmenter if self.options.reframe == "outline" else None)

    def outlines(self, pixels: np.ndarray, spine: Spine) -> list[Polygon | None]:
        """Each vertebra's outline: the mask it carries (drawn when its box was re-drawn from it), else the
        segmenter's, read in its box."""
        return outlines_to_fill(self.segmenter, pixels, [v.box for v in spine.vertebrae], [v.mask for v in spine.vertebrae])

    @classmethod
    def load(cls, folder: str | Path | None = None, device: str = "cpu") -> "ModelSet":
        """Load every stage once; ``folder`` defaults to the shipped model (models/default). Optional stages
        missing from the folder are left out (no level identifier: the chain is named by its count; no level map:
        no whole-film evidence)."""
        folder = Path(folder) if folder else DEFAULT_MODELS
        meta = read_meta(folder)
        check_meta(meta, folder, "model-set")
        options = inference_options(folder)
        loaded = {}
        for stage in STAGES:
            present = (folder / stage.name / "meta.json").exists()
            if not present and not stage.optional:
                raise FileNotFoundError(f"{folder}: no {stage.name} model folder")
            if present:
                loaded[stage.name] = load_stage(stage.name, folder / stage.name, device)
        if loaded.get("levels") is not None and loaded.get("levelmap") is not None:
            loaded["levels"].film = loaded["levelmap"]
        return cls(loaded["detector"], loaded["segmenter"], loaded["keypoints"], options, meta, folder, loaded.get("levels"))
