"""Write a phantom to disk: the film (DICOM or PNG), its ground truth JSON and its masks.

Files for stem S in a folder::

    S.dcm | S.png          the film (DICOM carries spacing, age, sex, view)
    S.json                 spine-geometry/1 ground truth; "ground_truth" holds the designed measurements
    S_labels.png           uint16 amodal instance labels (vertebra k, cranial = 1), hidden parts included
    S_occluders.png        uint8, 255 where ribs, clavicles or pelvis cover the film
    S_mask.png             (seed layout) uint8 binary mask of all vertebrae, when seed_layout=True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spine.dicomfilm import write_dicom
from spine.files import atomic_write_json, atomic_write_png
from spine.phantom.make import Phantom, make_phantom
from spine.phantom.spec import PhantomSpec
from spine.result import ImageInfo, SpineResult, to_dict


def write_phantom(phantom: Phantom, folder: str | Path, stem: str, fmt: str = "dcm", seed_layout: bool = False) -> Path:
    """Write the film and its truth; returns the film's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec, spine = phantom.spec, phantom.spine
    if fmt == "dcm":
        top = 4095  # 12 bits stored; the window spans them all, so reading gives back the phantom's values
        film = write_dicom(phantom.image, folder / f"{stem}.dcm", spacing_mm=spine.spacing_mm, age_years=phantom.age,
                           sex=phantom.sex, view=spec.view, bits_stored=12, window=(top / 2 + 0.5, top + 1))
    elif fmt == "png":
        film = atomic_write_png(folder / f"{stem}.png", np.round(phantom.image * 65535).astype(np.uint16))
    else:
        raise ValueError(f"fmt must be 'dcm' or 'png', got {fmt!r}")
    h, w = phantom.image.shape
    info = ImageInfo(path=film.name, width=w, height=h, view=spec.view, spacing_mm=spine.spacing_mm,
                     spacing_source="PixelSpacing" if fmt == "dcm" else None, age=phantom.age, sex=phantom.sex,
                     anterior=spine.anterior)
    payload = to_dict(SpineResult(info, spine, {}, ()))
    payload["ground_truth"] = phantom.truth
    atomic_write_json(folder / f"{stem}.json", payload)
    atomic_write_png(folder / f"{stem}_labels.png", phantom.labels)
    atomic_write_png(folder / f"{stem}_occluders.png", phantom.occluder.astype(np.uint8) * 255)
    if seed_layout:
        atomic_write_png(folder / f"{stem}_mask.png", (phantom.labels > 0).astype(np.uint8) * 255)
    return film


def sample_film(out: Path, view: str = "AP", seed: int = 7) -> Path:
    """A phantom film in ``out`` (DICOM with spacing, age and sex); returns its path."""
    spec = PhantomSpec(view=view, seed=seed, cobb_deg=32 if view == "AP" else None, height_px=1280,
                       wedges={} if view == "AP" else {"L1": 0.3}, slips={} if view == "AP" else {"L4": 20.0})
    return write_phantom(make_phantom(spec), out, f"sample_{view.lower()}", fmt="dcm")
