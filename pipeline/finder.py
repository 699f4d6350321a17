"""The pipeline's finder: the detector stage's named chain, each box then re-drawn from the segmenter's outline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.chain import ChainFinder
from detector.priors import PriorsConfig
from spine.contracts import Outlines
from spine.geometry import Box, Spine
from spine.stopwatch import NO_CLOCK


@dataclass
class SpineFinder:
    """``chain`` finds and names the vertebrae (:class:`detector.chain.ChainFinder`); with ``redraw`` (the
    segmenter) every box is then re-drawn from its outline (:func:`reframe`)."""

    chain: ChainFinder
    redraw: Outlines | None = None

    def priors(self, view: str) -> PriorsConfig:
        return self.chain.priors(view)

    def find(self, pixels: np.ndarray, view: str = "AP", spacing_mm=None, age: float | None = None,
             sex: str | None = None, clock=NO_CLOCK) -> tuple[Spine, list[str]]:
        """(spine cranial first, warnings); ``view`` 'AP', 'PA' or 'LAT'; ``clock`` times the steps."""
        spine, warnings = self.chain.find(pixels, view, spacing_mm, age, sex, clock)
        with clock("reframe"):
            return (reframe(pixels, spine, self.redraw) if self.redraw is not None else spine), warnings

    def __call__(self, pixels: np.ndarray, view: str = "AP") -> Spine:
        return self.find(pixels, view)[0]


def reframe(pixels: np.ndarray, spine: Spine, segmenter: Outlines, min_iou: float = 0.3) -> Spine:
    """``spine`` with each vertebra's box re-drawn as the bounding box of the outline ``segmenter`` reads in it,
    which the vertebra then keeps as its mask. A box is kept where the re-drawn one overlaps it by less than
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
