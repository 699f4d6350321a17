"""From painted masks to vertebrae: instance separation, outlines and four-corner quadrilateral fits.

All coordinates image px (x, y); masks are (H, W) arrays, nonzero = vertebra.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

from spine.geometry import IL, IR, SL, SR


def outline(mask: np.ndarray) -> np.ndarray | None:
    """The largest external contour of a binary mask as (K, 2) float px, or None when empty."""
    contours, _ = cv2.findContours(np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    best = max(contours, key=cv2.contourArea)
    return best[:, 0, :].astype(float) if len(best) >= 3 else None


def _watershed(mask: np.ndarray, core_fraction: float) -> np.ndarray:
    """Watershed on the distance transform from markers = the mask's cores (distance above a fraction of the
    typical half-height), so narrow bridges between touching vertebrae fall between markers."""
    from skimage.segmentation import watershed

    distance = ndi.distance_transform_edt(mask)
    components, count = ndi.label(mask)
    peaks = ndi.maximum(distance, components, index=np.arange(1, count + 1))
    markers, _ = ndi.label(distance > core_fraction * float(np.median(peaks)))
    return watershed(-distance, markers, mask=mask)


def _merge_small(labels: np.ndarray, min_fraction: float) -> np.ndarray:
    """Absorb instances smaller than ``min_fraction`` x the median area into their largest touching neighbour."""
    ids, areas = np.unique(labels[labels > 0], return_counts=True)
    if len(ids) == 0:
        return labels
    median = np.median(areas)
    for i, area in sorted(zip(ids, areas), key=lambda t: t[1]):
        if area >= min_fraction * median:
            continue
        ring = ndi.binary_dilation(labels == i) & (labels != i) & (labels > 0)
        if ring.any():
            neighbours, counts = np.unique(labels[ring], return_counts=True)
            labels[labels == i] = neighbours[np.argmax(counts)]
    return labels


def spine_axes(centroids: np.ndarray) -> np.ndarray:
    """Unit cranial direction (image px, y down) at each of a cranio-caudal chain of centroids (N, 2)."""
    n = len(centroids)
    if n < 2:
        return np.tile([0.0, -1.0], (n, 1))
    axes = np.empty((n, 2))
    for i in range(n):
        d = centroids[max(i - 1, 0)] - centroids[min(i + 1, n - 1)]
        axes[i] = d / max(np.linalg.norm(d), 1e-9)
    return axes


def centerline_axis(binary: np.ndarray, sigma: float = 15.0):
    """The mask's cranio-caudal centre line x(y) (row means, smoothed); returns a function y -> unit cranial
    direction (image px, y down)."""
    rows = np.nonzero(binary.any(axis=1))[0]
    xs = np.array([np.nonzero(binary[r])[0].mean() for r in rows])
    grid = np.arange(rows[0], rows[-1] + 1)
    x = ndi.gaussian_filter1d(np.interp(grid, rows, xs), sigma) if len(grid) > 1 else xs[:1]
    slope = np.gradient(x) if len(x) > 1 else np.zeros(1)

    def axis(y: float) -> np.ndarray:
        d = np.array([-float(np.interp(y, grid, slope)), -1.0])
        return d / np.linalg.norm(d)

    return axis


def _chain(labels: np.ndarray):
    """Instances as pixel blobs ordered cranial -> caudal, with each one's length along the spine's centre line."""
    axis_at = centerline_axis(labels > 0)
    ids = [int(i) for i in np.unique(labels) if i > 0]
    blobs = sorted((np.stack(np.nonzero(labels == i)[::-1], axis=1).astype(float) for i in ids), key=lambda b: b[:, 1].mean())
    axes = [axis_at(b[:, 1].mean()) for b in blobs]
    return blobs, axes, [float(np.ptp(b @ a)) + 1 for b, a in zip(blobs, axes)]


def _paint(shape, blobs: list[np.ndarray], dtype) -> np.ndarray:
    out = np.zeros(shape, dtype)
    for k, blob in enumerate(blobs, start=1):
        out[blob[:, 1].astype(int), blob[:, 0].astype(int)] = k
    return out


def _merge_oversplit(labels: np.ndarray, ratio: float = 1.3) -> np.ndarray:
    """Join neighbouring pieces whose union is no longer than ``ratio`` x the vertebrae around them
    (one vertebra whose core broke in two)."""
    blobs, axes, lengths = _chain(labels)
    k = 0
    while k < len(blobs) - 1 and len(blobs) > 3:
        union = np.vstack([blobs[k], blobs[k + 1]])
        around = [lengths[j] for j in (k - 1, k + 2) if 0 <= j < len(blobs)]
        if float(np.ptp(union @ axes[k])) + 1 <= ratio * min(around):
            blobs[k : k + 2], lengths[k : k + 2], axes[k : k + 2] = [union], [float(np.ptp(union @ axes[k])) + 1], [axes[k]]
        else:
            k += 1
    return _paint(labels.shape, blobs, labels.dtype)


def _split_by_neighbours(labels: np.ndarray, ratio: float = 1.6) -> np.ndarray:
    """Cut instances much longer along the spine than their neighbours into equal-length parts, each cut moved
    to the narrowest point near it (vertebrae joined with no gap between them)."""
    blobs, axes, lengths = _chain(labels)
    if len(blobs) < 2:
        return labels
    pieces = []
    for k, (blob, axis, length) in enumerate(zip(blobs, axes, lengths)):
        expected = min(lengths[j] for j in (k - 1, k + 1) if 0 <= j < len(blobs))
        parts = int(round(length / expected)) if length >= ratio * expected else 1
        t = blob @ axis
        t = t - t.min()
        widths = np.bincount(t.astype(int)).astype(float)
        cuts = np.asarray([_narrowest(widths, j * length / parts, 0.2 * expected) for j in range(1, parts)], float)
        piece = np.searchsorted(cuts, t, side="right")
        pieces += [blob[piece == j] for j in range(parts) if np.any(piece == j)]
    return _paint(labels.shape, pieces, labels.dtype)


def _narrowest(widths: np.ndarray, guess: float, window: float) -> float:
    lo, hi = int(max(1, guess - window)), int(min(len(widths) - 1, guess + window + 1))
    return float(lo + np.argmin(widths[lo:hi])) if hi > lo else float(guess)


def separate_instances(mask: np.ndarray, core_fraction: float = 0.5) -> list[np.ndarray]:
    """Split a mask with all vertebrae painted in one value into one boolean mask per vertebra, cranial first.

    Touching vertebrae are split by a watershed on the distance transform
    seeded at the mask's cores; a vertebra whose core broke in two is joined
    again, and vertebrae joined with no gap are cut where an instance is much
    longer along the spine than its neighbours.
    """
    binary = np.asarray(mask) > 0
    if not binary.any():
        return []
    labels = _split_by_neighbours(_merge_oversplit(_merge_small(_watershed(binary, core_fraction), 0.25)))
    instances = [labels == i for i in np.unique(labels) if i > 0]
    return sorted(instances, key=lambda m: np.nonzero(m)[0].mean())


def _line_fit(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total least squares line through points: (point, unit direction)."""
    mean = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - mean, full_matrices=False)
    return mean, vt[0]


