"""Train the detector: ``python -m detector.training.train --config configs/detector.yaml [--set key=value ...]``.

Writes ``<output>/<name>/model`` (a self-describing model folder) and the
ultralytics run beside it. Re-running an interrupted run resumes it from its
last checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import yaml

from detector.model import trainer_model
from detector.training.config import DetectorConfig
from detector.training.data import class_names, detector_sets, export_dataset
from spine import config as configlib
from spine.modelfolder import save_model_folder
from spine.research.training import TrainResult, stage_main


def init_checkpoint(cfg: DetectorConfig, run_dir: Path) -> Path | bool:
    """``train.init``'s weights as an ultralytics checkpoint in the run folder (its ``pretrained``), or False.
    The folder must hold the network ``model.arch`` and ``model.classes`` build, every weight of the same shape."""
    if not cfg.train.init:
        return False
    from detector.model import build_network
    from detector.predict import Detector

    folder = cfg.data.repo_path(cfg.train.init)
    network = Detector.load(folder).network.float()
    fresh = build_network(cfg.model.arch, nc=len(class_names(cfg))).state_dict()
    state = network.state_dict()
    if fresh.keys() != state.keys() or any(fresh[k].shape != state[k].shape for k in fresh):
        raise ValueError(f"train.init={cfg.train.init}: its network is not {cfg.model.arch} with {len(class_names(cfg))} class(es)")
    path = run_dir / "init.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": network, "init": str(folder)}, path)
    return path


def _ultralytics_args(cfg: DetectorConfig, data_yaml: Path, run_dir: Path, init: Path | bool = False) -> dict:
    t = cfg.train
    return dict(
        data=str(data_yaml), epochs=t.epochs, imgsz=cfg.model.imgsz, batch=t.batch, device=t.device, workers=t.workers,
        seed=t.seed, deterministic=False, cache="ram" if t.cache else False, rect=t.rect, mosaic=t.mosaic,
        close_mosaic=t.close_mosaic, fliplr=t.fliplr, degrees=t.degrees, scale=t.scale, lr0=t.lr0, patience=t.patience,
        optimizer=t.optimizer, warmup_epochs=t.warmup_epochs,
        hsv_h=0.0, hsv_s=0.0, hsv_v=0.3, amp=False, plots=False, pretrained=str(init) if init else False,
        project=str(run_dir.resolve()), name="yolo",
        exist_ok=True, verbose=False, val=True, time=t.hours,
    )


def run_ultralytics(cfg: DetectorConfig, data_yaml: Path, run_dir: Path) -> Path:
    """Train (or resume) with ultralytics; returns the best checkpoint's path."""
    weights = run_dir / "yolo" / "weights"
    last = weights / "last.pt"

    def start() -> None:
        trainer_model(cfg.model.arch).train(**_ultralytics_args(cfg, data_yaml, run_dir, init_checkpoint(cfg, run_dir)))

    if last.exists() and not (weights / "done").exists():
        try:
            trainer_model(str(last)).train(resume=True)
        except (AssertionError, FileNotFoundError):  # finished or unusable checkpoint: start afresh
            start()
    else:
        start()
    (weights / "done").touch()
    return weights / "best.pt" if (weights / "best.pt").exists() else last


def checkpoint_state(path: Path) -> tuple[dict, dict]:
    """(state dict, model yaml) of an ultralytics checkpoint this run wrote itself (a trusted pickle)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = (ckpt.get("ema") or ckpt["model"]).float()
    return model.state_dict(), dict(model.yaml)


def ultralytics_epochs(cfg: DetectorConfig, checkpoint: Path) -> dict:
    """Epochs configured, trained (rows of the run's results.csv) and the one the checkpoint is from."""
    results = Path(checkpoint).parents[1] / "results.csv"
    trained = max(0, len(results.read_text().splitlines()) - 1) if results.exists() else None
    epoch = torch.load(checkpoint, map_location="cpu", weights_only=False).get("epoch", -2)
    return {"configured": cfg.train.epochs, "trained": trained, "model_from": epoch + 1 if epoch >= 0 else trained}


def write_model_folder(cfg: DetectorConfig, checkpoint: Path, folder: Path, described: dict) -> Path:
    """The self-describing model folder of an ultralytics checkpoint (weights in half precision)."""
    state, model_yaml = checkpoint_state(checkpoint)
    meta = {
        "stage": "detector", "format": "spine-detector/1", "classes": class_names(cfg),
        "input": {"channels": 1, "imgsz": cfg.model.imgsz, "intensity": "grey in [0, 1], bone bright, 8-bit quantised",
                  "resize": "long side to imgsz, aspect kept, padded right/bottom to a multiple of 32 with 114/255"},
        "output": "boxes xyxy in original image px, scores; levels named by detector.priors",
        "predict": configlib.to_dict(cfg.predict),
        "trained_on": described,
        "epochs": ultralytics_epochs(cfg, checkpoint),
    }
    save_model_folder(folder, state, cfg, meta)
    (folder / "model.yaml").write_text(yaml.safe_dump(model_yaml, sort_keys=False))
    return folder


def train(cfg: DetectorConfig) -> TrainResult:
    from detector.predict import Detector
    from detector.training.evaluate import evaluate_detector
    from spine.modelfolder import update_meta

    run_dir = (Path(cfg.output) / cfg.name).resolve()
    train_set, val_set, described = detector_sets(cfg)
    if not train_set:
        raise RuntimeError("no training films: point data.root at the shared data or set data.phantoms > 0")
    data_yaml = export_dataset(train_set, val_set, cfg)
    best = run_ultralytics(cfg, data_yaml, run_dir)
    folder = write_model_folder(cfg, best, run_dir / "model", described)
    metrics = evaluate_detector(Detector.load(folder), val_set, cfg.priors)
    update_meta(folder, validation=metrics)
    return TrainResult(folder, metrics)


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    return stage_main(argv, "detector", "Train the vertebra detector.", DetectorConfig, train)


if __name__ == "__main__":
    sys.exit(main())
