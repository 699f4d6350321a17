"""Dataset adapters into one canonical :class:`Annotation` form, and patient-level splits."""

from pathlib import Path

from spine.research.datasets.aasce import check_corners, load_aasce, load_angles, repair_corners
from spine.research.datasets.annotation import Annotation, aasce_patient, roboflow_patient
from spine.research.datasets.seed import load_phantom_folder, load_seed
from spine.research.datasets.splits import Split, load_or_make_split, load_split, make_split, save_split
from spine.research.datasets.yolo import load_challenge, load_yolo

__all__ = [
    "Annotation", "Split", "aasce_patient", "check_corners", "load_aasce", "load_angles", "load_challenge",
    "load_or_make_split", "load_phantom_folder", "load_seed", "load_split", "load_yolo", "make_split",
    "repair_corners", "roboflow_patient", "save_split", "load_films",
]


def load_films(data: str, fmt: str, split: str, reference: str | None = None) -> list[Annotation]:
    """Annotated films of a folder in one of the supported formats; AASCE films filtered by the saved split."""
    from spine.research.datasets.sources import DataConfig, aasce_split

    if fmt == "aasce":
        films = load_aasce(data, "repair", DataConfig().known_errors())
        if split != "all":
            train, val = aasce_split(DataConfig(root=str(Path(data).parents[1]))).apply(films)
            films = val if split == "val" else train
        return films
    if fmt == "challenge":
        if not reference:
            raise ValueError("the challenge format needs the Roboflow export with the challenge boxes (--reference)")
        return load_challenge(data, reference)
    return {"yolo": load_yolo, "seed": load_seed, "phantom": load_phantom_folder}[fmt](data)
