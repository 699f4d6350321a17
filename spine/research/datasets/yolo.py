"""YOLO box labels (the Roboflow vertebrae set) into canonical, box-only annotations.

A split folder holds ``images/<stem>.jpg`` and ``labels/<stem>.txt``; each
line is ``class cx cy w h`` normalised by the image size (a line with more
columns is a polygon and becomes its bounding box). Boxes are sorted
cranial to caudal by centre y; they carry no level names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spine.geometry import Box, Spine, Vertebra
from spine.research.datasets.annotation import Annotation, roboflow_original, roboflow_patient

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def parse_label_file(path: Path, width: int, height: int) -> list[Box]:
    """Boxes (image px) of one YOLO label file; polygon lines become their bounding box."""
    boxes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        values = [float(v) for v in line.split()]
        if len(values) == 5:
            _, cx, cy, w, h = values
            boxes.append(Box.from_cxcywh(cx * width, cy * height, w * width, h * height))
        elif len(values) >= 7 and len(values) % 2 == 1:
            pts = np.asarray(values[1:]).reshape(-1, 2) * (width, height)
            boxes.append(Box.from_points(pts))
    return sorted(boxes, key=lambda b: b.center[1])


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def load_yolo_split(folder: str | Path) -> list[Annotation]:
    """Annotations of one split folder (``images/`` + ``labels/``)."""
    folder = Path(folder)
    out = []
    for image in sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = folder / "labels" / f"{image.stem}.txt"
        if not label.exists():
            continue
        width, height = _size(image)
        boxes = parse_label_file(label, width, height)
        spine = Spine(tuple(Vertebra(None, box) for box in boxes), view="AP")
        out.append(Annotation(str(image), roboflow_patient(image.name), "roboflow", spine, width, height, boxes_tight=False))
    return out


def load_yolo(root: str | Path, splits: tuple[str, ...] = ("train", "valid", "test")) -> list[Annotation]:
    """Annotations of every split folder under ``root`` that exists."""
    root = Path(root)
    return [a for split in splits if (root / split).is_dir() for a in load_yolo_split(root / split)]


def load_challenge(challenge_dir: str | Path, roboflow_root: str | Path) -> list[Annotation]:
    """The uncropped AASCE challenge films with the Roboflow boxes mapped onto their original pixels.

    Roboflow image 'K_jpg.rf.*' is challenge film '01-July-2019-K.jpg' resized with its aspect kept, so the
    normalised boxes apply to the original size directly.
    """
    challenge_dir = Path(challenge_dir)
    out = []
    for ann in load_yolo(roboflow_root):
        original = roboflow_original(ann.image)
        if not original.isdigit():
            continue
        film = challenge_dir / f"01-July-2019-{int(original)}.jpg"
        if not film.exists():
            continue
        width, height = _size(film)
        sx, sy = width / ann.width, height / ann.height
        spine = Spine(tuple(Vertebra(None, v.box.scaled(sx, sy)) for v in ann.spine.vertebrae), view="AP")
        out.append(Annotation(str(film), ann.patient, "roboflow", spine, width, height, boxes_tight=False))
    return out
