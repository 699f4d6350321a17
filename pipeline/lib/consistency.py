"""Chain consistency: a corner that disagrees with its own vertebra and with the neighbours is put back in line.

Along the chain, the shape of a vertebral body changes slowly: each corner's offset from its vertebra's centre
is close to the same corner's offset on the neighbours (scaled by their size). For every corner, the others of
its vertebra locate the centre (each minus its neighbour-predicted offset), and the corner is expected at that
centre plus its own neighbour-predicted offset. The single worst corner of a vertebra is moved there when it alone is
further than ``threshold`` times the chain's median vertebra height (the two end vertebrae are left as they
are: nothing brackets them). Offsets are taken from each vertebra's own
centre, so a slip (a whole vertebra shifted) never triggers. A corner that makes its side shorter than the
neighbours predict is never moved: a wedge or crush fracture looks exactly so, and hiding one is the worse error;
what is corrected is a corner off sideways or outward, which no anatomy explains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConsistencyConfig:
    """neighbours: vertebrae on each side whose offsets predict a corner's; threshold: the move, as a share of the
    chain's median vertebra height, beyond which the worst corner of a vertebra is replaced, when it is alone:
    the next worst is off by less than ``lone`` times as much (a wedge or a crush moves two corners together)."""

    neighbours: int = 2
    threshold: float = 0.35
    lone: float = 0.5


def _size(corners: np.ndarray) -> np.ndarray:
    """(N,) mean endplate width of each vertebra (its scale along the chain)."""
    return (np.linalg.norm(corners[:, 1] - corners[:, 0], axis=-1) + np.linalg.norm(corners[:, 3] - corners[:, 2], axis=-1)) / 2


def _heights(corners: np.ndarray) -> np.ndarray:
    return (np.linalg.norm(corners[:, 2] - corners[:, 0], axis=-1) + np.linalg.norm(corners[:, 3] - corners[:, 1], axis=-1)) / 2


def predicted_offsets(corners: np.ndarray, neighbours: int) -> np.ndarray:
    """(N, 4, 2) each corner's offset from its vertebra's centre as the neighbours predict it: the median of their
    offsets of the same corner, scaled from their size to the size the two next to it suggest (nothing of the
    vertebra's own corners is used). NaN at the chain's ends, where the shape would be extrapolated, not bracketed:
    the sacrum and the first vertebra are shaped apart."""
    n = len(corners)
    offsets = corners - corners.mean(axis=1, keepdims=True)
    size = np.maximum(_size(corners), 1e-6)
    out = np.full_like(offsets, np.nan)
    for i in range(1, n - 1):
        near = [j for j in range(max(0, i - neighbours), min(n, i + neighbours + 1)) if j != i]
        own = np.sqrt(size[i - 1] * size[i + 1])
        out[i] = np.median(offsets[near] * (own / size[near])[:, None, None], axis=0)
    return out


def expected_corners(corners: np.ndarray, neighbours: int) -> np.ndarray:
    """(N, 4, 2) where each corner is expected from the other three of its vertebra and the neighbours' shapes."""
    predicted = predicted_offsets(corners, neighbours)
    centre_from = corners - predicted  # (N, 4, 2) the centre as each corner sees it
    out = np.empty_like(corners)
    for c in range(4):
        others = [k for k in range(4) if k != c]
        out[:, c] = np.median(centre_from[:, others], axis=1) + predicted[:, c]
    return out


def consistent_corners(corners: np.ndarray, cfg: ConsistencyConfig = ConsistencyConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Corners (N, 4, 2) of one chain, cranial first, with each vertebra's worst corner moved in line when it alone
    is off by more than the threshold and moving it would not lengthen a side the neighbours find too short (a
    wedge or a crush fracture looks exactly like that, and a doctor must see it); and (N,) the index of the corner
    moved per vertebra (-1: none)."""
    corners = np.asarray(corners, float)
    moved = np.full(len(corners), -1)
    if len(corners) < 3:
        return corners.copy(), moved
    expected = expected_corners(corners, cfg.neighbours)
    distance = np.linalg.norm(corners - expected, axis=-1)  # (N, 4)
    limit = cfg.threshold * float(np.median(_heights(corners)))
    out = corners.copy()
    ranked = np.sort(np.nan_to_num(distance, nan=0.0), axis=1)
    lone = (ranked[:, -1] > limit) & (ranked[:, -2] < cfg.lone * ranked[:, -1])
    for i in np.where(lone)[0]:
        c = int(np.nanargmax(distance[i]))
        partner = corners[i, PARTNER[c]]
        if np.linalg.norm(corners[i, c] - partner) < np.linalg.norm(expected[i, c] - partner):
            continue  # this side is shorter than its neighbours predict: maybe a wedge or a crush, never smoothed
        out[i, c] = expected[i, c]
        moved[i] = c
    return out, moved


PARTNER = (2, 3, 0, 1)  # the corner at the other end of the same side: SL-IL, SR-IR
