"""The model set the end-to-end tools load once: detector, priors, segmenter and corner model from one folder.

    <models>/meta.json        what the set is: stages, data, split, validation figures, code version
    <models>/pipeline.yaml    the resolved pipeline options (priors per view, corner method)
    <models>/detector/        a detector model folder
    <models>/segmenter/       a segmenter model folder
    <models>/keypoints/       a keypoints model folder (absent when corners come from the mask fit)
    <models>/levels/          a level identifier model folder (absent: the chain is named by its count)
    <models>/levelmap/        a level map model folder: whole-film level evidence the identifier adds (absent: none)
    <models>/framer/          a keypoints model folder, box-robust, that re-draws the found boxes (used with
                              ``reframe: framer``; absent: they stay)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipeline.lib import config as configlib
from pipeline.lib.contracts import Corners, Detects, NamesLevels, Outlines, outlines_to_fill
from pipeline.lib.geometry import Polygon, Spine, level_range
from pipeline.lib.modelfolder import check_meta, code_version, folder_digest, read_meta
from pipeline.lib.paths import DEFAULT_MODELS
from pipeline.lib.priors import PriorsConfig

if TYPE_CHECKING:
    import numpy as np


@lru_cache(maxsize=1)
def _running_code() -> str:
    return code_version()


def _lateral_priors() -> PriorsConfig:
    return PriorsConfig(expected_levels=level_range("T1", "S1"))


@dataclass(frozen=True)
class InferenceOptions:
    """priors_ap / priors_lat: count and ordering priors per view; corners: 'keypoints' (the trained head) or
    'mask_fit' (quadrilateral fit to the segmenter's outline); reframe: how the found boxes are re-drawn before
    the corners are read: 'outline' (the bounding box of the segmenter's outline, which then is the vertebra's
    mask: no network beyond the segmenter), 'framer' (the bounding box of the corners the set's ``framer/`` head
    reads; none without one) or 'none'. A set written before the key existed runs as it did then
    (:func:`inference_options`)."""

    priors_ap: PriorsConfig = field(default_factory=PriorsConfig)
    priors_lat: PriorsConfig = field(default_factory=_lateral_priors)
    corners: Literal["keypoints", "mask_fit"] = "keypoints"
    reframe: Literal["framer", "outline", "none"] = "outline"
    default_view: Literal["AP", "PA", "LAT"] = "AP"

    def priors(self, view: str) -> PriorsConfig:
        return self.priors_lat if view == "LAT" else self.priors_ap


def inference_options(folder: Path) -> InferenceOptions:
    """The options of the set in ``folder`` (its ``pipeline.yaml``; defaults without one). A set written before
    ``reframe`` existed (2026-11-29) runs as it did then: its boxes re-drawn by its ``framer/`` if it holds one,
    else not at all (``reframe: framer``)."""
    path = folder / "pipeline.yaml"
    options = configlib.load(InferenceOptions, path) if path.exists() else InferenceOptions()
    written_before = not path.exists() or "reframe" not in (configlib.read_yaml(path) or {})
    return replace(options, reframe="framer") if written_before else options


@dataclass
class ModelSet:
    """The stages of one model set, each typed by its role (:mod:`pipeline.lib.contracts`), loaded through the
    registry of variants (:mod:`pipeline.stages`)."""

    detector: Detects
    segmenter: Outlines
    corners: Corners
    options: InferenceOptions
    meta: dict
    folder: Path
    levels: NamesLevels | None = None
    framer: Corners | None = None

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
        version running it, and how each network ran ('torch', 'onnx' or 'onnx-int8'; 'mask_fit' for corners fitted
        to the outlines)."""
        from pipeline.lib.onnxrun import runtime_of

        stages = {"segmenter": self.segmenter, "keypoints": self.corners, "framer": self.framer, "levels": self.levels,
                  "levelmap": getattr(self.levels, "film", None)}
        runtimes = {name: runtime_of(getattr(stage, "run", None) or getattr(stage, "embed", None)) if hasattr(stage, "network")
                    else "mask_fit" for name, stage in stages.items() if stage is not None}
        return {"name": self.meta.get("name", self.folder.name), "set_code_version": self.meta.get("code_version", "unknown"),
                "code_version": _running_code(), "runtimes": runtimes, "digest": self.digest}

    @property
    def finder(self):
        """The detector, the view's priors, the level identifier and the framer as one ``find(pixels, view, ...)``."""
        from detector.predict import SpineFinder

        framer = {"framer": self.framer, "outline": self.segmenter, "none": None}[self.options.reframe]
        return SpineFinder(self.detector, self.options.priors_ap, self.options.priors_lat, self.levels, framer)

    def outlines(self, pixels: np.ndarray, spine: Spine) -> list[Polygon | None]:
        """Each vertebra's outline: the mask it carries (drawn when its box was re-drawn from it), else the
        segmenter's, read in its box."""
        return outlines_to_fill(self.segmenter, pixels, [v.box for v in spine.vertebrae], [v.mask for v in spine.vertebrae])

    @classmethod
    def load(cls, folder: str | Path | None = None, device: str = "cpu") -> "ModelSet":
        """Load every stage once; ``folder`` defaults to the shipped model (models/default). Optional stages
        missing from the folder are left out (no level identifier: the chain is named by its count; no keypoint
        head, or ``options.corners: mask_fit``: corners from the segmenter's outlines; no framer: with ``reframe:
        framer`` the found boxes are not re-drawn; the framer folder is not loaded with any other ``reframe``)."""
        from pipeline.stages import STAGES, load_stage, mask_fit_corners

        folder = Path(folder) if folder else DEFAULT_MODELS
        meta = read_meta(folder)
        check_meta(meta, folder, "model-set")
        options = inference_options(folder)
        loaded = {}
        for stage in STAGES:
            present = (folder / stage.name / "meta.json").exists()
            if not present and not stage.optional:
                raise FileNotFoundError(f"{folder}: no {stage.name} model folder")
            unused = (stage.name == "keypoints" and options.corners == "mask_fit") or \
                (stage.name == "framer" and options.reframe != "framer")
            if present and not unused:
                loaded[stage.name] = load_stage(stage.name, folder / stage.name, device)
        if loaded.get("levels") is not None and loaded.get("levelmap") is not None:
            loaded["levels"].film = loaded["levelmap"]
        return cls(loaded["detector"], loaded["segmenter"], loaded.get("keypoints") or mask_fit_corners(), options, meta,
                   folder, loaded.get("levels"), loaded.get("framer"))
