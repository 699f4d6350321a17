"""Train the level map: ``python -m detector.levelmap.training.train --config configs/levelmap.yaml [--set fold=K]``.

Trains on the AASCE films (every film, or with ``fold`` set every fold of the saved patient-grouped folds but that
one, whose films then show the validation loss, for the record only) for a fixed number of epochs: the last epoch
is the model, so that nothing is chosen on held-out films. Resumes from ``last.ckpt``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from detector.levelmap.config import FrameConfig
from detector.levelmap.frame import MAP_CLASSES
from detector.levelmap.model import build_model, model_input
from detector.levelmap.training.config import FrameAugmentConfig, LevelMapConfig
from detector.levelmap.training.data import Film, cached_films, sample_frame
from spine.modelfolder import save_model_folder
from spine.research.datasets.sources import aasce_annotations, phantom_annotations
from spine.research.datasets.splits import load_or_make_folds
from spine.research.pretrained import imagenet_start
from spine.research.training import TrainResult, best_state, epochs_record, fit, seeded, stage_main


class FrameDataset(Dataset):
    def __init__(self, films: list[Film], frame: FrameConfig, augment: FrameAugmentConfig | None, seed: int = 0):
        self.films, self.frame, self.augment = films, frame, augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.films)

    def __getitem__(self, i: int) -> dict:
        rng = self.rng if self.augment is not None else np.random.default_rng(i)
        frame, labels = sample_frame(self.films[i], self.frame, self.augment, rng)
        return {"frame": torch.from_numpy(frame)[None], "labels": torch.from_numpy(labels)}


class LevelMapModule(L.LightningModule):
    def __init__(self, cfg: LevelMapConfig):
        super().__init__()
        self.cfg = cfg
        self.model = imagenet_start(build_model(cfg.model), cfg.model.pretrained)
        weights = torch.ones(len(MAP_CLASSES))
        weights[0] = cfg.background_weight
        self.register_buffer("class_weights", weights, persistent=False)

    def _step(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(model_input(batch["frame"]))
        loss = F.cross_entropy(logits, batch["labels"], weight=self.class_weights.to(logits))
        on_bone = batch["labels"] > 0
        accuracy = (logits.argmax(1)[on_bone] == batch["labels"][on_bone]).float().mean()
        return loss, accuracy

    def training_step(self, batch: dict, _index: int) -> torch.Tensor:
        loss, _ = self._step(batch)
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, batch_size=len(batch["frame"]))
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("epochs_done", float(self.current_epoch + 1))

    def validation_step(self, batch: dict, _index: int) -> None:
        loss, accuracy = self._step(batch)
        self.log("val_loss", loss, prog_bar=True, batch_size=len(batch["frame"]))
        self.log("val_body_accuracy", accuracy, prog_bar=True, batch_size=len(batch["frame"]))

    def configure_optimizers(self):
        t = self.cfg.train
        optimizer = torch.optim.AdamW(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, t.epochs))}


class FrameDataModule(L.LightningDataModule):
    def __init__(self, train: list[Film], held_out: list[Film], cfg: LevelMapConfig):
        super().__init__()
        self.train_films, self.held_out, self.cfg = train, held_out, cfg

    def train_dataloader(self) -> DataLoader:
        t = self.cfg.train
        return DataLoader(FrameDataset(self.train_films, self.cfg.frame, self.cfg.augment, t.seed), batch_size=t.batch,
                          shuffle=True, num_workers=t.num_workers, drop_last=len(self.train_films) > t.batch)

    def val_dataloader(self) -> DataLoader | list:
        if not self.held_out:
            return []  # nothing held out: no validation loop
        return DataLoader(FrameDataset(self.held_out, self.cfg.frame, None), batch_size=self.cfg.train.batch,
                          num_workers=self.cfg.train.num_workers)


def fold_films(cfg: LevelMapConfig, progress: bool = False) -> tuple[list[Film], list[Film]]:
    """(training films, held-out films): the AASCE films (with ``cfg.fold``, those of the other folds; that fold's
    are held out) and the AP phantoms of ``data.phantoms`` (always trained on)."""
    from detector.levelmap.training.data import labelled_t1_l5

    annotations = aasce_annotations(cfg.data)
    phantoms = [a for a in phantom_annotations(replace(cfg.data, phantom_views=("AP",))) if labelled_t1_l5(a)] if cfg.data.phantoms else []
    if not annotations and not phantoms:
        raise RuntimeError(f"no AASCE films under {cfg.data.root_path()} and no phantoms: nothing to train the level map on")
    films = cached_films(annotations + phantoms, cfg.data.repo_path(cfg.cache), cfg.cache_height, progress)
    films = films[: cfg.train.max_train_films] if cfg.train.max_train_films else films
    if cfg.fold is None or not annotations:
        return films, []
    folds = load_or_make_folds(cfg.data.repo_path(cfg.folds_file), annotations, cfg.folds, linked=cfg.data.linked_patients())
    return [f for f in films if f.patient not in folds[cfg.fold]], [f for f in films if f.patient in folds[cfg.fold]]


def meta_for(cfg: LevelMapConfig, train: list[Film], held_out: list[Film]) -> dict:
    return {"stage": "levelmap", "format": "spine-levelmap/1", "classes": list(MAP_CLASSES),
            "input": {"frame": {"height": cfg.frame.height, "width": cfg.frame.width, "margin_pitches": cfg.frame.margin},
                      "intensity": "grey in [0, 1] mapped to [-1, 1], outside the film 0"},
            "output": f"per frame pixel, logits over {len(MAP_CLASSES)} classes (background, T1-L5); softmax",
            "trained_on": {"aasce_films": len(train), "fold": cfg.fold, "held_out_films": len(held_out),
                           "folds_file": cfg.folds_file, "epochs": cfg.train.epochs}}


def train(cfg: LevelMapConfig) -> TrainResult:
    run_dir = (Path(cfg.output) / cfg.name).resolve()
    train_films, held_out = fold_films(cfg, progress=True)
    module = seeded(cfg.train, lambda: LevelMapModule(cfg))
    data = FrameDataModule(train_films, held_out, cfg)
    last = fit(module, data, cfg.train, run_dir, "epochs_done", "max")
    if last is None:
        return TrainResult(None, {})
    metrics = held_out_figures(module, data) if held_out else {"films": 0, "figures": "python -m detector.levelmap.training.crossval"}
    folder = save_model_folder(run_dir / "model", best_state(last), cfg, {**meta_for(cfg, train_films, held_out), "validation": metrics,
                                                                                "epochs": epochs_record(last, cfg.train.epochs)})
    return TrainResult(folder, metrics)


@torch.no_grad()
def held_out_figures(module: LevelMapModule, data: FrameDataModule) -> dict:
    """Loss and share of body pixels painted with their own level, on the held-out fold's inference frames."""
    module.eval()
    losses, right, total = [], 0, 0
    for batch in data.val_dataloader():
        logits = module.model(model_input(batch["frame"]))
        losses.append(float(F.cross_entropy(logits, batch["labels"])) * len(batch["frame"]))
        on_bone = batch["labels"] > 0
        right += int((logits.argmax(1)[on_bone] == batch["labels"][on_bone]).sum())
        total += int(on_bone.sum())
    return {"films": len(data.held_out), "loss": sum(losses) / len(data.held_out), "body_pixels_right": right / max(total, 1)}


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, "detector.levelmap", "Train the whole-film level map.", LevelMapConfig, train, "configs/levelmap.yaml")


if __name__ == "__main__":
    sys.exit(main())
