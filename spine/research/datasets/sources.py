"""Which data a run uses: the ``data`` block of every stage config, and the annotations it resolves to."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from spine.config import ConfigError, read_yaml
from spine.paths import REPO_ROOT
from spine.research.datasets.aasce import load_aasce
from spine.research.datasets.annotation import Annotation, roboflow_original
from spine.research.datasets.seed import load_phantom_folder, load_seed
from spine.research.datasets.splits import Split, load_or_make_split
from spine.research.datasets.yolo import load_challenge, load_yolo


@dataclass(frozen=True)
class DataConfig:
    """Data sources. Relative paths: ``root`` against the repository, the others against ``root``
    (split and known-errors files against the repository). $SPINE_DATA overrides ``root``.

    phantoms: synthetic films added to training (written once under ``phantom_dir``).
    seed_dir: an optional folder in the seed format (DICOMs + painted masks) added to training.
    copies_file: the Roboflow films that copy AASCE or challenge films, and the families dropped whole
    (``python -m pipeline.find_copies`` writes it); none of them is trained on.
    """

    root: str = "../shared/data"
    aasce: str = "aasce2019_boostnet/boostnet_labeldata"
    roboflow: str = "roboflow_spine_vertebrae_v1"
    challenge: str = "aasce2019_challenge_test/test"
    split_file: str = "configs/splits/aasce_boostnet.json"
    val_fraction: float = 0.15
    split_seed: int = 0
    label_policy: Literal["keep", "repair", "exclude"] = "repair"
    known_errors_file: str | None = "configs/data/aasce_known_label_errors.yaml"
    copies_file: str | None = "configs/data/roboflow_copies.yaml"
    use_aasce: bool = True
    use_roboflow: bool = True
    phantoms: int = 0
    phantom_views: tuple[str, ...] = ("AP", "LAT")
    phantom_height_px: int = 768
    phantom_dir: str = "cache/phantoms"
    seed_dir: str | None = None

    def validate(self) -> None:
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"data.val_fraction={self.val_fraction} must be in (0, 1), e.g. 0.15")
        if self.phantoms < 0:
            raise ConfigError("data.phantoms must be >= 0")
        bad = [v for v in self.phantom_views if v not in ("AP", "LAT")]
        if bad:
            raise ConfigError(f"data.phantom_views: {bad} not allowed; use AP and/or LAT")

    def root_path(self) -> Path:
        root = Path(os.environ.get("SPINE_DATA") or self.root)
        return root if root.is_absolute() else (REPO_ROOT / root).resolve()

    def repo_path(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else REPO_ROOT / path

    def known_errors(self) -> tuple[str, ...]:
        if not self.known_errors_file:
            return ()
        return tuple(read_yaml(self.repo_path(self.known_errors_file)).get("known_errors") or ())

    def linked_patients(self) -> list[tuple[str, ...]]:
        """Groups of AASCE patient keys under which one film is filed twice (``copies_file``)."""
        if not self.copies_file:
            return []
        return [tuple(p["patients"]) for p in read_yaml(self.repo_path(self.copies_file)).get("aasce_same_film") or ()]

    def roboflow_left_out(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """(original names of the Roboflow films that copy AASCE or challenge films, name prefixes of the
        families dropped whole), from ``copies_file``."""
        if not self.copies_file:
            return frozenset(), ()
        listed = read_yaml(self.repo_path(self.copies_file))
        return frozenset(c["roboflow"] for c in listed.get("copies") or ()), tuple(listed.get("families_dropped") or ())


def aasce_annotations(cfg: DataConfig, policy: str | None = None) -> list[Annotation]:
    """The AASCE films under the configured root (empty when the folder is absent)."""
    folder = cfg.root_path() / cfg.aasce
    if not cfg.use_aasce or not folder.is_dir():
        return []
    return load_aasce(folder, policy or cfg.label_policy, cfg.known_errors())


def aasce_split(cfg: DataConfig, linked_out: bool = True) -> Split:
    """The saved patient split of the AASCE films (made from all films, whatever the label policy, once).

    linked_out: a validation patient linked to a training patient (a film of theirs filed under both keys,
    ``copies_file``) is taken off the validation side (its films go to neither side): the split file predates
    the finding, and the training films stay as they were."""
    split = load_or_make_split(cfg.repo_path(cfg.split_file), aasce_annotations(cfg, "keep"), cfg.val_fraction, cfg.split_seed)
    if not linked_out:
        return split
    linked = {p for group in cfg.linked_patients() if set(group) & split.train_patients for p in group}
    return replace(split, val_patients=split.val_patients - linked)


def named_elsewhere(image: str) -> bool:
    """True for a Roboflow film named as an AASCE film ('sunhl-...') or a challenge film (a number)."""
    original = roboflow_original(image)
    return original.isdigit() or original.lower().startswith("sunhl")


def roboflow_annotations(cfg: DataConfig, split: Split | None) -> list[Annotation]:
    """Roboflow films that may be trained on: not the challenge films (an evaluation set), not AASCE films
    (their corner labels are used instead; those of validation patients must never be trained on), whether
    named as such or found to be their copies under another name (``copies_file``)."""
    folder = cfg.root_path() / cfg.roboflow
    if not cfg.use_roboflow or not folder.is_dir():
        return []
    copies, families = cfg.roboflow_left_out()
    out = []
    for ann in load_yolo(folder):
        original = roboflow_original(ann.image)
        if named_elsewhere(ann.image) or original in copies or original.startswith(families):
            continue
        if split is not None and split.side(ann.patient) == "val":
            continue
        out.append(ann)
    return out


def challenge_films(cfg: DataConfig) -> list[Path]:
    """The uncropped challenge films' paths (empty when the folder is absent)."""
    folder = cfg.root_path() / cfg.challenge
    return sorted(p for p in folder.glob("*.jpg")) if folder.is_dir() else []


