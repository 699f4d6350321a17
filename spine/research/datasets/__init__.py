"""Dataset adapters into one canonical :class:`Annotation` form, and patient-level splits."""

from spine.research.datasets.aasce import check_corners, load_aasce, load_angles, repair_corners
from spine.research.datasets.annotation import Annotation, aasce_patient, roboflow_patient
from spine.research.datasets.seed import load_phantom_folder, load_seed
from spine.research.datasets.splits import Split, load_or_make_split, load_split, make_split, save_split
from spine.research.datasets.yolo import load_challenge, load_yolo

__all__ = [
    "Annotation", "Split", "aasce_patient", "check_corners", "load_aasce", "load_angles", "load_challenge",
    "load_or_make_split", "load_phantom_folder", "load_seed", "load_split", "load_yolo", "make_split",
    "repair_corners", "roboflow_patient", "save_split",
]
