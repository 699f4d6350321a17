"""Pack the detector's training data for a GPU machine that cannot see ``../shared/data``.

    python bench/gpu/pack.py --out .devpack [--imgsz 640] [--quality 85]

Builds the ultralytics datasets exactly as ``detector.training.train`` does (same patient split, same label policy), for one
vertebra class and for one class per level, then re-encodes the films as JPEG (the pack must stay small enough to
travel) under ``OUT/detector/{images,labels_single,labels_per_level}/{train,val}``. ``bench/gpu/train_detectors.py``
turns it back into datasets on the GPU machine. The pack holds images derived from the shared data: it is
git-ignored and never committed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from detector.config import DetectorConfig  # noqa: E402
from detector.training.data import (
    detector_sets,  # noqa: E402
    export_dataset,  # noqa: E402
)
from spine import config as configlib  # noqa: E402


def build(imgsz: int, classes: str) -> tuple[Path, dict]:
    cfg = configlib.load(DetectorConfig, "configs/detector.yaml", [f"model.imgsz={imgsz}", f"model.classes={classes}"])
    train, val, described = detector_sets(cfg)
    return export_dataset(train, val, cfg).parent, described


def main() -> int:
    from spine.offline import configure

    configure()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".devpack")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--quality", type=int, default=85)
    args = ap.parse_args()
    out = Path(args.out) / "detector"
    shutil.rmtree(out, ignore_errors=True)
    for classes in ("single", "per_level"):
        root, described = build(args.imgsz, classes)
        for split in ("train", "val"):
            shutil.copytree(root / "labels" / split, out / f"labels_{classes}" / split)
            if classes != "single":
                continue
            (out / "images" / split).mkdir(parents=True)
            for png in sorted((root / "images" / split).glob("*.png")):
                image = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
                cv2.imwrite(str(out / "images" / split / f"{png.stem}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        (out / f"described_{classes}.json").write_text(json.dumps(described, indent=1))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"packed {out} ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
