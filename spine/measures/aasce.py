"""The AASCE 2019 organisers' Cobb protocol (their MATLAB ``angleCal``), and the challenge's error metrics.

The protocol works on image-pixel corners of the labelled vertebrae (17 for
T1-L5), in AASCE corner order, and on the image height. Each vertebra is
reduced to its *mid-line*: from the midpoint of its left side to the midpoint
of its right side. The largest angle between any two mid-lines is the first
angle. Whether the spine is S-shaped is decided from the endplate midpoints;
if it is not, the other two angles are taken between the top mid-line and the
upper of the two most tilted vertebrae, and between the bottom mid-line and
the lower one. If it is S-shaped, the upper-half rule or the lower-half rule
below applies, using the *inferior* endplate midpoint of each of the two most
tilted vertebrae (a widely copied Python port uses the superior endplate of
the next vertebra here, and disagrees with ``angles.csv`` on some films).

The output order is the organisers' ``angles.csv`` column order: the largest
angle first, then the two others as above (their header calls them PT, MT,
TL/L, but the first column is the largest angle wherever the curve is).
"""

from __future__ import annotations

import numpy as np


def _acos_deg(cosine: np.ndarray) -> np.ndarray:
    """acos of a cosine rounded to 8 decimals (MATLAB ``roundn(x, -8)``), in degrees."""
    return np.degrees(np.arccos(np.clip(np.round(cosine, 8), -1.0, 1.0)))


def midlines(corners: np.ndarray) -> np.ndarray:
    """(N, 2) vectors from each vertebra's left-side midpoint to its right-side midpoint; corners (N, 4, 2) image px."""
    c = np.asarray(corners, dtype=float)
    return (c[:, 1] + c[:, 3]) / 2 - (c[:, 0] + c[:, 2]) / 2


def _pair_angles(vectors: np.ndarray) -> np.ndarray:
    norms = np.sqrt((vectors * vectors).sum(axis=1))
    return _acos_deg((vectors @ vectors.T) / np.outer(norms, norms))


def is_s_shaped(endplate_mids: np.ndarray) -> bool:
    """The organisers' S test on the (2N, 2) endplate midpoints: the normalised chord deviations change sign.

    A division by zero (first and last point on one vertical or horizontal
    line) makes the test true, as it does in MATLAB (NaN != NaN).
    """
    p = np.asarray(endplate_mids, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = (p[:-2, 1] - p[-1, 1]) / (p[0, 1] - p[-1, 1]) - (p[:-2, 0] - p[-1, 0]) / (p[0, 0] - p[-1, 0])
        outer = np.outer(ll, ll)
        return bool(outer.sum() != np.abs(outer).sum())


def _max_from(angles: np.ndarray, row: int, cols: range) -> tuple[float, int]:
    """Largest angle between vertebra ``row`` and those in ``cols``; first index on ties (MATLAB max)."""
    values = angles[row, list(cols)]
    k = int(np.argmax(values))
    return float(values[k]), cols[k]


def aasce_cobb(corners: np.ndarray, image_height: float) -> tuple[list[float], tuple[int, int]]:
    """The organisers' three angles (degrees, ``angles.csv`` order) and the two most tilted vertebrae (0-based).

    corners: (N, 4, 2) image px, AASCE corner order, vertebrae top to bottom.
    image_height: the film's height in px.
    """
    c = np.asarray(corners, dtype=float)
    n = len(c)
    if n < 2:
        raise ValueError("the AASCE protocol needs at least two vertebrae")
    angles = _pair_angles(midlines(c))
    # MATLAB [maxt, pos1] = max(angles); [pt, pos2] = max(maxt): the upper vertebra of the first maximal pair.
    upper = int(np.argmax(angles.max(axis=0)))
    lower = int(np.argmax(angles[:, upper]))
    largest = float(angles[lower, upper])
    mids = c.reshape(-1, 2, 2).mean(axis=1)  # (2N, 2) endplate midpoints, superior then inferior per vertebra
    if not is_s_shaped(mids):
        return [largest, float(angles[0, upper]), float(angles[n - 1, lower])], (upper, lower)
    second, top_end = _max_from(angles, upper, range(0, upper + 1))
    if mids[2 * upper + 1, 1] + mids[2 * lower + 1, 1] < image_height:
        third, _ = _max_from(angles, lower, range(lower, n))
    else:
        third, _ = _max_from(angles, top_end, range(0, top_end + 1))
    return [largest, second, third], (upper, lower)


def smape(predicted: np.ndarray, truth: np.ndarray) -> float:
    """AASCE symmetric mean absolute percentage error, %: mean over films of sum|p - t| / sum(p + t) x 100.

    predicted, truth: (M, 3) Cobb angles in degrees. A film whose angles are all 0 in both counts as 0 error.
    """
    return float(smape_per_film(predicted, truth).mean())


def smape_per_film(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each film's share of :func:`smape`, %: sum|p - t| / sum(p + t) x 100 (their mean is the SMAPE)."""
    p, t = np.atleast_2d(np.asarray(predicted, float)), np.atleast_2d(np.asarray(truth, float))
    num, den = np.abs(p - t).sum(axis=1), (p + t).sum(axis=1)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0) * 100


def cmae(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Cobb mean absolute error, degrees, over every angle of every film (the companion of SMAPE in AASCE reports)."""
    p, t = np.asarray(predicted, float), np.asarray(truth, float)
    return float(np.abs(p - t).mean())
