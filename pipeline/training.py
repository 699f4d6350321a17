"""Shared training plumbing for the Lightning stages: fit with resumable checkpoints, state extraction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch


@dataclass
class TrainResult:
    """What a stage's ``train(cfg)`` returns: its model folder and validation figures."""

    folder: Path
    metrics: dict


def fit(module: L.LightningModule, data: L.LightningDataModule, t, run_dir: Path, monitor: str, mode: str) -> Path | None:
    """Lightning fit with checkpoints in ``run_dir`` (resumes from last.ckpt); returns the best checkpoint
    (None on the non-zero ranks of a multi-process run)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    if t.threads:
        torch.set_num_threads(t.threads)
    L.seed_everything(t.seed, workers=True)
    ckpt = ModelCheckpoint(dirpath=run_dir / "checkpoints", monitor=monitor, mode=mode, save_last=True, save_top_k=1)
    trainer = L.Trainer(max_epochs=t.epochs, accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
                        precision=t.precision, callbacks=[ckpt], default_root_dir=str(run_dir), log_every_n_steps=10,
                        enable_model_summary=False, logger=L.pytorch.loggers.CSVLogger(str(run_dir), name="logs"))
    last = run_dir / "checkpoints" / "last.ckpt"
    trainer.fit(module, datamodule=data, ckpt_path=str(last) if last.exists() else None)
    if trainer.global_rank != 0:  # under DDP only rank 0 goes on to write the model folder
        return None
    return Path(ckpt.best_model_path or last)


def best_state(path: Path, prefix: str = "model.") -> dict:
    """The network's state dict from a Lightning checkpoint this run wrote."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
