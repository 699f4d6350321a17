"""Patient-level train/validation splits, made once and saved to a file.

A split names patients, not films: every film of a patient lands on one side.
Once written, the file is the split; re-running never reshuffles it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from spine.files import atomic_write_json
from spine.research.datasets.annotation import Annotation

SCHEMA = "patient-split/1"


@dataclass(frozen=True)
class Split:
    train_patients: frozenset[str]
    val_patients: frozenset[str]
    seed: int
    val_fraction: float

    def side(self, patient: str) -> str | None:
        if patient in self.val_patients:
            return "val"
        if patient in self.train_patients:
            return "train"
        return None

    def apply(self, annotations: Sequence[Annotation]) -> tuple[list[Annotation], list[Annotation]]:
        """(train, val) annotations; films of patients the split does not know go to neither."""
        train = [a for a in annotations if self.side(a.patient) == "train"]
        val = [a for a in annotations if self.side(a.patient) == "val"]
        return train, val


def make_split(patients: Sequence[str], val_fraction: float = 0.15, seed: int = 0) -> Split:
    """Random patient-level split with ``val_fraction`` of the patients in validation."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    unique = sorted(set(patients))
    order = np.random.default_rng(seed).permutation(len(unique))
    n_val = max(1, int(round(val_fraction * len(unique))))
    val = frozenset(unique[i] for i in order[:n_val])
    return Split(frozenset(unique) - val, val, seed, val_fraction)


def save_split(split: Split, path: str | Path) -> Path:
    return atomic_write_json(path, {
        "schema": SCHEMA, "seed": split.seed, "val_fraction": split.val_fraction,
        "train_patients": sorted(split.train_patients), "val_patients": sorted(split.val_patients),
    })


def load_split(path: str | Path) -> Split:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: expected schema {SCHEMA!r}, got {data.get('schema')!r}")
    train, val = frozenset(data["train_patients"]), frozenset(data["val_patients"])
    if train & val:
        raise ValueError(f"{path}: patients on both sides: {sorted(train & val)[:5]}")
    return Split(train, val, int(data["seed"]), float(data["val_fraction"]))


def load_or_make_split(path: str | Path, annotations: Sequence[Annotation], val_fraction: float = 0.15, seed: int = 0) -> Split:
    """The split saved at ``path``; made from the annotations' patients and saved there if absent."""
    path = Path(path)
    if path.exists():
        return load_split(path)
    split = make_split([a.patient for a in annotations], val_fraction, seed)
    save_split(split, path)
    return split


FOLDS_SCHEMA = "patient-folds/1"


def make_folds(patients: Sequence[str], k: int = 5, seed: int = 0, linked: Sequence[Sequence[str]] = ()) -> list[frozenset[str]]:
    """``k`` patient-grouped folds of near-equal size: every film of a patient in one fold, and patients ``linked``
    (one film filed under two keys) in the same fold."""
    unique = sorted(set(patients))
    group_of = {p: p for p in unique}
    for group in linked:
        members = sorted(p for p in group if p in group_of)
        for p in members:
            group_of[p] = members[0]
    groups = sorted(set(group_of.values()))
    order = np.random.default_rng(seed).permutation(len(groups))
    fold_of_group = {groups[j]: i % k for i, j in enumerate(order)}
    return [frozenset(p for p in unique if fold_of_group[group_of[p]] == f) for f in range(k)]


def load_or_make_folds(path: str | Path, annotations: Sequence[Annotation], k: int = 5, seed: int = 0,
                       linked: Sequence[Sequence[str]] = ()) -> list[frozenset[str]]:
    """The folds saved at ``path`` (made from the annotations' patients and saved there once if absent)."""
    path = Path(path)
    if not path.exists():
        folds = make_folds([a.patient for a in annotations], k, seed, linked)
        atomic_write_json(path, {"schema": FOLDS_SCHEMA, "seed": seed, "folds": [sorted(f) for f in folds]})
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("schema") != FOLDS_SCHEMA:
        raise ValueError(f"{path}: expected schema {FOLDS_SCHEMA!r}, got {data.get('schema')!r}")
    folds = [frozenset(f) for f in data["folds"]]
    if len(folds) != k:
        raise ValueError(f"{path}: holds {len(folds)} folds, {k} asked for")
    return folds