def _intersect(p1, d1, p2, d2) -> np.ndarray | None:
    a = np.array([d1, -d2]).T
    if abs(np.linalg.det(a)) < 1e-9:
        return None
    t = np.linalg.solve(a, p2 - p1)
    return p1 + t[0] * d1


def fit_quadrilateral(contour: np.ndarray, up: np.ndarray = np.array([0.0, -1.0])) -> np.ndarray:
    """Four corners (SL, SR, IL, IR) of a vertebral outline (K, 2), image px.

    up: the cranial direction in image px (default: image up). The corners
    first come from the outline points nearest the corners of the outline's
    box in the (across, up) frame, then are refined by intersecting lines fitted
    to the middle of each side; a refinement that moves a corner by more than a
    fifth of the body's size is not taken.
    """
    c = np.asarray(contour, dtype=float)
    u = np.asarray(up, float) / np.linalg.norm(up)
    e = np.array([-u[1], u[0]])
    e = e if e[0] >= 0 else -e
    center = c.mean(axis=0)
    local = np.stack([(c - center) @ e, (c - center) @ u], axis=1)  # (across to image right, cranial)
    lo, hi = local.min(axis=0), local.max(axis=0)
    targets = {SL: (lo[0], hi[1]), SR: (hi[0], hi[1]), IL: (lo[0], lo[1]), IR: (hi[0], lo[1])}
    index = {k: int(np.argmin(((local - np.array(t)) ** 2).sum(axis=1))) for k, t in targets.items()}
    corners = np.array([c[index[k]] for k in (SL, SR, IL, IR)])
    refined = _refine(c, index)
    size = max(hi - lo)
    if refined is not None and np.all(np.linalg.norm(refined - corners, axis=1) < 0.2 * size):
        return refined
    return corners


def _arc(n: int, i: int, j: int) -> np.ndarray:
    """Contour indices walking forward from i to j (wrapping)."""
    return np.arange(i, j + (n if j < i else 0) + 1) % n


def _refine(contour: np.ndarray, index: dict) -> np.ndarray | None:
    """Corners as intersections of lines fitted to the middle 60 % of each side between the first-guess corners."""
    n, ring = len(contour), [SL, SR, IR, IL]
    lines = {}
    for a, b in zip(ring, ring[1:] + ring[:1]):
        others = {index[k] for k in ring if k not in (a, b)}
        arc = _arc(n, index[a], index[b])
        if others & set(arc.tolist()):
            arc = _arc(n, index[b], index[a])
            if others & set(arc.tolist()):
                return None
        pts = contour[arc]
        k = len(pts)
        pts = pts[int(0.2 * k) : max(int(0.8 * k), int(0.2 * k) + 2)]
        if len(pts) < 2:
            return None
        lines[a, b] = _line_fit(pts)
    out = np.zeros((4, 2))
    for k, (prev, nxt) in {SL: ((IL, SL), (SL, SR)), SR: ((SL, SR), (SR, IR)), IR: ((SR, IR), (IR, IL)), IL: ((IR, IL), (IL, SL))}.items():
        point = _intersect(*lines[prev], *lines[nxt])
        if point is None:
            return None
        out[k] = point
    return out
