"""Copies of one film in another dataset, found by the image: resized, re-contrasted (CLAHE), re-framed, mirrored.

The Roboflow vertebra set re-publishes AASCE films under other names ('Image_NNN', 'Image_NNN_2ndbatch'),
mirrored left to right, equalised and shrunk to 416 px: a film held out by its name can still be trained on as
its copy. Two steps per candidate film:

1. *retrieval*: the reference films (each as it is and mirrored) whose grey thumbnails correlate best with the
   candidate's (``retrieve`` of them);
2. *verification*: ORB keypoints matched between the two, an affine map fitted by RANSAC, the candidate warped
   onto the reference, and the normalised cross-correlation of the two images' fine detail (the image minus its
   Gaussian blur, the reference CLAHE-equalised like the copy) over their overlap. A copy scores 0.5-0.9; two
   different films, even two films of one patient or two scoliotic spines alike, under 0.3 (measured on the
   Roboflow and AASCE films: ``python -m pipeline.find_copies``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

HEIGHT = 416  # every film is compared at this height (the Roboflow copies' own)
THUMB = (24, 64)  # (width, height) of the retrieval thumbnail
COPY_SCORE = 0.3  # verification score at or above which a candidate is a copy


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """A film prepared for comparison: grey (HEIGHT, w) uint8 equalised; thumb: standardised retrieval vector;
    clahe: grey CLAHE-equalised like the Roboflow copies (the film's form as a reference); keypoints and
    descriptors: ORB of grey (as a candidate) and of clahe (as a reference), computed once per film."""

    grey: np.ndarray
    thumb: np.ndarray
    clahe: np.ndarray
    features: tuple
    reference_features: tuple


@dataclass(frozen=True)
class Match:
    """The best verified reference of a candidate: index into the references, score, mirrored (the copy is the
    reference mirrored left to right)."""

    reference: int
    score: float
    mirrored: bool


def fingerprint(pixels: np.ndarray, mirrored: bool = False) -> Fingerprint:
    """pixels: (H, W) grey film, any range; mirrored: flip it left to right first."""
    import cv2

    x = np.asarray(pixels, np.float32)
    x = np.round(255 * (x - x.min()) / max(float(x.max() - x.min()), 1e-6)).astype(np.uint8)
    if mirrored:
        x = x[:, ::-1]
    width = max(8, round(x.shape[1] * HEIGHT / x.shape[0]))
    grey = cv2.equalizeHist(cv2.resize(x, (width, HEIGHT), interpolation=cv2.INTER_AREA))
    grey = np.ascontiguousarray(grey)
    thumb = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)
    orb = cv2.ORB_create(1500)
    return Fingerprint(grey, (thumb - thumb.mean()) / (thumb.std() + 1e-6), clahe,
                       orb.detectAndCompute(grey, None), orb.detectAndCompute(clahe, None))


def _detail(x: np.ndarray) -> np.ndarray:
    import cv2

    x = x.astype(np.float32)
    return x - cv2.GaussianBlur(x, (0, 0), 3)


def verify(reference: Fingerprint, candidate: Fingerprint) -> float:
    """Fine-detail correlation of ``candidate`` warped onto ``reference`` (0 when no affine map is found or the
    overlap is under 30 % of the reference)."""
    import cv2

    a, b = reference.clahe, candidate.grey
    (ka, da), (kb, db) = reference.reference_features, candidate.features
    if da is None or db is None:
        return 0.0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    if len(matches) < 10:
        return 0.0
    pa = np.float32([ka[m.queryIdx].pt for m in matches])
    pb = np.float32([kb[m.trainIdx].pt for m in matches])
    warp, _ = cv2.estimateAffine2D(pb, pa, method=cv2.RANSAC, ransacReprojThreshold=4.0)
    if warp is None:
        return 0.0
    size = (a.shape[1], a.shape[0])
    warped = cv2.warpAffine(b.astype(np.float32), warp, size, flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones(b.shape, np.float32), warp, size) > 0.99
    inside = cv2.erode(inside.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    if inside.mean() < 0.3:
        return 0.0
    u, v = _detail(a)[inside], _detail(warped)[inside]
    u, v = (u - u.mean()) / (u.std() + 1e-6), (v - v.mean()) / (v.std() + 1e-6)
    return float((u * v).mean())


def best_match(candidate: Fingerprint, plain: Sequence[Fingerprint], flipped: Sequence[Fingerprint],
               retrieve: int = 8) -> Match:
    """The best-verified of the ``retrieve`` references (as they are and mirrored) whose thumbnails correlate most
    with ``candidate``; ``plain[i]`` and ``flipped[i]`` are reference i as it is and mirrored."""
    best = Match(-1, 0.0, False)
    for mirrored, refs in ((False, plain), (True, flipped)):
        if not refs:
            continue
        similarity = np.stack([r.thumb for r in refs]) @ candidate.thumb / candidate.thumb.size
        for i in np.argsort(-similarity)[:retrieve]:
            score = verify(refs[i], candidate)
            if score > best.score:
                best = Match(int(i), score, mirrored)
    return best
