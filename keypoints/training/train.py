"""Train the keypoint head: ``python -m keypoints.training.train --config configs/keypoints.yaml [--set key=value ...]``.

Crops come from the shared crop bank (AASCE films by the saved patient split
with the label policy's exclusions and repairs, plus phantoms). The loss is
a smooth L1 on the soft-argmax corners (scaled by the crop side).
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from keypoints.codec import HeatmapCodec
from keypoints.model import build_model, model_input
from keypoints.training.config import KeypointsConfig
from spine.geometry import CORNERS
from spine.modelfolder import save_model_folder, update_meta
from spine.research.cropdata import CropDataModule
from spine.research.datasets.sources import crop_stage_sets
from spine.research.pretrained import imagenet_start
from spine.research.training import TrainResult, best_state, epochs_record, fit, seeded, stage_main


class KeypointModule(L.LightningModule):
    def __init__(self, cfg: KeypointsConfig):
        super().__init__()
        self.cfg = cfg
        self.model = imagenet_start(build_model(cfg.model), cfg.model.pretrained)
        self.codec = HeatmapCodec(cfg.crop.size, beta=cfg.model.heatmap_beta, stride=cfg.model.heatmap_stride)

    def corners(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 4, 2) crop px."""
        return self.codec.decode(self.model(model_input(images)))

    def _step(self, batch: dict, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        pred = self.corners(batch["image"])
        loss = F.smooth_l1_loss(pred / self.cfg.crop.size, batch["corners"] / self.cfg.crop.size, beta=0.01)
        return loss, (pred - batch["corners"]).norm(dim=-1).mean()

    def training_step(self, batch: dict, _index: int) -> torch.Tensor:
        loss, err = self._step(batch, True)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def validation_step(self, batch: dict, _index: int) -> None:
        loss, err = self._step(batch, False)
        self.log("val_loss", loss, batch_size=len(batch["image"]), sync_dist=True)
        self.log("val_corner_px", err, prog_bar=True, batch_size=len(batch["image"]), sync_dist=True)

    def configure_optimizers(self):
        t = self.cfg.train
        optimizer = torch.optim.AdamW(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, t.epochs))}


def meta_for(cfg: KeypointsConfig, described: dict) -> dict:
    return {
        "stage": "keypoints", "format": "spine-keypoints/1", "head": "heatmap",
        "corner_order": list(CORNERS),
        "input": {"channels": 1, "crop_size": cfg.crop.size, "margin": cfg.crop.margin,
                  "intensity": "grey in [0, 1] mapped to [-1, 1]",
                  "crop": "square window around the vertebra box, side = longer box side x (1 + 2 margin)"},
        "output": "4 heatmaps, soft-argmax",
        "heatmap_stride": cfg.model.heatmap_stride,
        "trained_on": described,
    }


def train(cfg: KeypointsConfig) -> TrainResult:
    from keypoints.predict import CornerModel
    from keypoints.training.evaluate import evaluate_keypoints, organiser_angles

    run_dir = (Path(cfg.output) / cfg.name).resolve()
    train_films, val_films, described = crop_stage_sets(cfg.data, cfg.train.max_train_films, cfg.train.max_val_films)
    if not train_films:
        raise RuntimeError("no training films: point data.root at the shared data or set data.phantoms > 0")
    data = CropDataModule(train_films, val_films, cfg.crop.size, cfg.crop.margin, cfg.data.repo_path(cfg.cache), cfg.train,
                          cfg.augment, cfg.jitter, cfg.crop.context)
    best = fit(seeded(cfg.train, lambda: KeypointModule(cfg)), data, cfg.train, run_dir, "val_corner_px", "min")
    if best is None:
        return TrainResult(None, {})
    meta = {**meta_for(cfg, described), "epochs": epochs_record(best, cfg.train.epochs)}
    folder = save_model_folder(run_dir / "model", best_state(best), cfg, meta)
    metrics = evaluate_keypoints(CornerModel.load(folder), val_films, organisers=organiser_angles(cfg.data))
    update_meta(folder, validation=metrics)
    return TrainResult(folder, metrics)


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, "keypoints", "Train the corner keypoint head.", KeypointsConfig, train)


if __name__ == "__main__":
    sys.exit(main())