def challenge_annotations(cfg: DataConfig) -> list[Annotation]:
    """The 98 uncropped challenge films with Roboflow boxes (for detector evaluation on full-length films)."""
    folder, roboflow = cfg.root_path() / cfg.challenge, cfg.root_path() / cfg.roboflow
    return load_challenge(folder, roboflow) if folder.is_dir() and roboflow.is_dir() else []


def phantom_stem(views: tuple[str, ...], i: int, seed_offset: int = 0) -> tuple[str, str, str]:
    """(view, field, file stem) of the ``i``-th phantom of a set: views taken in turn; every fourth phantom of each
    view a full-length film (skull to femurs, like the uncropped films), the others spine-field."""
    view = views[i % len(views)]
    field = "full" if (i // len(views)) % 4 == 3 else "spine"
    return view, field, f"phantom_{view.lower()}{'_full' if field == 'full' else ''}_{seed_offset + i:05d}"


def phantom_annotations(cfg: DataConfig, count: int | None = None, seed_offset: int = 0) -> list[Annotation]:
    """``count`` phantoms (default ``cfg.phantoms``; :func:`phantom_stem`), written once under ``phantom_dir`` and
    reused."""
    from spine.phantom import PhantomSpec, make_phantom, write_phantom

    count = cfg.phantoms if count is None else count
    if count == 0:
        return []
    folder = cfg.repo_path(cfg.phantom_dir) / f"h{cfg.phantom_height_px}_s{seed_offset}"
    wanted = set()
    for i in range(count):
        view, field, stem = phantom_stem(tuple(cfg.phantom_views), i, seed_offset)
        wanted.add(stem)
        if not (folder / f"{stem}.json").exists():
            spec = PhantomSpec(view=view, seed=seed_offset + i, height_px=cfg.phantom_height_px, field=field)
            write_phantom(make_phantom(spec), folder, stem, fmt="png")
    return load_phantom_folder(folder, wanted)


def seed_annotations(cfg: DataConfig) -> list[Annotation]:
    return load_seed(cfg.repo_path(cfg.seed_dir)) if cfg.seed_dir else []


def crop_stage_sets(data_cfg, max_train: int | None = None, max_val: int | None = None) -> tuple[list[Annotation], list[Annotation], dict]:
    """(train, val, description) films with corners for the crop stages: AASCE by the saved patient split plus
    phantoms (and seed-format films) for training; held-out phantoms validate when there is no real data."""
    aasce = aasce_annotations(data_cfg)
    split = aasce_split(data_cfg) if aasce else None
    a_train, a_val = split.apply(aasce) if split else ([], [])
    phantoms = phantom_annotations(data_cfg)
    train = a_train + phantoms + seed_annotations(data_cfg)
    val = a_val or phantom_annotations(data_cfg, count=max(2, data_cfg.phantoms // 5), seed_offset=100_000)
    if max_train:
        train = train[:: max(1, len(train) // max_train)][:max_train]
    if max_val:
        val = val[:max_val]
    described = {"train": {"aasce": len(a_train), "phantoms": len(phantoms), "films": len(train)},
                 "val": {"source": "aasce patient split" if a_val else "held-out phantoms", "films": len(val)},
                 "split_file": data_cfg.split_file, "label_policy": data_cfg.label_policy}
    return train, val, described
