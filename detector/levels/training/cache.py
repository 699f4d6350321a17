"""The chain samples of a set of films, saved once as an npz file and reused: building them runs the detector on
every film, which is most of a short training run's time."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from detector.levels.config import CropConfig
from detector.levels.training.data import ChainSample, build_chains


def stack_samples(samples: Sequence[ChainSample]) -> dict:
    """Samples as flat arrays for an npz cache (offsets mark where each chain starts)."""
    lengths = np.array([len(s) for s in samples], int)
    return {
        "crops": np.concatenate([s.crops for s in samples]),
        "features": np.concatenate([s.features for s in samples]),
        "labels": np.concatenate([s.labels for s in samples]),
        "boxes": np.concatenate([s.boxes for s in samples]),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]),
        "height": np.array([s.height for s in samples], int),
        "film": np.array([s.film for s in samples]),
        "patient": np.array([s.patient for s in samples]),
        "source": np.array([s.source for s in samples]),
    }


def unstack_samples(arrays) -> list[ChainSample]:
    o = arrays["offsets"]
    return [
        ChainSample(
            arrays["crops"][o[i] : o[i + 1]],
            arrays["features"][o[i] : o[i + 1]],
            arrays["labels"][o[i] : o[i + 1]],
            arrays["boxes"][o[i] : o[i + 1]],
            int(arrays["height"][i]),
            str(arrays["film"][i]),
            str(arrays["patient"][i]),
            str(arrays["source"][i]),
        )
        for i in range(len(o) - 1)
    ]


def cached_chains(annotations, find_spine, cfg: CropConfig, folder, key: str, progress: bool = False) -> list[ChainSample]:
    """:func:`build_chains`, saved under ``folder`` keyed by the films, the crop settings and ``key`` (the
    detector's identity), and reused."""
    digest = hashlib.sha1(
        json.dumps(
            [key, [cfg.span, cfg.height, cfg.width, cfg.extend], [a.image for a in annotations], [len(a.spine) for a in annotations]]
        ).encode()
    ).hexdigest()[:16]
    path = Path(folder) / f"chains_{digest}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as arrays:
            return unstack_samples({k: arrays[k] for k in arrays.files})
    samples = build_chains(annotations, find_spine, cfg, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **stack_samples(samples)) if samples else np.savez_compressed(tmp, offsets=np.zeros(1, int))
    tmp.replace(path)
    return samples
