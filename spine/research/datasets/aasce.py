"""AASCE 2019 / BoostNet labels (``.mat`` key ``p2`` or ``landmarks.csv``) into canonical annotations.

Layout (see ../shared/data/aasce2019_boostnet/SOURCE.md)::

    ROOT/data/training/<name>.jpg
    ROOT/labels/training/<name>.mat        p2: (68, 2) x, y px; T1..L5 x (TL, TR, BL, BR)
    ROOT/labels/training/filenames.csv     row order of landmarks.csv and angles.csv
    ROOT/labels/training/landmarks.csv     68 x/W then 68 y/H per row
    ROOT/labels/training/angles.csv        the organisers' three Cobb angles per row

The label sanity check flags films whose vertebrae are out of order, whose
endplates overlap (points shifted by one endplate), or where a vertebra's
superior/inferior or left/right corners are swapped. ``policy`` decides:
'keep' (as labelled; needed to reproduce angles.csv), 'repair' (re-order
each vertebra's own corners; drop films whose vertebra order or endplates
are wrong, since their level names cannot be trusted), 'exclude' (drop every
flagged film). Films on the ``known_errors`` list are dropped by 'repair'
and 'exclude'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spine.geometry import AASCE_LEVELS, Spine, Vertebra
from spine.research.datasets.annotation import Annotation, aasce_patient

POLICIES = ("keep", "repair", "exclude")
REPAIRABLE = {"swapped_endplates", "swapped_sides"}


def check_corners(corners: np.ndarray, overlap_fraction: float = 0.3) -> tuple[str, ...]:
    """Sanity flags of one film's corners (17, 4, 2) image px, AASCE order."""
    c = np.asarray(corners, dtype=float)
    flags = []
    if not np.all(np.diff(c.mean(axis=1)[:, 1]) > 0):
        flags.append("order")
    top, bottom = c[:, :2, 1].mean(axis=1), c[:, 2:, 1].mean(axis=1)
    if np.any(top >= bottom):
        flags.append("swapped_endplates")
    if np.any(c[:, [0, 2], 0] >= c[:, [1, 3], 0]):
        flags.append("swapped_sides")
    heights = np.abs(bottom - top)
    if np.any(top[1:] - bottom[:-1] < -overlap_fraction * heights[:-1]):
        flags.append("overlap")
    return tuple(flags)


def repair_corners(corners: np.ndarray) -> np.ndarray:
    """Each vertebra's four points re-ordered: the two highest are superior, then left before right."""
    out = np.empty_like(np.asarray(corners, dtype=float))
    for i, quad in enumerate(np.asarray(corners, dtype=float)):
        by_y = quad[np.argsort(quad[:, 1], kind="stable")]
        sup, inf = by_y[:2][np.argsort(by_y[:2, 0])], by_y[2:][np.argsort(by_y[2:, 0])]
        out[i] = np.vstack([sup, inf])
    return out


def _read_names(labels_dir: Path) -> list[str]:
    with open(labels_dir / "filenames.csv", encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def read_corners(labels_dir: Path, name: str, row: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """(17, 4, 2) corners from ``<name>.mat`` when present, else from a landmarks.csv row scaled by (W, H)."""
    mat = labels_dir / f"{name}.mat"
    if mat.exists():
        from scipy.io import loadmat

        return loadmat(mat)["p2"].astype(float).reshape(len(AASCE_LEVELS), 4, 2)
    if row is None:
        raise FileNotFoundError(f"{mat}: no .mat file and no landmarks.csv row")
    n = len(row) // 2
    return np.stack([row[:n] * size[0], row[n:] * size[1]], axis=1).reshape(len(AASCE_LEVELS), 4, 2)


def spine_from_corners(corners: np.ndarray) -> Spine:
    return Spine(tuple(Vertebra.from_corners(level, quad) for level, quad in zip(AASCE_LEVELS, corners)), view="AP")


def load_aasce(root: str | Path, policy: str = "repair", known_errors: tuple[str, ...] = (), split: str = "training") -> list[Annotation]:
    """Canonical annotations of the AASCE films under ``root`` (the ``boostnet_labeldata`` folder)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    root = Path(root)
    labels_dir, images_dir = root / "labels" / split, root / "data" / split
    names = _read_names(labels_dir)
    table = labels_dir / "landmarks.csv"
    rows = np.loadtxt(table, delimiter=",", ndmin=2) if table.exists() else [None] * len(names)
    known = set(known_errors)
    out = []
    for name, row in zip(names, rows):
        size = _image_size(images_dir / name)
        corners = read_corners(labels_dir, name, row, size)
        flags = check_corners(corners) + (("known_error",) if name in known else ())
        if policy == "exclude" and flags:
            continue
        if policy == "repair":
            if set(flags) - REPAIRABLE:
                continue
            corners = repair_corners(corners) if flags else corners
        out.append(
            Annotation(str(images_dir / name), aasce_patient(name), "aasce", spine_from_corners(corners), size[0], size[1], True, flags)
        )
    return out


def load_angles(root: str | Path, split: str = "training") -> dict[str, np.ndarray]:
    """File name -> the organisers' three Cobb angles (angles.csv order)."""
    labels_dir = Path(root) / "labels" / split
    angles = np.loadtxt(labels_dir / "angles.csv", delimiter=",", ndmin=2)
    return dict(zip(_read_names(labels_dir), angles))
