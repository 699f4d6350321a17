"""Box error: how far the detector's boxes sit from the true ones, measured, and drawn again for training.

An error is four numbers relative to the true box (w, h): centre shift (dx / w, dy / h) and log size ratios
(log w' / w, log h' / h). The crop stages train on crops framed by true boxes moved by errors drawn from the
measured distribution (a Gaussian per number), so that at inference a detector's box frames the vertebra the way
training did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spine.config import ConfigError

# Measured on 80 AASCE training films (1,321 vertebrae paired at IoU >= 0.3) with the shipped detector and its
# priors: python -m detector.training.evaluate --models models/default/detector --box-error
DETECTOR_ERROR_MEAN = (0.005, 0.011, -0.019, 0.021)
DETECTOR_ERROR_STD = (0.041, 0.069, 0.101, 0.120)


@dataclass(frozen=True)
class BoxJitter:
    """probability: share of training crops framed by a moved box (the rest by the true box); mean / std:
    (dx / w, dy / h, log w'/w, log h'/h) of the Gaussian the moves are drawn from; spread scales the std.
    Off by default: trained with it (0.8), neither crop stage did better on the detector's boxes and both did worse
    on true ones (see docs/RESULTS.md, ablations ``*__jitter``), so the shipped segmenter and keypoint head are trained
    without."""

    probability: float = 0.0
    mean: tuple[float, ...] = DETECTOR_ERROR_MEAN
    std: tuple[float, ...] = DETECTOR_ERROR_STD
    spread: float = 1.0

    def validate(self) -> None:
        if not 0 <= self.probability <= 1:
            raise ConfigError(f"jitter.probability={self.probability} must be in [0, 1]")
        if len(self.mean) != 4 or len(self.std) != 4 or min(self.std) < 0:
            raise ConfigError("jitter.mean and jitter.std need 4 numbers each (dx/w, dy/h, log w'/w, log h'/h), std >= 0")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 4) relative errors; rows of zeros (the true box) with probability 1 - ``probability``."""
        errors = rng.normal(self.mean, np.asarray(self.std) * self.spread, size=(n, 4))
        return errors * (rng.random(n) < self.probability)[:, None]


def relative_error(true: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(N, 4) errors of ``found`` boxes against ``true`` ones (both (N, 4) xyxy): dx/w, dy/h, log w'/w, log h'/h."""
    true, found = np.asarray(true, float).reshape(-1, 4), np.asarray(found, float).reshape(-1, 4)
    w, h = true[:, 2] - true[:, 0], true[:, 3] - true[:, 1]
    dx = ((found[:, 0] + found[:, 2]) - (true[:, 0] + true[:, 2])) / 2 / w
    dy = ((found[:, 1] + found[:, 3]) - (true[:, 1] + true[:, 3])) / 2 / h
    return np.stack([dx, dy, np.log((found[:, 2] - found[:, 0]) / w), np.log((found[:, 3] - found[:, 1]) / h)], axis=1)


def apply_error(boxes: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Boxes (N, 4) xyxy moved by relative ``errors`` (N, 4): the inverse of :func:`relative_error`."""
    boxes, errors = np.asarray(boxes, float).reshape(-1, 4), np.asarray(errors, float).reshape(-1, 4)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + errors[:, 0] * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + errors[:, 1] * h
    w2, h2 = w * np.exp(errors[:, 2]), h * np.exp(errors[:, 3])
    return np.stack([cx - w2 / 2, cy - h2 / 2, cx + w2 / 2, cy + h2 / 2], axis=1)
