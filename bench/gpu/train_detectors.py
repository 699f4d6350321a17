"""Train the detector and its ablation arms side by side on one GPU, from a pack made by ``bench/gpu/pack.py``.

    python bench/gpu/train_detectors.py --pack .devpack/detector --out OUT [--hours 0.1] [--arms base,detector__yolo11s]

Each arm is ``configs/detector.yaml`` plus the ``overrides`` of ``configs/ablations/<arm>.yaml`` (``base``: none),
trained on the GPU with the same wall-clock budget (``train.hours``: ultralytics fits its epochs and learning-rate
schedule into it). Arms run as parallel processes sharing the GPU and the CPU cores. Each arm leaves a model folder
``OUT/<arm>.tar`` (weights, resolved config, metadata, the ultralytics results.csv); figures are measured afterwards
on the CPU machine with ``python -m detector.training.evaluate``, which can see the validation films.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from detector.config import DetectorConfig  # noqa: E402
from spine import config as configlib  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def arm_config(arm: str, extra: list[str]) -> DetectorConfig:
    overrides = {} if arm == "base" else configlib.read_yaml(ROOT / f"configs/ablations/{arm}.yaml")["overrides"]
    return configlib.load(DetectorConfig, ROOT / "configs/detector.yaml", extra, extra=overrides)


def dataset(pack: Path, classes: str, work: Path) -> Path:
    """An ultralytics dataset (real images folder, labels beside it) for one class scheme."""
    root = work / classes
    if (root / "data.yaml").exists():
        return root / "data.yaml"
    for split in ("train", "val"):
        labels = pack / f"labels_{classes}" / split
        shutil.copytree(labels, root / "labels" / split)
        (root / "images" / split).mkdir(parents=True)
        for label in labels.glob("*.txt"):
            shutil.copy(pack / "images" / split / f"{label.stem}.jpg", root / "images" / split)
    names = ["vertebra"] if classes == "single" else list(arm_config("base", []).priors.expected_levels)
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nchannels: 1\n"
                                    f"nc: {len(names)}\nnames: {json.dumps(names)}\n")
    return root / "data.yaml"


def train_arm(arm: str, pack: Path, work: Path, out: Path, extra: list[str]) -> None:
    from detector.training.train import run_ultralytics, write_model_folder

    cfg = arm_config(arm, extra)
    run_dir = work / "runs" / arm
    best = run_ultralytics(cfg, work / cfg.model.classes / "data.yaml", run_dir)
    described = json.loads((pack / f"described_{cfg.model.classes}.json").read_text())
    described["trained_by"] = "bench/gpu/train_detectors.py (JPEG-packed films)"
    folder = write_model_folder(cfg, best, run_dir / "model", described)
    shutil.copy(run_dir / "yolo" / "results.csv", folder / "results.csv")
    with tarfile.open(out / f"{arm}.tar", "w") as tar:
        tar.add(folder, arcname=arm)


def main() -> int:
    from spine.offline import configure

    configure()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, default=Path(".devpack/detector"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/detector_arms"))
    ap.add_argument("--arms", default="base,detector__yolo11s,detector__imgsz640,detector__per_level")
    ap.add_argument("--hours", type=float, default=0.1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every arm")
    ap.add_argument("--arm", help=argparse.SUPPRESS)  # a child process trains this one arm
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    extra = [f"train.hours={args.hours}", *args.set]
    if args.arm:
        train_arm(args.arm, args.pack.resolve(), args.work, args.out, extra)
        return 0
    arms = args.arms.split(",")
    for classes in {arm_config(arm, extra).model.classes for arm in arms}:
        dataset(args.pack.resolve(), classes, args.work)
    children = [subprocess.Popen([sys.executable, __file__, "--arm", arm, "--pack", str(args.pack), "--out", str(args.out),
                                  "--work", str(args.work), "--hours", str(args.hours), *sum((["--set", s] for s in args.set), [])],
                                 stdout=open(args.work / f"{arm}.log", "w"), stderr=subprocess.STDOUT) for arm in arms]
    codes = [child.wait() for child in children]
    for arm in arms:
        lines = (args.work / f"{arm}.log").read_text(errors="replace").splitlines()
        print(f"===== {arm}: last lines of its log", *lines[-25:], sep="\n")
    split_large(args.out)
    print(dict(zip(arms, codes)))
    return int(any(codes))


def split_large(out: Path, limit: int = 15 * 2**20) -> None:
    """Files over ``limit`` bytes become ``NAME.partK`` pieces (``cat NAME.part* > NAME`` joins them)."""
    for path in sorted(out.glob("*.tar")):
        data = path.read_bytes()
        if len(data) <= limit:
            continue
        for k in range(0, len(data), limit):
            (out / f"{path.name}.part{k // limit}").write_bytes(data[k:k + limit])
        path.unlink()


if __name__ == "__main__":
    sys.exit(main())
