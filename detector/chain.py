"""Film pixels -> the named chain: the detector, the view's count and ordering priors, the level identifier.

The detector stage's whole answer: a :class:`ChainFinder` is what the pipeline and every evaluation of naming use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from detector.config import DetectorSpec
from detector.predict import Detector
from detector.priors import PriorsConfig, apply_priors, snap_inferred
from spine import config as configlib
from spine.contracts import NamesLevels
from spine.geometry import Spine, level_range
from spine.stopwatch import NO_CLOCK


def lateral_priors(priors: PriorsConfig) -> PriorsConfig:
    """The same chain priors expecting the lateral run, T1-S1."""
    return replace(priors, expected_levels=level_range("T1", "S1"))


@dataclass
class ChainFinder:
    """The detector, the count and ordering priors of the view, then the level identifier when there is one (else
    the priors name the chain by its count); last, each inferred vertebra takes the box of a weak detection that
    overlaps it (``priors.snap_iou``)."""

    detector: Detector
    priors_ap: PriorsConfig
    priors_lat: PriorsConfig
    levels: NamesLevels | None = None

    def priors(self, view: str) -> PriorsConfig:
        return self.priors_lat if view == "LAT" else self.priors_ap

    def find(self, pixels: np.ndarray, view: str = "AP", spacing_mm=None, age: float | None = None,
             sex: str | None = None, clock=NO_CLOCK) -> tuple[Spine, list[str]]:
        """(spine cranial first, warnings); ``view`` 'AP', 'PA' or 'LAT'; ``clock`` times the steps
        (:class:`spine.stopwatch.Stopwatch`)."""
        priors = self.priors(view)
        with clock("detect"):
            detections = self.detector.detect(pixels, priors)
        with clock("priors"):
            chain, warnings = apply_priors(detections, priors, view, spacing_mm, self.levels is None, pixels.shape[1])
        with clock("levels"):
            if self.levels is not None and len(chain):
                chain, named, _ = self.levels.name(pixels, chain, priors.expected_levels, age, sex)
                warnings = warnings + named
            return snap_inferred(chain, detections, priors.snap_iou), warnings

    def __call__(self, pixels: np.ndarray, view: str = "AP") -> Spine:
        return self.find(pixels, view)[0]


def chain_finder(folder: str | Path, device: str = "cpu", levels: str | Path | None = None) -> ChainFinder:
    """A :class:`ChainFinder` from a detector model folder alone (its network, decoding settings and the priors of
    its own config), with the level identifier of ``levels`` when given: ``finder(pixels, view) -> Spine``."""
    cfg = configlib.load_part(DetectorSpec, Path(folder) / "config.yaml")
    detector = Detector.load(folder, device).with_predict(cfg.predict)
    identifier = None
    if levels is not None:
        from detector.levels.predict import LevelIdentifier

        identifier = LevelIdentifier.load(levels, device)
    return ChainFinder(detector, cfg.priors, lateral_priors(cfg.priors), identifier)
