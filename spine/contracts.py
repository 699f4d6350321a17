"""What each stage role promises the pipeline: one typed Protocol per role, whatever variant fills it.

    Detects        film pixels -> raw detections (boxes in image px, scores)
    NamesLevels    film pixels, a chain -> the chain named (vertebrae dropped or inserted), warnings, the decode
    ReadsLevels    film pixels, a chain's boxes -> the whole film's level evidence (read by a NamesLevels)
    Outlines       film pixels, vertebra boxes -> one amodal outline per box (or None)
    Corners        film pixels, vertebra boxes (one chain, cranial first) -> (4, 2) corners per box

Pixels are (H, W) float32 in [0, 1]; every coordinate is original image px, (x, y). The variants that fill a role
(a crop or whole-film UNet++, ...) are registered by the tools
(:mod:`pipeline.stages`), never imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from spine.geometry import Box, Polygon, Spine


@dataclass(frozen=True, eq=False)
class Detection:
    """A raw detector output: box in image px, confidence, optional per-level probabilities (over ``levels``)."""

    box: Box
    score: float
    level_scores: np.ndarray | None = None
    levels: tuple[str, ...] = ()


@runtime_checkable
class Detects(Protocol):
    def detect(self, pixels: np.ndarray) -> list[Detection]: ...


@runtime_checkable
class NamesLevels(Protocol):
    def name(self, pixels: np.ndarray, chain: Spine, expected: tuple[str, ...], age: float | None = None,
             sex: str | None = None) -> tuple[Spine, list[str], object]: ...


@runtime_checkable
class ReadsLevels(Protocol):
    """``read`` gives the film's reading around a chain's boxes (with ``pitch``, the chain's, px); ``evidence`` the
    members' log-likelihoods over the decode's classes from it; ``ends`` the levels it finds beyond the chain's ends.
    ``proposes_ends``: whether those become candidate members; ``warns``: whether its own naming may dispute."""

    @property
    def proposes_ends(self) -> bool: ...

    @property
    def warns(self) -> bool: ...

    def read(self, pixels: np.ndarray, boxes: np.ndarray) -> object: ...

    def evidence(self, reading: object, boxes: np.ndarray) -> np.ndarray: ...

    def ends(self, reading: object, boxes: np.ndarray) -> list[tuple[str, Box]]: ...


@runtime_checkable
class Outlines(Protocol):
    def outlines(self, pixels: np.ndarray, boxes: Sequence[Box]) -> list[Polygon | None]: ...


def outlines_to_fill(segmenter: Outlines, pixels: np.ndarray, boxes: Sequence[Box],
                     drawn: Sequence[Polygon | None]) -> list[Polygon | None]:
    """One outline per box: the one ``drawn`` already (by the segmenter, when the box was re-drawn from it), else
    the segmenter's read in the box, all those in one call."""
    missing = [k for k, outline in enumerate(drawn) if outline is None]
    read = iter(segmenter.outlines(pixels, [boxes[k] for k in missing]) if missing else [])
    return [outline if outline is not None else next(read) for outline in drawn]


@runtime_checkable
class Corners(Protocol):
    def corners(self, pixels: np.ndarray, boxes: Sequence[Box]) -> list[np.ndarray]: ...
