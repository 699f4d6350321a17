"""Train the segmenter: ``python -m segmenter.training.train --config configs/segmenter.yaml [--set key=value ...]``.

A LightningModule holds the network and the loss (Dice + BCE on every
deep-supervision output, weighted); the data module is separate. The run
folder keeps Lightning checkpoints (re-running resumes from ``last.ckpt``);
the result is a self-describing model folder ``<output>/<name>/model``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch
from torch import nn

from segmenter.model import build_model, normalise
from segmenter.predict import load_segmenter
from segmenter.training.config import SegmenterConfig
from segmenter.training.data import datamodule
from segmenter.training.evaluate import evaluate_segmenter
from segmenter.training.whole_film_data import WholeFilmData
from spine.modelfolder import save_model_folder, update_meta
from spine.research.datasets.sources import crop_stage_sets
from spine.research.pretrained import imagenet_start
from spine.research.training import TrainResult, best_state, epochs_record, fit, seeded, stage_main


class SegmenterModule(L.LightningModule):
    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        self.cfg = cfg
        self.model = imagenet_start(build_model(cfg.model), cfg.model.pretrained)
        import segmentation_models_pytorch as smp

        self.dice = smp.losses.DiceLoss(mode="binary", from_logits=True)
        self.bce = nn.BCEWithLogitsLoss()

    def forward(self, images: torch.Tensor) -> dict:
        return self.model(normalise(images))

    def _term(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.cfg.loss.dice * self.dice(logits, target) + self.cfg.loss.bce * self.bce(logits, target)

    def loss(self, out: dict, target: torch.Tensor) -> torch.Tensor:
        """Weighted sum over X01, X02, X03 (when deep supervision is on) and the final output."""
        weights = self.cfg.model.ds_weights
        total = weights[-1] * self._term(out["logits"], target)
        for w, aux in zip(weights[:-1], out["aux"]):
            total = total + w * self._term(aux, target)
        return total

    def training_step(self, batch: dict, _index: int) -> torch.Tensor:
        loss = self.loss(self(batch["image"]), batch["mask"])
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def validation_step(self, batch: dict, _index: int) -> None:
        out = self(batch["image"])
        pred = (out["logits"] > 0).float()
        inter = (pred * batch["mask"]).sum(dim=(1, 2, 3))
        dice = 2 * inter / (pred.sum(dim=(1, 2, 3)) + batch["mask"].sum(dim=(1, 2, 3))).clamp(min=1)
        self.log("val_loss", self.loss(out, batch["mask"]), prog_bar=True, batch_size=len(pred), sync_dist=True)
        self.log("val_dice", dice.mean(), prog_bar=True, batch_size=len(pred), sync_dist=True)

    def configure_optimizers(self):
        t = self.cfg.train
        optimizer = torch.optim.AdamW(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, t.epochs))
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


def meta_for(cfg: SegmenterConfig, described: dict) -> dict:
    return {
        "stage": "segmenter", "format": "spine-segmenter/1", "mode": cfg.mode,
        "input": {"channels": 1, "crop_size": cfg.crop.size, "margin": cfg.crop.margin,
                  "intensity": "grey in [0, 1], bone bright, mapped to [-1, 1]",
                  "crop": "square window around the vertebra box, side = longer box side x (1 + 2 margin)"},
        "output": "logits (1, S, S) of the centre vertebra's whole body, hidden parts included",
        "threshold": 0.5, "trained_on": described,
    }


def train_whole_film(cfg: SegmenterConfig) -> TrainResult:
    """The whole-film baseline (:mod:`segmenter.whole_film`) trained into a model folder."""
    run_dir = (Path(cfg.output) / cfg.name).resolve()
    train_films, val_films, described = crop_stage_sets(cfg.data, cfg.train.max_train_films, cfg.train.max_val_films)
    module = seeded(cfg.train, lambda: SegmenterModule(cfg))
    best = fit(module, WholeFilmData(cfg, train_films, val_films), cfg.train, run_dir, "val_dice", "max")
    if best is None:
        return TrainResult(None, {})
    meta = {**meta_for(cfg, described), "epochs": epochs_record(best, cfg.train.epochs)}
    meta["input"] = {"channels": 1, "height": cfg.whole_film.height, "width": cfg.whole_film.width,
                     "intensity": "grey in [0, 1] mapped to [-1, 1]", "resize": "whole film to height x width"}
    folder = save_model_folder(run_dir / "model", best_state(best), cfg, meta)
    metrics = evaluate_segmenter(load_segmenter(folder), val_films)
    update_meta(folder, validation=metrics)
    return TrainResult(folder, metrics)


def train(cfg: SegmenterConfig) -> TrainResult:
    if cfg.mode == "whole_film":
        return train_whole_film(cfg)
    run_dir = (Path(cfg.output) / cfg.name).resolve()
    train_films, val_films, described = crop_stage_sets(cfg.data, cfg.train.max_train_films, cfg.train.max_val_films)
    if not train_films:
        raise RuntimeError("no training films: point data.root at the shared data or set data.phantoms > 0")
    data = datamodule(cfg, train_films, val_films)
    best = fit(seeded(cfg.train, lambda: SegmenterModule(cfg)), data, cfg.train, run_dir, "val_dice", "max")
    if best is None:
        return TrainResult(None, {})
    meta = {**meta_for(cfg, described), "epochs": epochs_record(best, cfg.train.epochs)}
    folder = save_model_folder(run_dir / "model", best_state(best), cfg, meta)
    metrics = evaluate_segmenter(load_segmenter(folder), val_films)
    update_meta(folder, validation=metrics)
    return TrainResult(folder, metrics)


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, "segmenter", "Train the vertebra segmenter.", SegmenterConfig, train)


if __name__ == "__main__":
    sys.exit(main())
